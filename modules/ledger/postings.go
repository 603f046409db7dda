package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/money"
)

// Postings stages ledger entries and hold changes for a set of users whose snapshots
// it has locked, inside one transaction. Each posting is decided in memory as it is
// staged, with the same arithmetic and hash chain as AppendTx; FlushTx then writes
// every staged entry with one insert and every changed snapshot with one update. It
// is how batched paths (group commit of deposits and withdrawals, same-shard
// transfers) touch many users and entries in a handful of statements.
//
// A Postings belongs to one transaction and one goroutine.
type Postings struct {
	heads   map[string]chainHead
	changed map[string]bool
	entries []Entry
	now     time.Time
}

// LockTx locks the snapshots of users in user id order (the order every transaction
// that locks several takes them in, so none deadlocks another) and returns postings
// over them. A user without a wallet on this shard is simply absent: see Has.
func (s *Service) LockTx(ctx context.Context, tx pgx.Tx, users ...string) (*Postings, error) {
	ids := slices.Clone(users)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := s.q.LockBalances(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	p := &Postings{heads: make(map[string]chainHead, len(rows)), changed: map[string]bool{}, now: time.Now()}
	for _, r := range rows {
		p.heads[r.UserID] = chainHead{balance: r.Balance, frozen: r.Frozen, seq: r.LastSeq, hash: r.LastHash}
	}
	return p, nil
}

// Has reports whether user has a wallet among the locked ones.
func (p *Postings) Has(user string) bool {
	_, ok := p.heads[user]
	return ok
}

// Balance is user's balance with everything staged so far.
func (p *Postings) Balance(user string) Balance { return p.heads[user].toBalance(user) }

// Post stages entries all together or not at all: if any is refused
// (ErrUserNotFound, ErrInsufficientFunds, ErrBalanceLimit), nothing of this call is
// staged and the refusal is returned. Entries are decided in order, so a debit may
// spend a credit staged before it.
func (p *Postings) Post(ins ...EntryInput) ([]Entry, error) {
	staged := map[string]chainHead{}
	head := func(user string) (chainHead, bool) {
		if h, ok := staged[user]; ok {
			return h, true
		}
		h, ok := p.heads[user]
		return h, ok
	}
	out := make([]Entry, 0, len(ins))
	for _, in := range ins {
		h, ok := head(in.UserID)
		if !ok {
			return nil, ErrUserNotFound
		}
		e, next, err := h.append(in, p.now)
		if err != nil {
			return nil, err
		}
		staged[in.UserID] = next
		out = append(out, e)
	}
	for user, h := range staged {
		p.heads[user], p.changed[user] = h, true
	}
	p.entries = append(p.entries, out...)
	return out, nil
}

// Freeze stages amount more frozen for user (a hold being taken), refusing it with
// ErrInsufficientFunds when the available balance is short.
func (p *Postings) Freeze(user string, amount money.Amount) error {
	h, ok := p.heads[user]
	if !ok {
		return ErrUserNotFound
	}
	available, _ := h.balance.Sub(h.frozen)
	if available.Cmp(amount) < 0 {
		return ErrInsufficientFunds
	}
	h.frozen = h.frozen.Add(amount)
	p.heads[user], p.changed[user] = h, true
	return nil
}

// Unfreeze stages amount less frozen for user (a hold being released).
func (p *Postings) Unfreeze(user string, amount money.Amount) error {
	h, ok := p.heads[user]
	if !ok {
		return ErrUserNotFound
	}
	frozen, ok := h.frozen.Sub(amount)
	if !ok {
		return fmt.Errorf("ledger: releasing %s exceeds frozen %s of %s", amount, h.frozen, user)
	}
	h.frozen = frozen
	p.heads[user], p.changed[user] = h, true
	return nil
}

// FlushTx writes what was staged: every entry with one insert, every changed snapshot
// with one update. Postings may go on staging afterwards and be flushed again.
func (s *Service) FlushTx(ctx context.Context, tx pgx.Tx, p *Postings) error {
	if err := s.insertEntriesTx(ctx, tx, p.entries); err != nil {
		return err
	}
	p.entries = p.entries[:0]
	if len(p.changed) == 0 {
		return nil
	}
	var u ledgerdb.UpdateBalancesParams
	for user := range p.changed {
		h := p.heads[user]
		u.UserIds = append(u.UserIds, user)
		u.Balances = append(u.Balances, h.balance.String())
		u.Frozen = append(u.Frozen, h.frozen.String())
		u.LastSeqs = append(u.LastSeqs, h.seq)
		u.LastHashes = append(u.LastHashes, h.hash)
	}
	clear(p.changed)
	return s.q.UpdateBalances(ctx, tx, u)
}
