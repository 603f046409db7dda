// Package idempotency makes money-moving requests safe to retry.
//
// A record (scope, key) holds a fingerprint of the first request and the exact response
// it got. It is written in the same shard transaction as the effect, so the record
// exists exactly when the effect does: a crash between them is impossible, and no key
// is ever left stuck "in progress". While the first request's transaction is open it
// holds a transaction-scoped advisory lock on the key, which is how a concurrent
// duplicate learns that the key is in use (409) without waiting.
package idempotency

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency/internal/idempotencydb"
	"example.com/wallet/platform/pgdb"
)

// Header is the request header carrying the client's key (IETF draft
// "The Idempotency-Key HTTP Header Field").
const Header = "Idempotency-Key"

// Errors of the protocol, as API problems.
var (
	ErrInFlight = httpapi.NewProblem(http.StatusConflict, "idempotency_key_in_use", "a request with this Idempotency-Key is still being processed; retry later")
	ErrReused   = httpapi.NewProblem(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
)

// KeyFromRequest returns the request's Idempotency-Key, or a 400
// idempotency_key_missing problem when it is absent or not 1 to 255 printable ASCII
// characters.
func KeyFromRequest(r *http.Request) (string, error) {
	values := r.Header.Values(Header)
	if len(values) != 1 || !validKey(values[0]) {
		return "", httpapi.NewProblem(http.StatusBadRequest, "idempotency_key_missing",
			"this request moves money and needs exactly one %s header of 1 to 255 printable ASCII characters", Header)
	}
	return values[0], nil
}

func validKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// Fingerprint identifies a request: the operation and its canonical fields. Two
// requests with the same key and different fingerprints are a client error.
func Fingerprint(operation string, fields ...string) []byte {
	h := sha256.New()
	for _, f := range append([]string{operation}, fields...) {
		// Length-prefixed so ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return h.Sum(nil)
}

// Request is one keyed request.
type Request struct {
	Scope       string // the acting user, or the gateway for creates
	Key         string
	Fingerprint []byte
}

// Response is a stored response, replayed byte for byte.
type Response struct {
	Status int
	Body   []byte
}

// Store reads and writes records on a shard.
type Store struct {
	retention time.Duration
	q         *idempotencydb.Queries
}

// NewStore keeps records for retention (at least 24 hours in production).
func NewStore(retention time.Duration) *Store {
	return &Store{retention: retention, q: idempotencydb.New()}
}

// BeginTx claims req's key inside tx. It returns the stored response when the same
// request already completed, ErrReused when the key was used for another request,
// ErrInFlight when another transaction holds the key now, and (nil, nil) when the
// caller should perform the request and then call SaveTx in the same tx.
func (s *Store) BeginTx(ctx context.Context, tx pgx.Tx, req Request) (*Response, error) {
	lockKey := fmt.Sprintf("%d:%s:%s", len(req.Scope), req.Scope, req.Key)
	rec, err := s.q.ClaimKey(ctx, tx, idempotencydb.ClaimKeyParams{LockKey: lockKey, Scope: req.Scope, Key: req.Key})
	if err != nil {
		return nil, err
	}
	if rec.StatusCode == nil {
		if !rec.Locked {
			return nil, ErrInFlight
		}
		return nil, nil
	}
	if rec.ExpiresAt.Before(time.Now()) {
		// Past retention the key is free again; the janitor just has not reached it.
		locked, err := s.q.TryLockKey(ctx, tx, lockKey)
		if err != nil {
			return nil, err
		}
		if !locked {
			return nil, ErrInFlight
		}
		return nil, s.q.DeleteRecord(ctx, tx, idempotencydb.DeleteRecordParams{Scope: req.Scope, Key: req.Key})
	}
	if string(rec.Fingerprint) != string(req.Fingerprint) {
		return nil, ErrReused
	}
	return &Response{Status: int(*rec.StatusCode), Body: rec.Response}, nil
}

// SaveTx stores the response of a request claimed with BeginTx, in the same tx as its
// effect. When a record appeared meanwhile (the first request committed between
// BeginTx's read and its lock), it returns pgdb.ErrRetry: the caller's transaction
// rolls back its duplicate effect and pgdb.InTx runs it again, which then replays.
func (s *Store) SaveTx(ctx context.Context, tx pgx.Tx, req Request, resp Response) error {
	n, err := s.q.InsertRecord(ctx, tx, idempotencydb.InsertRecordParams{
		Scope:       req.Scope,
		Key:         req.Key,
		Fingerprint: req.Fingerprint,
		StatusCode:  int32(resp.Status),
		Response:    resp.Body,
		ExpiresAt:   time.Now().Add(s.retention),
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("idempotency key %q of %s was saved by a concurrent request: %w", req.Key, req.Scope, pgdb.ErrRetry)
	}
	return nil
}

// DeleteExpired removes up to batch expired records and reports how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, db idempotencydb.DBTX, batch int32) (int64, error) {
	return s.q.DeleteExpiredRecords(ctx, db, batch)
}
