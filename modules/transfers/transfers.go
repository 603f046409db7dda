package transfers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// ErrTransferNotFound: no transfer with this id.
var ErrTransferNotFound = httpapi.NewProblem(http.StatusNotFound, "transfer_not_found", "no such transfer")

// ErrBacklogged: the sender's shard has more cross-shard work waiting than its bound
// (its outbox or its consumer lane); nothing was written. Same-shard transfers,
// deposits and withdrawals still go through; the client retries after Retry-After.
var ErrBacklogged = &httpapi.Problem{
	Status: http.StatusServiceUnavailable, Code: "transfers_backlogged", RetryAfter: 1,
	Detail: "transfers from this user's shard to other shards and regions are backlogged; retry with the same Idempotency-Key after Retry-After",
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
	Amount     money.Amount
	Status     string
	Reason     string
	Metadata   map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Steps      []Step
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
	router  *shard.Router
	buckets int
	shards  map[string]*pgdb.Shard
	ledger  *ledger.Service
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
}

// NewService builds the transfers service of a region.
func NewService(cfg Config, router *shard.Router, shards map[string]*pgdb.Shard, ledgerSvc *ledger.Service, idem *idempotency.Store, metrics *Metrics) *Service {
	s := &Service{router: router, buckets: cfg.Buckets, shards: shards, ledger: ledgerSvc, idem: idem, ttl: cfg.TTL,
		resendAfter: cfg.ResendAfter, resendMax: cfg.ResendMax, backlogged: cfg.Backlogged, maxWaiters: cfg.MaxWaiters,
		messageKeys: cfg.MessageKeys, q: transfersdb.New(), metrics: metrics, creates: map[string]*pgdb.Batcher[createOp, createResult]{}, waiters: newWaiters()}
	for name, sh := range shards {
		s.creates[name] = pgdb.NewBatcher(sh.Pool, s.applyCreates)
	}
	return s
}

func (s *Service) pool(key string) *pgdb.Shard { return s.shards[s.router.ShardOf(key)] }

// Request is a client's transfer request, already validated for shape.
type Request struct {
	FromUserID string
	ToUserID   string
	Amount     money.Amount
	Metadata   map[string]string
	Key        string
	Gateway    string // the gateway that sent it: keys belong to a (gateway, sender) pair
}

// Get reads a transfer of this region from its sender's shard.
func (s *Service) Get(ctx context.Context, id string) (Transfer, error) {
	return s.getTx(ctx, s.pool(id).Pool, id)
}

func (s *Service) getTx(ctx context.Context, db transfersdb.DBTX, id string) (Transfer, error) {
	row, err := s.q.GetTransfer(ctx, db, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Transfer{}, ErrTransferNotFound
	}
	if err != nil {
		return Transfer{}, err
	}
	out := []Transfer{fromRow(row)}
	if err := s.attachSteps(ctx, db, out); err != nil {
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
	db := s.pool(userID).Pool
	if _, err := s.ledger.Balance(ctx, userID); err != nil {
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
			t := Transfer{ID: r.TransferID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, Amount: r.Amount,
				Status: StatusCompleted, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.CreatedAt.UTC(),
				Metadata: decodeMetadata(r.Metadata), Steps: []Step{{Step: "credited", At: r.CreatedAt.UTC()}}}
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
	}
	return page, nil
}

func fromRow(r transfersdb.Transfer) Transfer {
	t := Transfer{
		ID: r.ID, FromUserID: r.FromUserID, ToUserID: r.ToUserID, Amount: r.Amount, Status: r.Status,
		Metadata: decodeMetadata(r.Metadata), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Reason != nil {
		t.Reason = *r.Reason
	}
	return t
}

func decodeMetadata(b []byte) map[string]string {
	if len(b) == 0 {
		return nil
	}
	var md map[string]string
	if err := json.Unmarshal(b, &md); err != nil {
		panic(fmt.Sprintf("transfers: stored metadata is not a string map: %v", err))
	}
	return md
}
