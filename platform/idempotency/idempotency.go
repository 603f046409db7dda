// Package idempotency makes money-moving requests safe to retry.
//
// A record (gateway, scope, key) holds a fingerprint of the first request and the exact response
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
	"github.com/jackc/pgx/v5/pgxpool"

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

// Request is one keyed request. A key belongs to the gateway that sent it and the user
// it acts for: two gateways using the same key for the same user make two requests.
type Request struct {
	Gateway     string // the authenticated gateway that sent the request
	Scope       string // the user the request acts for
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
	claims, err := s.BeginManyTx(ctx, tx, []Request{req})
	if err != nil {
		return nil, err
	}
	return claims[0].Stored, claims[0].Err
}

// Claim is BeginManyTx's answer for one request: Stored to replay, Err (ErrReused or
// ErrInFlight) to refuse, or neither: perform the request and save its response.
type Claim struct {
	Stored *Response
	Err    error
}

// BeginManyTx claims several keys in one statement, as BeginTx claims one; claim i
// answers reqs[i]. A key that appears twice in reqs is in flight for its second
// request (the transaction's own lock would not stop it).
func (s *Store) BeginManyTx(ctx context.Context, tx pgx.Tx, reqs []Request) ([]Claim, error) {
	p := idempotencydb.ClaimKeysParams{}
	for _, r := range reqs {
		p.Scopes = append(p.Scopes, r.Scope)
		p.Keys = append(p.Keys, r.Key)
		p.Gateways = append(p.Gateways, r.Gateway)
		p.LockKeys = append(p.LockKeys, lockKey(r))
	}
	rows, err := s.q.ClaimKeys(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	if len(rows) != len(reqs) {
		return nil, fmt.Errorf("idempotency: %d answers for %d keys", len(rows), len(reqs))
	}
	claims := make([]Claim, len(reqs))
	performs := make(map[[3]string]bool, len(reqs))
	for i, rec := range rows {
		req := reqs[i]
		switch {
		case rec.StatusCode == nil && !rec.Locked:
			claims[i].Err = ErrInFlight
		case rec.StatusCode == nil:
		case rec.ExpiresAt.Before(time.Now()):
			// Past retention the key is free again; the janitor just has not reached it.
			claims[i].Err, err = s.reclaimExpired(ctx, tx, req)
			if err != nil {
				return nil, err
			}
		case string(rec.Fingerprint) != string(req.Fingerprint):
			claims[i].Err = ErrReused
		default:
			claims[i].Stored = &Response{Status: int(*rec.StatusCode), Body: rec.Response}
		}
		if claims[i].Stored == nil && claims[i].Err == nil {
			// The transaction's own advisory lock does not stop a second request with
			// the key in the same batch: the first one performs, the second is in flight.
			if id := [3]string{req.Gateway, req.Scope, req.Key}; performs[id] {
				claims[i].Err = ErrInFlight
			} else {
				performs[id] = true
			}
		}
	}
	return claims, nil
}

// reclaimExpired frees an expired key for req: ErrInFlight if another request holds
// it, nil once its old record is gone.
func (s *Store) reclaimExpired(ctx context.Context, tx pgx.Tx, req Request) (claimErr, err error) {
	locked, err := s.q.TryLockKey(ctx, tx, lockKey(req))
	if err != nil {
		return nil, err
	}
	if !locked {
		return ErrInFlight, nil
	}
	return nil, s.q.DeleteRecord(ctx, tx, idempotencydb.DeleteRecordParams{Scope: req.Scope, Key: req.Key, Gateway: req.Gateway})
}

func lockKey(r Request) string {
	return fmt.Sprintf("%d:%s:%d:%s:%s", len(r.Gateway), r.Gateway, len(r.Scope), r.Scope, r.Key)
}

// recordsKey is the primary key of idempotency records. A request that commits
// between a duplicate's read of the key and the duplicate's lock leaves the duplicate
// to perform the effect a second time; saving its record then violates this key, and
// pgdb.InTx rolls the duplicate back and runs it again, as the replay it is.
const recordsKey = "idempotency_records_pkey"

func init() { pgdb.RetryOnConflict(recordsKey) }

// SaveTx stores the response of a request claimed with BeginTx, in the same tx as its
// effect. If a record for the key appeared meanwhile, the transaction fails to commit
// and pgdb.InTx runs it again (see recordsKey).
func (s *Store) SaveTx(ctx context.Context, tx pgx.Tx, req Request, resp Response) error {
	return s.SaveManyTx(ctx, tx, []Request{req}, []Response{resp})
}

// SaveManyTx stores resps[i] as the response of reqs[i], all in one statement, with
// SaveTx's guarantee for each.
func (s *Store) SaveManyTx(ctx context.Context, tx pgx.Tx, reqs []Request, resps []Response) error {
	if len(reqs) == 0 {
		return nil
	}
	p := idempotencydb.InsertRecordsParams{ExpiresAt: time.Now().Add(s.retention)}
	for i, r := range reqs {
		p.Scopes = append(p.Scopes, r.Scope)
		p.Keys = append(p.Keys, r.Key)
		p.Gateways = append(p.Gateways, r.Gateway)
		p.Fingerprints = append(p.Fingerprints, r.Fingerprint)
		p.StatusCodes = append(p.StatusCodes, int32(resps[i].Status))
		p.Responses = append(p.Responses, resps[i].Body)
	}
	return s.q.InsertRecords(ctx, tx, p)
}

// DeleteExpired removes up to batch expired records and reports how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, pool *pgxpool.Pool, batch int32) (int64, error) {
	return s.q.DeleteExpiredRecords(ctx, pool, batch)
}
