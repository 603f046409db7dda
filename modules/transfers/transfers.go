package transfers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// ErrTransferNotFound: no transfer with this id.
var ErrTransferNotFound = httpapi.NewProblem(http.StatusNotFound, "transfer_not_found", "no such transfer")

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
	reg.MustRegister(m.steps, m.completion)
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
	q       *transfersdb.Queries
	metrics *Metrics
}

// Config is what the service needs beyond its collaborators.
type Config struct {
	Buckets int
	// TTL is how long a pending transfer waits for the receiver before the
	// coordinator asks it to cancel.
	TTL time.Duration
}

// NewService builds the transfers service of a region.
func NewService(cfg Config, router *shard.Router, shards map[string]*pgdb.Shard, ledgerSvc *ledger.Service, idem *idempotency.Store, metrics *Metrics) *Service {
	return &Service{router: router, buckets: cfg.Buckets, shards: shards, ledger: ledgerSvc, idem: idem, ttl: cfg.TTL, q: transfersdb.New(), metrics: metrics}
}

func (s *Service) pool(key string) *pgdb.Shard { return s.shards[s.router.ShardOf(key)] }

// Request is a client's transfer request, already validated for shape.
type Request struct {
	FromUserID string
	ToUserID   string
	Amount     money.Amount
	Metadata   map[string]string
	Key        string
}

// Create runs a transfer exactly once per idempotency key and returns the response to
// send: 201 with a completed (or immediately cancelled) transfer when both users share
// the sender's shard, 202 with a pending one otherwise. A sender without the
// available amount is ErrInsufficientFunds and nothing is written.
func (s *Service) Create(ctx context.Context, req Request) (idempotency.Response, error) {
	idemReq := idempotency.Request{
		Scope: req.FromUserID,
		Key:   req.Key,
		Fingerprint: idempotency.Fingerprint("transfer", req.ToUserID, req.Amount.String(),
			string(ledger.CanonicalMetadata(req.Metadata))),
	}
	senderShard := s.router.ShardOf(req.FromUserID)
	var resp idempotency.Response
	var outcome string
	err := pgdb.InTx(ctx, s.shards[senderShard].Pool, func(tx pgx.Tx) error {
		stored, err := s.idem.BeginTx(ctx, tx, idemReq)
		if err != nil || stored != nil {
			if stored != nil {
				resp, outcome = *stored, "replayed"
			}
			return err
		}
		id := shard.NewTransferID(s.router.Region(), req.FromUserID, s.buckets)
		now := time.Now().UTC().Truncate(time.Microsecond)
		t := transfersdb.InsertTransferParams{
			ID: id, FromUserID: req.FromUserID, ToUserID: req.ToUserID, Amount: req.Amount,
			Metadata: ledger.CanonicalMetadata(req.Metadata), CreatedAt: now, ExpiresAt: now.Add(s.ttl),
		}
		toRegion, _ := shard.UserRegion(req.ToUserID)
		status := http.StatusCreated
		switch {
		case toRegion == s.router.Region() && s.router.ShardOf(req.ToUserID) == senderShard:
			outcome, err = s.sameShardTx(ctx, tx, &t)
		case !s.router.KnownRegion(toRegion):
			outcome, err = s.refuseTx(ctx, tx, &t)
		default:
			outcome, err = s.tryTx(ctx, tx, &t, toRegion)
			status = http.StatusAccepted
		}
		if err != nil {
			return err
		}
		transfer, err := s.getTx(ctx, tx, id)
		if err != nil {
			return err
		}
		body, err := json.Marshal(toJSON(transfer))
		if err != nil {
			return err
		}
		resp = idempotency.Response{Status: status, Body: body}
		return s.idem.SaveTx(ctx, tx, idemReq, resp)
	})
	if err != nil {
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			s.metrics.steps.WithLabelValues("try", "insufficient_funds").Inc()
		}
		return idempotency.Response{}, err
	}
	s.metrics.steps.WithLabelValues("try", outcome).Inc()
	return resp, nil
}

// sameShardTx moves the money in the caller's transaction: both snapshots locked in
// id order, debit and credit appended, transfer completed.
func (s *Service) sameShardTx(ctx context.Context, tx pgx.Tx, t *transfersdb.InsertTransferParams) (string, error) {
	fromExists, toExists, err := s.ledger.LockPairTx(ctx, tx, t.FromUserID, t.ToUserID)
	if err != nil {
		return "", err
	}
	if !fromExists {
		return "", ledger.ErrUserNotFound
	}
	if !toExists {
		return s.refuseTx(ctx, tx, t)
	}
	if _, _, err := s.ledger.AppendTx(ctx, tx, ledger.EntryInput{UserID: t.FromUserID, Kind: ledger.KindTransferDebit, Amount: t.Amount, TransferID: t.ID}); err != nil {
		return "", err
	}
	if _, _, err := s.ledger.AppendTx(ctx, tx, ledger.EntryInput{UserID: t.ToUserID, Kind: ledger.KindTransferCredit, Amount: t.Amount, TransferID: t.ID}); err != nil {
		return "", err
	}
	t.Status = StatusCompleted
	if err := s.q.InsertTransfer(ctx, tx, *t); err != nil {
		return "", err
	}
	// The receiver's incoming record, as a participant would have written it.
	if _, err := s.q.InsertBarrier(ctx, tx, transfersdb.InsertBarrierParams{
		TransferID: t.ID, Branch: MsgCredit, ToUserID: t.ToUserID, FromUserID: t.FromUserID,
		Amount: t.Amount, Outcome: MsgCredited, Metadata: t.Metadata,
	}); err != nil {
		return "", err
	}
	return "completed_same_shard", s.addSteps(ctx, tx, t.ID, "debited", "credited", StatusCompleted)
}

// refuseTx records a transfer to a receiver that cannot exist (or does not, on the
// sender's own shard) as cancelled at once; no money moves.
func (s *Service) refuseTx(ctx context.Context, tx pgx.Tx, t *transfersdb.InsertTransferParams) (string, error) {
	exists, err := s.ledger.ExistsTx(ctx, tx, t.FromUserID)
	if err != nil {
		return "", err
	}
	if !exists {
		return "", ledger.ErrUserNotFound
	}
	reason := ReasonReceiverNotFound
	t.Status, t.Reason = StatusCancelled, &reason
	if err := s.q.InsertTransfer(ctx, tx, *t); err != nil {
		return "", err
	}
	return "receiver_not_found", s.addSteps(ctx, tx, t.ID, StatusCancelled)
}

// tryTx is the TCC Try: hold the amount, record the pending transfer and queue the
// credit for the receiver's region, all in the caller's transaction.
func (s *Service) tryTx(ctx context.Context, tx pgx.Tx, t *transfersdb.InsertTransferParams, toRegion string) (string, error) {
	if _, err := s.ledger.HoldTx(ctx, tx, t.FromUserID, t.ID, t.Amount); err != nil {
		return "", err
	}
	t.Status = StatusPending
	if err := s.q.InsertTransfer(ctx, tx, *t); err != nil {
		return "", err
	}
	var md map[string]string
	if len(t.Metadata) > 0 {
		_ = json.Unmarshal(t.Metadata, &md)
	}
	msg := Message{Type: MsgCredit, TransferID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Amount: t.Amount.String(), Metadata: md}
	if err := outbox.EnqueueTx(ctx, tx, outbox.Message{Region: toRegion, Key: t.ID, Type: MsgCredit, Payload: msg.encode()}); err != nil {
		return "", err
	}
	return "held", s.addSteps(ctx, tx, t.ID, "held")
}

func (s *Service) addSteps(ctx context.Context, tx pgx.Tx, id string, steps ...string) error {
	for _, step := range steps {
		if err := s.q.AddStep(ctx, tx, transfersdb.AddStepParams{TransferID: id, Step: step}); err != nil {
			return err
		}
	}
	return nil
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
