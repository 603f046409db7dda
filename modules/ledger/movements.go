package ledger

import (
	"context"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
)

// Movement is a deposit or a withdrawal requested by a client.
type Movement struct {
	UserID   string
	Kind     string // KindDeposit or KindWithdrawal
	Currency string // "" for the user's default currency
	Amount   money.Amount
	Metadata map[string]string
	Key      string // the client's Idempotency-Key
	Gateway  string // the gateway that sent it: keys belong to a (gateway, user) pair
}

// Moved is what a movement did: the entry it appended and the user's balance after it.
type Moved struct {
	Entry   Entry
	Balance Balance
}

// Answer encodes a fresh movement's result as the response its key stores and its
// client gets. The HTTP edge supplies it, so the ledger knows no wire format; it runs
// inside the movement's transaction, and the record saved with the entry holds exactly
// the bytes that are sent.
type Answer func(Moved) (idempotency.Response, error)

// Movements applies the deposits and withdrawals clients request, each exactly once
// per idempotency key.
//
// Requests that reach one shard together share one transaction (group commit,
// pgdb.Batcher), with one claim of their keys, one lock of their users' snapshots, one
// insert of their entries, one update of the snapshots and one insert of their keys'
// records. Every request keeps its own guarantees: its own idempotency record and
// response, its own entry in its user's hash chain, and its own refusal (an overdraft,
// an unknown user, a reused key), which leaves its batch-mates alone.
type Movements struct {
	ledger   *Service
	idem     *idempotency.Store
	batchers map[string]*pgdb.Batcher[movement, movementResult]
}

// NewMovements builds the keyed deposits and withdrawals over ledger, with their
// records in idem.
func NewMovements(ledger *Service, idem *idempotency.Store) *Movements {
	m := &Movements{ledger: ledger, idem: idem, batchers: map[string]*pgdb.Batcher[movement, movementResult]{}}
	for _, sh := range ledger.shards.All() {
		m.batchers[sh.Name] = pgdb.NewBatcher(sh.Pool, m.apply)
	}
	return m
}

// Move applies a deposit or withdrawal exactly once per idempotency key and returns its
// response: answer's encoding of what it did, or the stored response when the key was
// already used for this same request. The entry, the snapshot and the idempotency
// record commit together. A refusal (shard.ErrUserNotFound, ErrInsufficientFunds,
// ErrBalanceLimit, idempotency.ErrReused, idempotency.ErrInFlight) writes nothing. ctx
// is read for its trace alone (the batch's span joins it): once queued, a request is
// applied or refused, never abandoned halfway.
func (m *Movements) Move(ctx context.Context, mv Movement, answer Answer) (idempotency.Response, error) {
	res, err := m.batchers[m.ledger.shards.For(mv.UserID).Name].DoTraced(ctx, movement{m: mv, answer: answer, req: idempotency.Request{
		Gateway:     mv.Gateway,
		Scope:       mv.UserID,
		Key:         mv.Key,
		Fingerprint: fingerprint(mv),
	}})
	if err == nil {
		err = res.err
	}
	return res.resp, pgdb.InterpretError(err, nil)
}

// fingerprint identifies a movement for its key. A currency counts only when the
// request names one: the requests of before currencies, and today's that name none,
// keep the fingerprint they always had; naming a currency, even the default, is
// another request.
func fingerprint(mv Movement) []byte {
	fields := []string{mv.Amount.String(), string(metadata.Canonical(mv.Metadata))}
	if mv.Currency != "" {
		fields = append(fields, mv.Currency)
	}
	return idempotency.Fingerprint(mv.Kind, fields...)
}

// movement is one deposit or withdrawal with its idempotency request.
type movement struct {
	m      Movement
	answer Answer
	req    idempotency.Request
}

// movementResult is one request's answer: the response to send, or its refusal.
type movementResult struct {
	resp idempotency.Response
	err  error
}

// apply is the batcher's apply: it decides every request of the batch in tx and
// writes them together. Only what breaks the transaction is its error.
func (m *Movements) apply(ctx context.Context, tx pgx.Tx, batch []movement) ([]movementResult, error) {
	results := make([]movementResult, len(batch))
	reqs := make([]idempotency.Request, len(batch))
	for i, mv := range batch {
		reqs[i] = mv.req
	}
	claims, err := m.idem.BeginManyTx(ctx, tx, reqs)
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
	postings, err := m.ledger.LockTx(ctx, tx, users...)
	if err != nil {
		return nil, err
	}
	var saved []idempotency.Request
	var responses []idempotency.Response
	var announced []Entry
	for i, mv := range batch {
		if claims[i].Err != nil || claims[i].Stored != nil {
			continue
		}
		entries, err := postings.Post(EntryInput{
			UserID: mv.m.UserID, Kind: mv.m.Kind, Currency: mv.m.Currency, Amount: mv.m.Amount, Metadata: mv.m.Metadata, IdempotencyKey: mv.m.Key, Gateway: mv.m.Gateway,
		})
		if err != nil {
			// A refusal writes nothing and stores nothing under the key: a retry is
			// judged afresh.
			results[i].err = err
			continue
		}
		if results[i].resp, err = mv.answer(Moved{Entry: entries[0], Balance: postings.Balance(mv.m.UserID, entries[0].Currency)}); err != nil {
			return nil, err
		}
		saved = append(saved, mv.req)
		responses = append(responses, results[i].resp)
		announced = append(announced, entries[0])
	}
	if err := m.ledger.FlushTx(ctx, tx, postings); err != nil {
		return nil, err
	}
	if err := m.ledger.announceTx(ctx, tx, announced); err != nil {
		return nil, err
	}
	return results, m.idem.SaveManyTx(ctx, tx, saved, responses)
}
