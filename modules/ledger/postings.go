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
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// Postings stages ledger entries and hold changes for a set of users whose wallets it
// has locked, inside one transaction. Each posting is decided in memory as it is
// staged, with the ledger's one arithmetic and hash chain (walletHead.append);
// FlushTx writes every staged entry with one insert and every changed wallet and
// balance with one statement. It is how batched paths (group commit of deposits and
// withdrawals, same-shard transfers) touch many users and entries in a handful of
// statements.
//
// A Postings belongs to one transaction and one goroutine.
type Postings struct {
	heads      map[string]walletHead
	pots       map[pot]amounts // every balance of the locked users; absent is zero
	changed    map[string]bool // wallets whose account status changed
	changedPot map[pot]bool
	entries    []Entry
	newHolds   ledgerdb.InsertHoldsParams
	holdStatus map[string]string // transfer id -> status staged this batch
	now        time.Time
}

// pot names one user's balance in one currency.
type pot struct{ user, currency string }

// LockTx locks the wallets of users in user id order (the order every transaction
// that locks several takes them in, so none deadlocks another), reads their balances
// in every currency, and returns postings over them. A user without a wallet on this
// shard is simply absent: see Has.
func (s *Service) LockTx(ctx context.Context, tx pgx.Tx, users ...string) (*Postings, error) {
	ids := slices.Clone(users)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := s.q.LockWallets(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	// Entries are stamped once the locks are held, so a user's creation times rise
	// with its sequence numbers (SeqBefore's binary search relies on it).
	p := &Postings{heads: make(map[string]walletHead, len(rows)), pots: map[pot]amounts{}, changed: map[string]bool{},
		changedPot: map[pot]bool{}, holdStatus: map[string]string{}, now: time.Now()}
	var locked []string
	for _, r := range rows {
		p.heads[r.UserID] = walletHead{defaultCurrency: r.DefaultCurrency, status: r.Status}
		locked = append(locked, r.UserID)
	}
	if len(locked) == 0 {
		return p, nil
	}
	// Read only once the locks are held: the balances and the chains' heads are then
	// the last committed ones, and no one else writes them until this transaction ends.
	state, err := s.q.StateOf(ctx, tx, locked)
	if err != nil {
		return nil, err
	}
	for _, r := range state {
		if r.Currency == "" {
			h := p.heads[r.UserID]
			h.seq, h.hash = r.Seq, r.Hash
			p.heads[r.UserID] = h
			continue
		}
		p.pots[pot{r.UserID, r.Currency}] = amounts{balance: r.Balance, frozen: r.Frozen}
	}
	return p, nil
}

// Has reports whether user has a wallet among the locked ones.
func (p *Postings) Has(user string) bool {
	_, ok := p.heads[user]
	return ok
}

// DefaultCurrency is user's default currency ("" when user is not among the locked
// ones).
func (p *Postings) DefaultCurrency(user string) string { return p.heads[user].defaultCurrency }

// currencyOf is the currency a request means: code, or the user's default when code
// is "".
func (p *Postings) currencyOf(user, code string) string {
	if code == "" {
		return p.heads[user].defaultCurrency
	}
	return code
}

// Balance is user's balance in currency ("" for the user's default) with everything
// staged so far.
func (p *Postings) Balance(user, currency string) Balance {
	k := pot{user, p.currencyOf(user, currency)}
	return toBalance(user, k.currency, p.pots[k], p.heads[user].seq)
}

// empty reports whether every balance of user is zero with nothing frozen, as staged
// so far (overlaid with staged, a call's own changes).
func (p *Postings) empty(user string, staged map[pot]amounts) bool {
	zero := func(a amounts) bool { return a.balance.IsZero() && a.frozen.IsZero() }
	for k, a := range p.pots {
		if st, ok := staged[k]; ok {
			a = st
		}
		if k.user == user && !zero(a) {
			return false
		}
	}
	for k, a := range staged {
		if k.user == user && !zero(a) {
			return false
		}
	}
	return true
}

// Post stages entries all together or not at all: if any is refused
// (shard.ErrUserNotFound, ErrInsufficientFunds, ErrBalanceLimit, account errors),
// nothing of this call is staged and the refusal is returned. Entries are decided in
// order, so a debit may spend a credit staged before it.
func (p *Postings) Post(ins ...EntryInput) ([]Entry, error) {
	stagedHeads := map[string]walletHead{}
	stagedPots := map[pot]amounts{}
	out := make([]Entry, 0, len(ins))
	for _, in := range ins {
		h, ok := stagedHeads[in.UserID]
		if !ok {
			if h, ok = p.heads[in.UserID]; !ok {
				return nil, shard.ErrUserNotFound
			}
		}
		if in.Currency == "" || isAccountEvent(in.Kind) {
			in.Currency = h.defaultCurrency
		}
		k := pot{in.UserID, in.Currency}
		a, ok := stagedPots[k]
		if !ok {
			a = p.pots[k]
		}
		e, next, after, err := h.append(in, a, func() bool { return p.empty(in.UserID, stagedPots) }, p.now)
		if err != nil {
			return nil, err
		}
		stagedHeads[in.UserID], stagedPots[k] = next, after
		out = append(out, e)
	}
	for user, h := range stagedHeads {
		if h.status != p.heads[user].status {
			p.changed[user] = true
		}
		p.heads[user] = h
	}
	for k, a := range stagedPots {
		p.pots[k], p.changedPot[k] = a, true
	}
	p.entries = append(p.entries, out...)
	return out, nil
}

func isAccountEvent(kind string) bool {
	return kind == KindAccountFrozen || kind == KindAccountUnfrozen || kind == KindAccountClosed
}

// freeze stages amount more frozen in user's balance in currency, refusing it with
// ErrInsufficientFunds when the available balance is short.
func (p *Postings) freeze(user, currency string, amount money.Amount) error {
	h, ok := p.heads[user]
	if !ok {
		return shard.ErrUserNotFound
	}
	if err := h.mayDebit(); err != nil {
		return err
	}
	k := pot{user, currency}
	a := p.pots[k]
	available, _ := a.balance.Sub(a.frozen)
	if available.Cmp(amount) < 0 {
		return ErrInsufficientFunds
	}
	a.frozen = a.frozen.Add(amount)
	p.pots[k], p.changedPot[k] = a, true
	return nil
}

// Hold freezes amount of user's available balance in currency ("" for the user's
// default) for transferID, the TCC Try: the money stays in the balance but leaves
// available until the hold is captured (a debit) or released. ErrInsufficientFunds
// when available is short; nothing is staged then.
func (p *Postings) Hold(user, transferID, currency string, amount money.Amount) error {
	currency = p.currencyOf(user, currency)
	if err := p.freeze(user, currency, amount); err != nil {
		return err
	}
	p.newHolds.TransferIds = append(p.newHolds.TransferIds, transferID)
	p.newHolds.UserIds = append(p.newHolds.UserIds, user)
	p.newHolds.Currencies = append(p.newHolds.Currencies, currency)
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
	if _, err := p.Post(EntryInput{UserID: h.UserID, Kind: KindTransferDebit, Currency: h.Currency, Amount: h.Amount, TransferID: h.TransferID, CaptureHold: true}); err != nil {
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
	if !p.Has(h.UserID) {
		return false, shard.ErrUserNotFound
	}
	k := pot{h.UserID, h.Currency}
	a := p.pots[k]
	frozen, ok := a.frozen.Sub(h.Amount)
	if !ok {
		return false, fmt.Errorf("ledger: releasing %s %s exceeds frozen %s of %s", h.Amount, h.Currency, a.frozen, h.UserID)
	}
	a.frozen = frozen
	p.pots[k], p.changedPot[k] = a, true
	p.holdStatus[h.TransferID] = HoldReleased
	return true, nil
}

// Status is user's account status with everything staged so far (account.StatusActive,
// account.StatusFrozen or account.StatusClosed); "" when user is not among the locked ones.
func (p *Postings) Status(user string) string { return p.heads[user].status }

// SetStatus stages user's account status, with the event entry that records it in the
// user's history (KindAccountFrozen, KindAccountUnfrozen or KindAccountClosed, amount
// 0, in the default currency). It reports false, staging nothing, when the account
// already has that status. Closing refuses with account.ErrNotEmpty unless every
// balance, in every currency, is zero with nothing frozen (no money, no pending
// transfer out); a closed account refuses every change with account.ErrClosed.
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

// FlushTx writes what was staged: every entry with one insert, every changed balance
// with one statement, new holds, hold status changes and account status changes with
// one statement each. The head of each chain is its newest entry: nothing else to
// write.
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
	if len(p.changed) > 0 {
		var st ledgerdb.SetWalletStatusesParams
		for user := range p.changed {
			st.UserIds = append(st.UserIds, user)
			st.Statuses = append(st.Statuses, p.heads[user].status)
		}
		clear(p.changed)
		if err := s.q.SetWalletStatuses(ctx, tx, st); err != nil {
			return err
		}
	}
	if len(p.changedPot) == 0 {
		return nil
	}
	var u ledgerdb.SaveBalancesParams
	for k := range p.changedPot {
		a := p.pots[k]
		u.UserIds = append(u.UserIds, k.user)
		u.Currencies = append(u.Currencies, k.currency)
		u.Balances = append(u.Balances, a.balance.String())
		u.Frozen = append(u.Frozen, a.frozen.String())
	}
	clear(p.changedPot)
	return s.q.SaveBalances(ctx, tx, u)
}

// SetStatusTx sets userID's account status in the caller's transaction (Postings.
// SetStatus: the event entry and the wallet's status together) and returns the account
// as it then is; setting the status it has changes nothing.
func (s *Service) SetStatusTx(ctx context.Context, tx pgx.Tx, userID, status string) (account.State, error) {
	p, err := s.LockTx(ctx, tx, userID)
	if err != nil {
		return account.State{}, err
	}
	changed, err := p.SetStatus(userID, status)
	if err != nil {
		return account.State{}, err
	}
	h := p.heads[userID]
	state := account.State{Status: h.status, DefaultCurrency: h.defaultCurrency}
	if !changed {
		return state, nil
	}
	event := p.entries[len(p.entries)-1]
	if err := s.FlushTx(ctx, tx, p); err != nil {
		return state, err
	}
	return state, s.announceTx(ctx, tx, []Entry{event})
}

// Account reads userID's account status and default currency (shard.ErrUserNotFound
// when it has no wallet).
func (s *Service) Account(ctx context.Context, userID string) (account.State, error) {
	w, err := s.q.GetWallet(ctx, s.shards.For(userID).Pool, userID)
	if err != nil {
		return account.State{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	return account.State{Status: w.Status, DefaultCurrency: w.DefaultCurrency}, nil
}
