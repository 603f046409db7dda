package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"example.com/wallet/platform/account"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/shard"
)

// Postings stages ledger entries and hold changes for a set of users whose snapshots
// it has locked, inside one transaction. Each posting is decided in memory as it is
// staged, with the ledger's one arithmetic and hash chain (chainHead.append); FlushTx writes
// every staged entry with one insert and every changed snapshot with one update. It
// is how batched paths (group commit of deposits and withdrawals, same-shard
// transfers) touch many users and entries in a handful of statements.
//
// A Postings belongs to one transaction and one goroutine.
type Postings struct {
	heads      map[string]chainHead
	changed    map[string]bool
	entries    []Entry
	newHolds   ledgerdb.InsertHoldsParams
	holdStatus map[string]string // transfer id -> status staged this batch
	now        time.Time
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
	p := &Postings{heads: make(map[string]chainHead, len(rows)), changed: map[string]bool{}, holdStatus: map[string]string{}, now: time.Now()}
	for _, r := range rows {
		p.heads[r.UserID] = chainHead{balance: r.Balance, frozen: r.Frozen, seq: r.LastSeq, hash: r.LastHash, status: r.Status}
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
// (shard.ErrUserNotFound, ErrInsufficientFunds, ErrBalanceLimit), nothing of this call is
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
			return nil, shard.ErrUserNotFound
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

// freeze stages amount more frozen for user, refusing it with ErrInsufficientFunds
// when the available balance is short.
func (p *Postings) freeze(user string, amount money.Amount) error {
	h, ok := p.heads[user]
	if !ok {
		return shard.ErrUserNotFound
	}
	if err := h.mayDebit(); err != nil {
		return err
	}
	available, _ := h.balance.Sub(h.frozen)
	if available.Cmp(amount) < 0 {
		return ErrInsufficientFunds
	}
	h.frozen = h.frozen.Add(amount)
	p.heads[user], p.changed[user] = h, true
	return nil
}

// Hold freezes amount of user's available balance for transferID, the TCC Try: the
// money stays in the balance but leaves available until the hold is captured (a
// debit) or released. ErrInsufficientFunds when available is short; nothing is
// staged then.
func (p *Postings) Hold(user, transferID string, amount money.Amount) error {
	if err := p.freeze(user, amount); err != nil {
		return err
	}
	p.newHolds.TransferIds = append(p.newHolds.TransferIds, transferID)
	p.newHolds.UserIds = append(p.newHolds.UserIds, user)
	p.newHolds.Amounts = append(p.newHolds.Amounts, amount.String())
	p.holdStatus[transferID] = HoldActive
	return nil
}

// Capture turns an active hold (locked with LockHoldsTx, its user's snapshot locked
// in p) into the transfer's debit entry. Capturing a captured hold changes nothing
// (false); a released hold cannot be captured.
func (p *Postings) Capture(h Hold) (bool, error) {
	switch p.status(h) {
	case HoldCaptured:
		return false, nil
	case HoldReleased:
		return false, fmt.Errorf("ledger: hold of %s was released and cannot be captured", h.TransferID)
	}
	if _, err := p.Post(EntryInput{UserID: h.UserID, Kind: KindTransferDebit, Amount: h.Amount, TransferID: h.TransferID, CaptureHold: true}); err != nil {
		return false, err
	}
	p.holdStatus[h.TransferID] = HoldCaptured
	return true, nil
}

// Release unfreezes an active hold, writing no entry: no money moved. Releasing a
// released hold changes nothing (false); a captured hold cannot be released.
func (p *Postings) Release(h Hold) (bool, error) {
	switch p.status(h) {
	case HoldReleased:
		return false, nil
	case HoldCaptured:
		return false, fmt.Errorf("ledger: hold of %s was captured and cannot be released", h.TransferID)
	}
	head, ok := p.heads[h.UserID]
	if !ok {
		return false, shard.ErrUserNotFound
	}
	frozen, ok := head.frozen.Sub(h.Amount)
	if !ok {
		return false, fmt.Errorf("ledger: releasing %s exceeds frozen %s of %s", h.Amount, head.frozen, h.UserID)
	}
	head.frozen = frozen
	p.heads[h.UserID], p.changed[h.UserID] = head, true
	p.holdStatus[h.TransferID] = HoldReleased
	return true, nil
}

// Status is user's account status with everything staged so far (account.StatusActive,
// account.StatusFrozen or account.StatusClosed); "" when user is not among the locked ones.
func (p *Postings) Status(user string) string { return p.heads[user].status }

// SetStatus stages user's account status, with the event entry that records it in the
// user's history (KindAccountFrozen, KindAccountUnfrozen or KindAccountClosed, amount
// 0). It reports false, staging nothing, when the account already has that status.
// Closing refuses with account.ErrNotEmpty unless the balance and frozen are zero (no
// money, no pending transfer out); a closed account refuses every change with
// account.ErrClosed.
func (p *Postings) SetStatus(user, status string) (bool, error) {
	h, ok := p.heads[user]
	if !ok {
		return false, shard.ErrUserNotFound
	}
	if h.status == status {
		return false, nil
	}
	kind := map[string]string{account.StatusFrozen: KindAccountFrozen, account.StatusActive: KindAccountUnfrozen, account.StatusClosed: KindAccountClosed}[status]
	if kind == "" {
		return false, fmt.Errorf("ledger: unknown account status %q", status)
	}
	if _, err := p.Post(EntryInput{UserID: user, Kind: kind, Amount: money.Amount{}}); err != nil {
		return false, err
	}
	return true, nil
}

func (p *Postings) status(h Hold) string {
	if st, ok := p.holdStatus[h.TransferID]; ok {
		return st
	}
	return h.Status
}

// FlushTx writes what was staged: every entry with one insert, every changed snapshot
// with one update, new holds and hold status changes with one statement each.
// Postings may go on staging afterwards and be flushed again.
func (s *Service) FlushTx(ctx context.Context, tx pgx.Tx, p *Postings) error {
	if err := s.insertEntriesTx(ctx, tx, p.entries); err != nil {
		return err
	}
	p.entries = p.entries[:0]
	if len(p.newHolds.TransferIds) > 0 {
		if err := s.q.InsertHolds(ctx, tx, p.newHolds); err != nil {
			return err
		}
	}
	var statuses ledgerdb.SetHoldStatusesParams
	for id, st := range p.holdStatus {
		if st != HoldActive {
			statuses.TransferIds = append(statuses.TransferIds, id)
			statuses.Statuses = append(statuses.Statuses, st)
		}
	}
	if len(statuses.TransferIds) > 0 {
		if err := s.q.SetHoldStatuses(ctx, tx, statuses); err != nil {
			return err
		}
	}
	p.newHolds = ledgerdb.InsertHoldsParams{}
	clear(p.holdStatus)
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
		u.Statuses = append(u.Statuses, h.status)
	}
	clear(p.changed)
	return s.q.UpdateBalances(ctx, tx, u)
}

// SetStatusTx sets userID's account status in the caller's transaction (Postings.
// SetStatus: the event entry and the snapshot's status together) and reports whether
// it changed. The accounts module calls it with the user's own row, so both say the
// same.
func (s *Service) SetStatusTx(ctx context.Context, tx pgx.Tx, userID, status string) (bool, error) {
	p, err := s.LockTx(ctx, tx, userID)
	if err != nil {
		return false, err
	}
	changed, err := p.SetStatus(userID, status)
	if err != nil || !changed {
		return false, err
	}
	return true, s.FlushTx(ctx, tx, p)
}
