package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"example.com/wallet/platform/account"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// Entry kinds. The account kinds are events, not money: their amount is 0 and they
// change no balance, but they are links of the user's hash chain like any entry.
const (
	KindDeposit         = "deposit"
	KindWithdrawal      = "withdrawal"
	KindTransferDebit   = "transfer_debit"
	KindTransferCredit  = "transfer_credit"
	KindAccountFrozen   = "account_frozen"
	KindAccountUnfrozen = "account_unfrozen"
	KindAccountClosed   = "account_closed"
)

// Entry is one immutable line of a user's ledger. A user's entries, of every
// currency, form one sequence and one hash chain.
type Entry struct {
	UserID         string
	Seq            int64
	Kind           string
	Currency       string
	Amount         money.Amount
	BalanceAfter   money.Amount // the user's balance in Currency after the entry
	TransferID     string
	IdempotencyKey string
	// Gateway sent the request that made the entry (deposits and withdrawals); its
	// IdempotencyKey is that gateway's and is shown to it alone.
	Gateway   string
	Metadata  map[string]string
	CreatedAt time.Time
	PrevHash  []byte
	Hash      []byte
	// HashVersion says which fields Hash covers: 1 for entries written before
	// balances per currency (not the currency), 2 since (see entryHash).
	HashVersion int
	// Seal is the entry's seal (see sealOf); nil for entries written before the
	// ledger sealed them.
	Seal []byte
}

// Balance is a user's snapshot in one currency. Available = Balance - Frozen and is
// never negative. LedgerSeq is the user's newest entry, of any currency.
type Balance struct {
	UserID    string
	Currency  string
	Balance   money.Amount
	Frozen    money.Amount
	Available money.Amount
	LedgerSeq int64
}

// Wallet is a user's every balance, with what the ledger keeps of the account: its
// default currency (what requests naming no currency mean), its status and its
// newest entry.
type Wallet struct {
	UserID          string
	DefaultCurrency string
	Status          string // account.StatusActive, account.StatusFrozen or account.StatusClosed
	LedgerSeq       int64
	// Balances, by currency; the default currency is always among them, at zero
	// before the user first holds it.
	Balances []Balance
}

// Service is the ledger of one region: it reaches every shard of the region. It holds
// no request state: reads, the money operations other modules run in their own
// transactions (LockTx, FlushTx, LockHoldsTx, OpenTx), verification and repair.
// Requests from clients, with their idempotency keys, go through Movements.
type Service struct {
	shards *pgdb.Shards
	// sealKey seals every entry written and checks seals in Verify; nil writes no
	// seals and checks none.
	sealKey []byte
	q       *ledgerdb.Queries
}

// NewService builds the ledger over the region's shards. sealKey (config's
// LedgerSealKey) seals every entry written and is checked by Verify.
func NewService(shards *pgdb.Shards, sealKey []byte) *Service {
	return &Service{shards: shards, sealKey: sealKey, q: ledgerdb.New()}
}

// OpenTx creates the user's wallet in the caller's transaction (the one that creates
// the user), so every existing user has exactly one; defaultCurrency is the region's
// default, which the user keeps wherever its money later goes.
func (s *Service) OpenTx(ctx context.Context, tx pgx.Tx, userID, defaultCurrency string) error {
	return s.q.OpenWallet(ctx, tx, ledgerdb.OpenWalletParams{UserID: userID, DefaultCurrency: defaultCurrency})
}

// Balance reads the user's snapshot in currency ("" for the user's default): one row,
// whatever the length of the history. A currency the user never held is zero.
func (s *Service) Balance(ctx context.Context, userID, currency string) (Balance, error) {
	row, err := s.q.ReadBalance(ctx, s.shards.For(userID).Pool, ledgerdb.ReadBalanceParams{UserID: userID, Currency: currency})
	if err != nil {
		return Balance{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	return toBalance(userID, row.Currency, amounts{row.Balance, row.Frozen}, row.LastSeq), nil
}

// Wallet reads the user's wallet and every balance, in one statement.
func (s *Service) Wallet(ctx context.Context, userID string) (Wallet, error) {
	rows, err := s.q.ReadBalances(ctx, s.shards.For(userID).Pool, userID)
	if err == nil && len(rows) == 0 {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return Wallet{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	w := Wallet{UserID: userID, DefaultCurrency: rows[0].DefaultCurrency, Status: rows[0].Status, LedgerSeq: rows[0].LastSeq}
	held := false
	for _, r := range rows {
		if r.Currency == "" {
			continue
		}
		held = held || r.Currency == w.DefaultCurrency
		w.Balances = append(w.Balances, toBalance(userID, r.Currency, amounts{r.Balance, r.Frozen}, r.LastSeq))
	}
	if !held {
		w.Balances = append(w.Balances, toBalance(userID, w.DefaultCurrency, amounts{}, w.LedgerSeq))
		slices.SortFunc(w.Balances, func(a, b Balance) int { return strings.Compare(a.Currency, b.Currency) })
	}
	return w, nil
}

func toBalance(userID, currency string, a amounts, seq int64) Balance {
	available, ok := a.balance.Sub(a.frozen)
	if !ok {
		// The schema's CHECK (frozen <= balance) makes this unreachable.
		panic(fmt.Sprintf("ledger: user %s has frozen %s above balance %s %s", userID, a.frozen, a.balance, currency))
	}
	return Balance{UserID: userID, Currency: currency, Balance: a.balance, Frozen: a.frozen, Available: available, LedgerSeq: seq}
}

// EntryInput is an entry to append; the ledger fills in sequence, balance and hashes.
type EntryInput struct {
	UserID string
	Kind   string
	// Currency of the entry; "" is the user's default currency. Account events are
	// recorded in the default currency whatever this says.
	Currency       string
	Amount         money.Amount
	TransferID     string
	IdempotencyKey string
	Gateway        string
	Metadata       map[string]string
	// CaptureHold, for a transfer debit, also lowers frozen by Amount: the debit
	// consumes the hold taken when the transfer was tried.
	CaptureHold bool
}

// walletHead is the end of one user's ledger: its newest entry's sequence number and
// hash (read from that entry), and the account's status (the wallet row's).
type walletHead struct {
	defaultCurrency string
	status          string // account.StatusActive, account.StatusFrozen or account.StatusClosed
	seq             int64
	hash            []byte
}

// amounts are one user's balance and frozen in one currency, as its balances row
// records them (zero before the user first holds the currency).
type amounts struct {
	balance, frozen money.Amount
}

// mayDebit refuses a debit that is not the capture of an earlier hold: a frozen account
// takes no new debit, a closed one nothing at all.
func (h walletHead) mayDebit() error {
	switch h.status {
	case account.StatusFrozen:
		return account.ErrFrozen
	case account.StatusClosed:
		return account.ErrClosed
	}
	return nil
}

// append computes the entry in that would follow h, in a currency whose amounts are
// a, and the head and amounts after it, without touching the database: the one place
// where the ledger's arithmetic lives. empty reports whether every balance of the
// user is zero with nothing frozen, which only a close asks. Refusals
// (ErrInsufficientFunds, ErrBalanceLimit, account errors) leave h and a as they were,
// so a caller appending several entries can refuse one and go on with the next.
func (h walletHead) append(in EntryInput, a amounts, empty func() bool, now time.Time) (Entry, walletHead, amounts, error) {
	balance, frozen, status := a.balance, a.frozen, h.status
	if status == account.StatusClosed {
		return Entry{}, h, a, account.ErrClosed
	}
	switch in.Kind {
	case KindAccountFrozen, KindAccountUnfrozen:
		status = accountStatuses[in.Kind]
	case KindAccountClosed:
		if !empty() {
			return Entry{}, h, a, account.ErrNotEmpty
		}
		status = account.StatusClosed
	case KindDeposit, KindTransferCredit:
		balance = balance.Add(in.Amount)
		if !balance.Storable() {
			// The schema's NUMERIC(78,0) would refuse it too, but only by aborting the
			// whole transaction; deciding here lets the entry's batch-mates go on.
			return Entry{}, h, a, ErrBalanceLimit
		}
	case KindWithdrawal, KindTransferDebit:
		if err := h.mayDebit(); err != nil && !in.CaptureHold {
			// A frozen account's earlier holds still complete: the money left
			// available when they were taken.
			return Entry{}, h, a, err
		}
		spendable, _ := balance.Sub(frozen)
		if in.CaptureHold {
			var ok bool
			if frozen, ok = frozen.Sub(in.Amount); !ok {
				return Entry{}, h, a, fmt.Errorf("ledger: capture of %s %s exceeds frozen %s for %s", in.Amount, in.Currency, a.frozen, in.UserID)
			}
			spendable = spendable.Add(in.Amount)
		}
		if spendable.Cmp(in.Amount) < 0 {
			return Entry{}, h, a, ErrInsufficientFunds
		}
		balance, _ = balance.Sub(in.Amount)
	default:
		return Entry{}, h, a, fmt.Errorf("ledger: unknown entry kind %q", in.Kind)
	}
	e := Entry{
		UserID:         in.UserID,
		Seq:            h.seq + 1,
		Kind:           in.Kind,
		Currency:       in.Currency,
		Amount:         in.Amount,
		BalanceAfter:   balance,
		TransferID:     in.TransferID,
		IdempotencyKey: in.IdempotencyKey,
		Gateway:        in.Gateway,
		Metadata:       in.Metadata,
		// PostgreSQL keeps microseconds; hashing the stored value keeps verify exact.
		CreatedAt:   now.UTC().Truncate(time.Microsecond),
		PrevHash:    h.hash,
		HashVersion: currentHashVersion,
	}
	e.Hash = entryHash(e.PrevHash, e)
	next := h
	next.seq, next.hash, next.status = e.Seq, e.Hash, status
	return e, next, amounts{balance: balance, frozen: frozen}, nil
}

// insertEntriesTx writes entries (of one user or several, each user's in sequence
// order) with one statement.
func (s *Service) insertEntriesTx(ctx context.Context, tx pgx.Tx, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	var p ledgerdb.InsertEntriesParams
	for _, e := range entries {
		p.UserIds = append(p.UserIds, e.UserID)
		p.Seqs = append(p.Seqs, e.Seq)
		p.Kinds = append(p.Kinds, e.Kind)
		p.Currencies = append(p.Currencies, e.Currency)
		p.Amounts = append(p.Amounts, e.Amount.String())
		p.BalancesAfter = append(p.BalancesAfter, e.BalanceAfter.String())
		p.TransferIds = append(p.TransferIds, e.TransferID)
		p.IdempotencyKeys = append(p.IdempotencyKeys, e.IdempotencyKey)
		p.Gateways = append(p.Gateways, e.Gateway)
		p.Metadata = append(p.Metadata, string(metadata.Canonical(e.Metadata)))
		p.CreatedAts = append(p.CreatedAts, e.CreatedAt)
		p.PrevHashes = append(p.PrevHashes, e.PrevHash)
		p.Hashes = append(p.Hashes, e.Hash)
		p.Seals = append(p.Seals, sealOf(s.sealKey, e.Hash))
	}
	return s.q.InsertEntries(ctx, tx, p)
}

// AppendManyTx appends entries of one user in the caller's transaction with one lock,
// one insert and one snapshot update, however many there are. Every entry is decided
// in order by the ledger's one arithmetic (walletHead.append); the first refusal stops
// the call and nothing of it is written. It is how long histories are built quickly,
// for benchmarks and tests, through the ledger's own arithmetic and hash chain. It
// returns the balance, after them, of the last entry's currency.
func (s *Service) AppendManyTx(ctx context.Context, tx pgx.Tx, userID string, ins []EntryInput) (Balance, error) {
	p, err := s.LockTx(ctx, tx, userID)
	if err != nil {
		return Balance{}, err
	}
	for _, in := range ins {
		if in.UserID != userID {
			return Balance{}, fmt.Errorf("ledger: entry for %s in a batch of %s", in.UserID, userID)
		}
	}
	entries, err := p.Post(ins...)
	if err != nil {
		return Balance{}, err
	}
	if len(entries) == 0 {
		return p.Balance(userID, ""), nil
	}
	return p.Balance(userID, entries[len(entries)-1].Currency), s.FlushTx(ctx, tx, p)
}

// Page is one page of a user's history, newest first. NextBeforeSeq is 0 on the last page.
type Page struct {
	Entries       []Entry
	NextBeforeSeq int64
}

// Window bounds entries by creation time: From inclusive, To exclusive; a zero bound
// is open.
type Window struct {
	From, To time.Time
}

// Entries lists up to limit entries with seq < beforeSeq (0 means from the newest)
// created within w, newest first: of every currency, or of currency alone when it is
// not empty.
func (s *Service) Entries(ctx context.Context, userID string, beforeSeq int64, limit int, w Window, currency string) (Page, error) {
	pool := s.shards.For(userID).Pool
	if _, err := s.q.GetWallet(ctx, pool, userID); err != nil {
		return Page{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
	}
	if beforeSeq <= 0 {
		beforeSeq = 1<<63 - 1
	}
	// A window of time becomes a range of sequence numbers: creation times rise with
	// seq (see SeqBefore), so [From, To) is (SeqBefore(From), SeqBefore(To)].
	fromSeq := int64(1)
	if !w.From.IsZero() {
		seq, err := s.seqBefore(ctx, pool, userID, w.From)
		if err != nil {
			return Page{}, err
		}
		fromSeq = seq + 1
	}
	if !w.To.IsZero() {
		seq, err := s.seqBefore(ctx, pool, userID, w.To)
		if err != nil {
			return Page{}, err
		}
		beforeSeq = min(beforeSeq, seq+1)
	}
	rows, err := s.q.ListEntries(ctx, pool, ledgerdb.ListEntriesParams{UserID: userID, BeforeSeq: beforeSeq, FromSeq: fromSeq, Currency: currency, PageSize: int32(limit + 1)})
	if err != nil {
		return Page{}, pgdb.InterpretError(err, nil)
	}
	page := Page{}
	for i, row := range rows {
		if i == limit {
			page.NextBeforeSeq = page.Entries[limit-1].Seq
			break
		}
		e, err := fromRow(row)
		if err != nil {
			return Page{}, err
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// BalanceAt is a user's balance in one currency as of an instant: after the newest
// entry of that currency created at or before it (0 and LedgerSeq 0 before the first).
type BalanceAt struct {
	UserID    string
	Currency  string
	At        time.Time
	Balance   money.Amount
	LedgerSeq int64
}

// BalanceAt reads userID's balance in currency ("" for the user's default) as of at
// from the ledger (the entry's balance_after): a binary search over the history's
// sequence numbers, O(log n), to reach the instant, then back over the other
// currencies' entries to this one's newest. Entries are stamped by the replica that
// wrote them, once it holds the wallet's lock, so an instant within the replicas'
// clock skew of an entry may fall either side of it.
func (s *Service) BalanceAt(ctx context.Context, userID, currency string, at time.Time) (BalanceAt, error) {
	pool := s.shards.For(userID).Pool
	out := BalanceAt{UserID: userID, Currency: currency, At: at}
	if currency == "" {
		w, err := s.q.GetWallet(ctx, pool, userID)
		if err != nil {
			return BalanceAt{}, pgdb.InterpretError(err, shard.ErrUserNotFound)
		}
		out.Currency = w.DefaultCurrency
	}
	// PostgreSQL keeps microseconds: "at or before at" is "before at + 1µs".
	seq, err := s.seqBefore(ctx, pool, userID, at.Truncate(time.Microsecond).Add(time.Microsecond))
	if err != nil {
		return BalanceAt{}, err
	}
	row, err := s.q.BalanceAt(ctx, pool, ledgerdb.BalanceAtParams{UserID: userID, MaxSeq: seq, Currency: out.Currency})
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil // no entry of the currency yet at that instant
	}
	if err != nil {
		return BalanceAt{}, pgdb.InterpretError(err, nil)
	}
	out.Balance, out.LedgerSeq = row.BalanceAfter, row.Seq
	return out, nil
}

// seqBefore is the sequence number of userID's newest entry created before t (0 when
// none): shard.ErrUserNotFound without a wallet, an error when a gap in the history
// stops the binary search.
func (s *Service) seqBefore(ctx context.Context, db ledgerdb.DBTX, userID string, t time.Time) (int64, error) {
	seq, err := s.q.SeqBefore(ctx, db, ledgerdb.SeqBeforeParams{UserID: userID, Before: t})
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.q.GetWallet(ctx, db, userID); err != nil {
			return 0, pgdb.InterpretError(err, shard.ErrUserNotFound)
		}
		return 0, fmt.Errorf("ledger: the history of %s has a gap; run wallet ledger verify", userID)
	}
	return seq, pgdb.InterpretError(err, nil)
}

func fromRow(row ledgerdb.ListEntriesRow) (Entry, error) {
	e := Entry{
		UserID:       row.UserID,
		Seq:          row.Seq,
		Kind:         row.Kind,
		Currency:     row.Currency,
		HashVersion:  int(row.HashVersion),
		Amount:       row.Amount,
		BalanceAfter: row.BalanceAfter,
		CreatedAt:    row.CreatedAt.UTC(),
		PrevHash:     row.PrevHash,
		Hash:         row.Hash,
		Seal:         row.Seal,
	}
	if row.TransferID != nil {
		e.TransferID = *row.TransferID
	}
	if row.IdempotencyKey != nil {
		e.IdempotencyKey = *row.IdempotencyKey
	}
	if row.Gateway != nil {
		e.Gateway = *row.Gateway
	}
	md, err := metadata.Decode(row.Metadata)
	if err != nil {
		return Entry{}, fmt.Errorf("ledger: entry %s/%d: %w", row.UserID, row.Seq, err)
	}
	e.Metadata = md
	return e, nil
}

// eventTypes are the event types of the entries the ledger announces.
var eventTypes = map[string]string{
	KindDeposit:         events.TypeDepositCreated,
	KindWithdrawal:      events.TypeWithdrawalCreated,
	KindAccountFrozen:   events.TypeAccountFrozen,
	KindAccountUnfrozen: events.TypeAccountUnfrozen,
	KindAccountClosed:   events.TypeAccountClosed,
}

// accountStatuses are the statuses account events leave: what append applies, verify
// replays and the events announce.
var accountStatuses = map[string]string{
	KindAccountFrozen: account.StatusFrozen, KindAccountUnfrozen: account.StatusActive, KindAccountClosed: account.StatusClosed,
}

// announceTx writes the events of entries (deposits, withdrawals and account events)
// to the outbox in the caller's transaction, the one that wrote them. An entry's
// event id is its user and sequence number: one entry, one id, however often the
// event is published.
func (s *Service) announceTx(ctx context.Context, tx pgx.Tx, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	evs := make([]events.Event, 0, len(entries))
	for _, e := range entries {
		ev := events.Event{ID: fmt.Sprintf("%s:%d", e.UserID, e.Seq), Type: eventTypes[e.Kind], Subject: e.UserID, UserID: e.UserID, Time: e.CreatedAt}
		if status, ok := accountStatuses[e.Kind]; ok {
			ev.Data = events.AccountData{UserID: e.UserID, Status: status, Seq: e.Seq, CreatedAt: events.Timestamp(e.CreatedAt)}
		} else {
			ev.Data = events.EntryData{UserID: e.UserID, Seq: e.Seq, Currency: e.Currency, Amount: e.Amount.String(),
				BalanceAfter: e.BalanceAfter.String(), Metadata: e.Metadata, CreatedAt: events.Timestamp(e.CreatedAt)}
		}
		if ev.Type == "" {
			return fmt.Errorf("ledger: no event for an entry of kind %s", e.Kind)
		}
		evs = append(evs, ev)
	}
	msgs, err := events.Outbox(s.shards.Router().Region(), evs)
	if err != nil {
		return err
	}
	return outbox.EnqueueTx(ctx, tx, msgs...)
}
