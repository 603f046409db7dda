package ledger

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/idempotency"
)

// Deposits and withdrawals are applied with group commit (pgdb.Batcher): those that
// reach one shard together share one transaction, with one claim of their keys, one
// lock of their users' snapshots, one insert of their entries, one update of the
// snapshots and one insert of their keys' records. Every request keeps its own
// guarantees: its own idempotency record and response, its own entry in its user's
// hash chain, and its own refusal (an overdraft, an unknown user, a reused key), which
// leaves its batch-mates alone.

// movement is one deposit or withdrawal with its idempotency request.
type movement struct {
	m   Movement
	req idempotency.Request
}

// movementResult is one request's answer: the response to send, or its refusal.
type movementResult struct {
	resp idempotency.Response
	err  error
}

// applyMovements is the batcher's apply: it decides every request of the batch in
// tx and writes them together. Only what breaks the transaction is its error.
func (s *Service) applyMovements(ctx context.Context, tx pgx.Tx, batch []movement) ([]movementResult, error) {
	results := make([]movementResult, len(batch))
	reqs := make([]idempotency.Request, len(batch))
	for i, mv := range batch {
		reqs[i] = mv.req
	}
	claims, err := s.idem.BeginManyTx(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	var users []string
	for i, mv := range batch {
		switch {
		case claims[i].Err != nil:
			results[i].err = claims[i].Err
		case claims[i].Stored != nil:
			results[i].resp = *claims[i].Stored
		default:
			users = append(users, mv.m.UserID)
		}
	}
	if len(users) == 0 {
		return results, nil
	}
	postings, err := s.LockTx(ctx, tx, users...)
	if err != nil {
		return nil, err
	}
	var saved []idempotency.Request
	var responses []idempotency.Response
	for i, mv := range batch {
		if claims[i].Err != nil || claims[i].Stored != nil {
			continue
		}
		entries, err := postings.Post(EntryInput{
			UserID: mv.m.UserID, Kind: mv.m.Kind, Amount: mv.m.Amount, Metadata: mv.m.Metadata, IdempotencyKey: mv.m.Key, Gateway: mv.m.Gateway,
		})
		if err != nil {
			// A refusal writes nothing and stores nothing under the key: a retry is
			// judged afresh.
			results[i].err = err
			continue
		}
		body, err := json.Marshal(movementJSON{Entry: entryToJSON(entries[0], mv.m.Gateway), Balance: balanceToJSON(postings.Balance(mv.m.UserID))})
		if err != nil {
			return nil, err
		}
		results[i].resp = idempotency.Response{Status: http.StatusCreated, Body: body}
		saved = append(saved, mv.req)
		responses = append(responses, results[i].resp)
	}
	if err := s.FlushTx(ctx, tx, postings); err != nil {
		return nil, err
	}
	return results, s.idem.SaveManyTx(ctx, tx, saved, responses)
}
