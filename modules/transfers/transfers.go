package transfers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/currency"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// The transfers' refusals; the HTTP edge (http.go) maps each to the problem a client
// sees. A transfer also answers the ledger's refusals (ledger.ErrInsufficientFunds,
// ledger.ErrBalanceLimit) and shard.ErrUserNotFound for a sender that does not exist.
var (
	// ErrTransferNotFound: no transfer with this id.
	ErrTransferNotFound = errors.New("transfers: no such transfer")
	// ErrBacklogged: the sender's shard has more cross-shard work waiting than its
	// bound (its outbox or its consumer lane); nothing was written. Same-shard
	// transfers, deposits and withdrawals still go through; the client retries later
	// with the same key.
	ErrBacklogged = errors.New("transfers: cross-shard transfers from this shard are backlogged")
)

// Ledger is what transfers need of the ledger: money operations inside the caller's
// transaction, and a user's balance. *ledger.Service implements it.
type Ledger interface {
	// LockTx locks the snapshots of users (in id order) and stages postings on them.
	LockTx(ctx context.Context, tx pgx.Tx, users ...string) (*ledger.Postings, error)
	// FlushTx writes what p staged.
	FlushTx(ctx context.Context, tx pgx.Tx, p *ledger.Postings) error
	// LockHoldsTx locks the holds of transfers (before any snapshot).
	LockHoldsTx(ctx context.Context, tx pgx.Tx, transferIDs []string) (map[string]ledger.Hold, error)
	// Balance reads a user's snapshot in a currency ("" for the default), or
	// shard.ErrUserNotFound.
	Balance(ctx context.Context, userID, currency string) (ledger.Balance, error)
}

// Step is one protocol step on the sender's side, with when it happened.
type Step struct {
	Step string
	At   time.Time
}

// Transfer is a transfer as its sender's shard knows it (or, for an incoming
// transfer, as the receiver's shard knows it).
type Transfer struct {
	ID         string
	FromUserID string
	ToUserID   string
	Currency   string
	Amount     money.Amount
	Status     string
	Reason     string
	Metadata   map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Steps      []Step
	// Waiting says what a pending transfer waits for; nil once it is final, and for
	// an incoming transfer (the receiver's shard knows only that it was credited).
	Waiting *Waiting
	// RefundOf names the transfer this one refunds; "" for any other transfer.
	RefundOf string
	// Refunds are the refunds credited back to the sender, oldest first, read with
	// the transfer on its sender's shard. A refund still in flight shows on its own
	// transfer (GET it by id), not here.
	Refunds []Refund
}

// What a pending transfer waits for (Waiting.For).
const (
	// WaitingForCredit: the credit went to the receiver's shard and its reply
	// (credited or refused) has not come back; until the TTL, the recovery sweep
	// sends the credit again.
	WaitingForCredit = "credit"
	// WaitingForCancelReply: the TTL passed without a reply, the cancel was
	// requested, and the receiver's answer (cancelled, or credited when the credit
	// got there first) has not come back; the sweep sends the cancel again until it
	// does. The hold is never released without that answer.
	WaitingForCancelReply = "cancel_reply"
)

// Waiting is why a pending transfer is still pending, read from the sender's shard
// in the same statement as the transfer: what it waits for and since when, and what
// the recovery sweep has done and will do about it. It is what support needs to
// answer "where is my money" without reading the database.
type Waiting struct {
	// For is WaitingForCredit or WaitingForCancelReply.
	For string
	// Since is when the wait for For began: the transfer's creation for the credit,
	// the cancel's request for the cancel reply.
	Since time.Time
	// Attempts counts the messages the recovery sweep sent for the transfer after
	// its first credit: the credit sent again, the cancel request and the cancel
	// sent again.
	Attempts int
	// NextAttemptAt is when the sweep sends the step again if no reply came; a time
	// in the past means the sweep is late (no replica sweeps the shard). Zero when
	// none is scheduled.
	NextAttemptAt time.Time
	// ExpiresAt is the end of the TTL: the time the cancel is (or was) requested.
	ExpiresAt time.Time
	// CancelRequestedAt is when the cancel was first requested; zero before.
	CancelRequestedAt time.Time
}

// Metrics are the protocol's metrics.
type Metrics struct {
	steps      *prometheus.CounterVec
	completion *prometheus.HistogramVec
	waitReads  prometheus.Counter
}

// NewMetrics registers the transfer metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_tcc_steps_total", Help: "Transfer protocol steps, by step and outcome.",
		}, []string{"step", "outcome"}),
		completion: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wallet_transfer_completion_seconds", Help: "Time from a transfer's creation to its final status.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"status"}),
	}
	m.waitReads = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wallet_transfer_wait_reads_total", Help: "Reads of a transfer by requests waiting for it to be final (Prefer: wait).",
	})
	reg.MustRegister(m.steps, m.completion, m.waitReads)
	return m
}

// Service runs transfers for the users of one region.
type Service struct {
	shards  *pgdb.Shards
	buckets int
	ledger  Ledger
	idem    *idempotency.Store
	ttl     time.Duration
	// resendAfter and resendMax bound the recovery sweep's backoff (see SweepOnce).
	resendAfter, resendMax time.Duration
	q                      *transfersdb.Queries
	metrics                *Metrics
	// creates group each shard's concurrent transfer requests into shared
	// transactions (see applyCreates).
	creates map[string]*pgdb.Batcher[createOp, createResult]
	// waiters are the requests waiting for transfers to become final.
	waiters    *waiters
	backlogged func(shard string) bool
	// waiting counts requests waiting in WaitFinal, at most maxWaiters.
	waiting    atomic.Int64
	maxWaiters int
	// messageKeys verify the signatures of inbound TCC messages, by sending region.
	messageKeys map[string][]byte
	units       *currency.Catalogue
}

// Config is what the service needs beyond its collaborators.
type Config struct {
	Buckets int
	// TTL is how long a pending transfer waits for the receiver before the
	// coordinator asks it to cancel.
	TTL time.Duration
	// ResendAfter is how long a pending transfer waits before its step is sent again;
	// each further attempt waits twice as long, up to ResendMax.
	ResendAfter, ResendMax time.Duration
	// MaxWaiters bounds the requests of this replica waiting for transfers to become
	// final (Prefer: wait); beyond it, requests are answered at once and poll.
	MaxWaiters int
	// Backlogged reports whether a shard's cross-shard work waits beyond its bound:
	// new transfers from it to other shards and regions are then refused with
	// ErrBacklogged. Nil never refuses.
	Backlogged func(shard string) bool
	// MessageKeys holds the key of TCC messages exchanged with each region, this one
	// included (config.MessageKey). A message from a region without a key is refused.
	MessageKeys map[string][]byte
	// Currencies is the region's catalogue: a credit in a currency it does not know is
	// refused (ReasonUnknownCurrency). Nil knows every currency.
	Currencies *currency.Catalogue
}

// NewService builds the transfers service of a region.
func NewService(cfg Config, shards *pgdb.Shards, ledger Ledger, idem *idempotency.Store, metrics *Metrics) *Service {
	s := &Service{shards: shards, buckets: cfg.Buckets, ledger: ledger, idem: idem, ttl: cfg.TTL,
		resendAfter: cfg.ResendAfter, resendMax: cfg.ResendMax, backlogged: cfg.Backlogged, maxWaiters: cfg.MaxWaiters,
		messageKeys: cfg.MessageKeys, units: cfg.Currencies, q: transfersdb.New(), metrics: metrics, creates: map[string]*pgdb.Batcher[createOp, createResult]{}, waiters: newWaiters()}
	for _, sh := range shards.All() {
		s.creates[sh.Name] = pgdb.NewBatcher(sh.Pool, s.applyCreates)
	}
	return s
}

// knownCurrency reports whether the region knows code (every code, with no catalogue).
func (s *Service) knownCurrency(code string) bool {
	if s.units == nil {
		return true
	}
	_, ok := s.units.Lookup(code)
	return ok
}

// router places users and transfers on regions and shards.
func (s *Service) router() *shard.Router { return s.shards.Router() }

// shard returns the region's shard called name, a name this region's router gave.
func (s *Service) shard(name string) *pgdb.Shard {
	sh, _ := s.shards.Named(name)
	return sh
}

// Request is a client's transfer request, already validated for shape.
type Request struct {
	FromUserID string
	ToUserID   string
	// Currency moved; "" is the sender's default currency. Nothing converts: the
	// receiver is credited in the same currency.
	Currency string
	Amount   money.Amount
	Metadata map[string]string
	Key      string
	Gateway  string // the gateway that sent it: keys belong to a (gateway, sender) pair
	// refundOf is set by Refund alone: the transfer refunded, whose credit decides
	// ToUserID, Currency and (when zero) Amount.
	refundOf string
}

// Get reads a transfer of this region from its sender's shard.
func (s *Service) Get(ctx context.Context, id string) (Transfer, error) {
	t, err := s.getTx(ctx, s.shards.For(id).Pool, id)
	return t, pgdb.InterpretError(err, ErrTransferNotFound)
}

func (s *Service) getTx(ctx context.Context, db transfersdb.DBTX, id string) (Transfer, error) {
	row, err := s.q.GetTransfer(ctx, db, id)
	if err != nil {
		return Transfer{}, err
	}
	out := []Transfer{fromRow(row)}
	if err := s.attachSteps(ctx, db, out); err != nil {
		return Transfer{}, err
	}
	if err := s.attachRefunds(ctx, db, out); err != nil {
		return Transfer{}, err
	}
	return out[0], nil
}

func (s *Service) attachSteps(ctx context.Context, db transfersdb.DBTX, ts []Transfer) error {
	if len(ts) == 0 {
		return nil
	}
	ids := make([]string, len(ts))
	index := map[string]int{}
	for i, t := range ts {
		ids[i] = t.ID
		index[t.ID] = i
	}
	steps, err := s.q.ListSteps(ctx, db, ids)
	if err != nil {
		return err
	}
	for _, st := range steps {
		i := index[st.TransferID]
		ts[i].Steps = append(ts[i].Steps, Step{Step: st.Step, At: st.At.UTC()})
	}
	return nil
}

// Page is a page of a user's transfers, newest first; NextBefore is "" on the last.
type Page struct {
	Transfers  []Transfer
	NextBefore string
}

// List pages through the transfers userID sent (direction "out", optionally of one
// status) or received (direction "in": credited transfers, which are completed from
// the receiver's point of view).
func (s *Service) List(ctx context.Context, userID, direction, status, before string, limit int) (Page, error) {
	page, err := s.list(ctx, userID, direction, status, before, limit)
	return page, pgdb.InterpretError(err, nil)
}

func (s *Service) list(ctx context.Context, userID, direction, status, before string, limit int) (Page, error) {
	db := s.shards.For(userID).Pool
	if _, err := s.ledger.Balance(ctx, userID, ""); err != nil {
		return Page{}, err
	}
	if before == "" {
		before = "\U0010FFFF"
	}
	var ts []Transfer
	if direction == "in" {
		if status != "" && status != StatusCompleted {
			return Page{}, nil
		}
		rows, err := s.q.ListIncoming(ctx, db, transfersdb.ListIncomingParams{UserID: userID, BeforeID: before, PageSize: int32(limit + 1)})
		if err != nil {
			return Page{}, err
		}
		for _, r := range rows {
			t := Transfer{ID: r.TransferID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, Currency: r.Currency, Amount: r.Amount,
				Status: StatusCompleted, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.CreatedAt.UTC(),
				Metadata: storedMetadata(r.Metadata), Steps: []Step{{Step: "credited", At: r.CreatedAt.UTC()}}}
			ts = append(ts, t)
		}
	} else {
		var st *string
		if status != "" {
			st = &status
		}
		rows, err := s.q.ListOutgoing(ctx, db, transfersdb.ListOutgoingParams{UserID: userID, BeforeID: before, Status: st, PageSize: int32(limit + 1)})
		if err != nil {
			return Page{}, err
		}
		for _, r := range rows {
			ts = append(ts, fromRow(r))
		}
	}
	page := Page{Transfers: ts}
	if len(ts) > limit {
		page.Transfers = ts[:limit]
		page.NextBefore = ts[limit-1].ID
	}
	if direction != "in" {
		if err := s.attachSteps(ctx, db, page.Transfers); err != nil {
			return Page{}, err
		}
		if err := s.attachRefunds(ctx, db, page.Transfers); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

func fromRow(r transfersdb.Transfer) Transfer {
	t := Transfer{
		ID: r.ID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, Currency: r.Currency, Amount: r.Amount, Status: r.Status,
		Metadata: storedMetadata(r.Metadata), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Reason != nil {
		t.Reason = *r.Reason
	}
	if r.RefundOf != nil {
		t.RefundOf = *r.RefundOf
	}
	if r.Status == StatusPending {
		t.Waiting = waitingOf(r)
	}
	return t
}

// waitingOf reads what the pending transfer of row r waits for.
func waitingOf(r transfersdb.Transfer) *Waiting {
	w := &Waiting{For: WaitingForCredit, Since: r.CreatedAt.UTC(), Attempts: int(r.Attempts), ExpiresAt: r.ExpiresAt.UTC()}
	if r.NextAttemptAt != nil {
		w.NextAttemptAt = r.NextAttemptAt.UTC()
	}
	if r.CancelRequestedAt != nil {
		w.For, w.Since, w.CancelRequestedAt = WaitingForCancelReply, r.CancelRequestedAt.UTC(), r.CancelRequestedAt.UTC()
	}
	return w
}

// storedMetadata reads metadata this module stored (always through
// metadata.Canonical): anything else in the column is a corrupted row, not an input.
func storedMetadata(b []byte) map[string]string {
	md, err := metadata.Decode(b)
	if err != nil {
		panic(fmt.Sprintf("transfers: %v", err))
	}
	return md
}
