package transfers

import (
	"context"
	"errors"
	"strings"
	"time"

	"example.com/wallet/platform/account"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// Answer encodes a fresh transfer as the response its key stores and its client gets.
// The HTTP edge supplies it, so the service knows no wire format; it runs inside the
// transfer's transaction, and the record saved with the transfer holds exactly the
// bytes that are sent.
type Answer func(Transfer) (idempotency.Response, error)

// Created is what Create did: the new transfer and its answer, or, for a key that was
// already answered, that first answer alone (Replayed). A replay's transfer is not
// read here: the first answer names it, and the edge reads it as it is now.
type Created struct {
	Transfer Transfer
	Answer   idempotency.Response
	Replayed bool
}

// Create runs a transfer exactly once per idempotency key: completed (or cancelled at
// once) when both users share the sender's shard, pending otherwise. A refusal
// (shard.ErrUserNotFound for the sender, ledger.ErrInsufficientFunds,
// ledger.ErrBalanceLimit, ErrBacklogged, idempotency.ErrReused,
// idempotency.ErrInFlight) writes nothing.
//
// Transfers that reach the sender's shard together are applied in one transaction
// (group commit, see applyCreates); each keeps its own key, record and refusal. ctx is
// read for its trace alone (the request's SpanTry, whose context its credit message
// carries): once queued, a request is applied or refused, never abandoned.
func (s *Service) Create(ctx context.Context, req Request, answer Answer) (Created, error) {
	return s.create(ctx, req, answer)
}

// create runs a transfer or, with req.refundOf set, a refund (see Refund).
func (s *Service) create(ctx context.Context, req Request, answer Answer) (Created, error) {
	ctx, span := startTry(ctx, req)
	fingerprintOf := fingerprint
	if req.refundOf != "" {
		fingerprintOf = refundFingerprint
	}
	op := createOp{req: req, answer: answer, trace: span.SpanContext(), idem: idempotency.Request{
		Gateway:     req.Gateway,
		Scope:       req.FromUserID,
		Key:         req.Key,
		Fingerprint: fingerprintOf(req),
	}}
	res, err := s.creates[s.shards.For(req.FromUserID).Name].DoTraced(ctx, op)
	if err == nil {
		err = res.err
	}
	endTry(span, res, err)
	switch {
	case errors.Is(err, ledger.ErrInsufficientFunds):
		s.metrics.steps.WithLabelValues("try", "insufficient_funds").Inc()
	case errors.Is(err, ErrBacklogged):
		s.metrics.steps.WithLabelValues("try", "backlogged").Inc()
	case err == nil:
		s.metrics.steps.WithLabelValues("try", res.outcome).Inc()
	}
	if err != nil {
		return Created{}, pgdb.InterpretError(err, nil)
	}
	return res.created, nil
}

// fingerprint identifies a transfer request for its key. A currency counts only when
// the request names one: the requests of before currencies, and today's that name
// none, keep the fingerprint they always had; naming a currency, even the default, is
// another request.
func fingerprint(r Request) []byte {
	fields := []string{r.ToUserID, r.Amount.String(), string(metadata.Canonical(r.Metadata))}
	if r.Currency != "" {
		fields = append(fields, r.Currency)
	}
	return idempotency.Fingerprint("transfer", fields...)
}

// createOp is one transfer request with its idempotency request.
type createOp struct {
	req    Request
	answer Answer
	idem   idempotency.Request
	trace  trace.SpanContext // the request's SpanTry: its credit message's trace
}

// createResult is one request's result and its protocol outcome (for metrics), or its
// refusal.
type createResult struct {
	created Created
	outcome string
	err     error
}

// applyCreates is the batcher's apply on the senders' shard: it claims every key at
// once, locks every user the batch touches on this shard at once (in id order), and
// decides each transfer in arrival order:
//   - receiver on the same shard: debit and credit in this transaction, completed;
//   - receiver in a region this one does not know, or missing on the same shard:
//     cancelled at once (receiver_not_found), no money moves;
//   - otherwise the TCC Try: hold the amount, record the transfer pending and queue
//     the credit for the receiver's region in the outbox.
//
// Its error is only what breaks the transaction; a refusal (unknown sender,
// insufficient funds, balance limit, reused key) is the request's own result.
func (s *Service) applyCreates(ctx context.Context, tx pgx.Tx, batch []createOp) ([]createResult, error) {
	results := make([]createResult, len(batch))
	reqs := make([]idempotency.Request, len(batch))
	for i, op := range batch {
		reqs[i] = op.idem
	}
	claims, err := s.idem.BeginManyTx(ctx, tx, reqs)
	if err != nil {
		return nil, err
	}
	// Each request as it is applied: a refund's receiver and currency are its
	// transfer's, known once its refund key is held, and they decide which wallets are
	// locked. A copy, so a retried transaction starts from the requests as they came.
	requests := make([]Request, len(batch))
	var refunded []string
	for i, op := range batch {
		requests[i] = op.req
		if op.req.refundOf != "" && claims[i].Err == nil && claims[i].Stored == nil {
			refunded = append(refunded, op.req.refundOf)
		}
	}
	refunds, err := s.lockRefundsTx(ctx, tx, refunded)
	if err != nil {
		return nil, err
	}
	var users []string
	for i, req := range requests {
		if req.refundOf != "" && claims[i].Err == nil && claims[i].Stored == nil {
			requests[i], claims[i].Err = refunds.parties(req)
			req = requests[i]
		}
		switch {
		case claims[i].Err != nil:
			results[i].err = claims[i].Err
		case claims[i].Stored != nil:
			results[i].created, results[i].outcome = Created{Answer: *claims[i].Stored, Replayed: true}, "replayed"
		case s.pushedBack(req):
			// A backlog that only grows is a failure mode, not a queue: new work from
			// this shard to other shards waits until it drains. Replays are answered.
			results[i].err = ErrBacklogged
		default:
			users = append(users, req.FromUserID)
			if s.sameShard(req) {
				users = append(users, req.ToUserID)
			}
		}
	}
	if len(users) == 0 {
		return results, nil
	}
	postings, err := s.ledger.LockTx(ctx, tx, users...)
	if err != nil {
		return nil, err
	}
	rows := createdRows{now: time.Now().UTC().Truncate(time.Microsecond), region: s.router().Region()}
	var saved []idempotency.Request
	var responses []idempotency.Response
	for i, op := range batch {
		if results[i].err != nil || claims[i].Stored != nil {
			continue
		}
		req := requests[i]
		if req.refundOf != "" {
			amount, err := refunds.amount(req)
			if err != nil {
				results[i].err = err
				continue
			}
			req.Amount = amount
		}
		t, outcome, err := s.decideCreate(postings, &rows, req, op.trace)
		if err != nil {
			if isRefusal(err) {
				results[i].err = err
				continue
			}
			return nil, err
		}
		refunds.count(t)
		answer, err := op.answer(t)
		if err != nil {
			return nil, err
		}
		results[i] = createResult{created: Created{Transfer: t, Answer: answer}, outcome: outcome}
		saved = append(saved, op.idem)
		responses = append(responses, answer)
	}
	if err := s.ledger.FlushTx(ctx, tx, postings); err != nil {
		return nil, err
	}
	if err := rows.writeTx(ctx, tx, s.q, s.ttl, s.resendAfter); err != nil {
		return nil, err
	}
	return results, s.idem.SaveManyTx(ctx, tx, saved, responses)
}

// createdRows gathers the rows a batch of creates writes, so each table gets one
// statement per batch.
type createdRows struct {
	now       time.Time
	region    string
	transfers transfersdb.InsertTransfersParams
	steps     transfersdb.AddStepsAtParams
	incoming  transfersdb.RecordIncomingParams
	credits   []outbox.Message
	events    []events.Event
}

func (r *createdRows) addTransfer(t Transfer, md []byte) {
	r.transfers.Ids = append(r.transfers.Ids, t.ID)
	r.transfers.FromUserIds = append(r.transfers.FromUserIds, t.FromUserID)
	r.transfers.ToUserIds = append(r.transfers.ToUserIds, t.ToUserID)
	r.transfers.Currencies = append(r.transfers.Currencies, t.Currency)
	r.transfers.Amounts = append(r.transfers.Amounts, t.Amount.String())
	r.transfers.Statuses = append(r.transfers.Statuses, t.Status)
	r.transfers.Reasons = append(r.transfers.Reasons, t.Reason)
	r.transfers.Metadata = append(r.transfers.Metadata, string(md))
	r.transfers.RefundOfs = append(r.transfers.RefundOfs, t.RefundOf)
	for _, st := range t.Steps {
		r.steps.TransferIds = append(r.steps.TransferIds, t.ID)
		r.steps.Steps = append(r.steps.Steps, st.Step)
		r.steps.Ats = append(r.steps.Ats, st.At)
	}
}

func (r *createdRows) addIncoming(t Transfer, md []byte) {
	r.incoming.TransferIds = append(r.incoming.TransferIds, t.ID)
	r.incoming.FromUserIds = append(r.incoming.FromUserIds, t.FromUserID)
	r.incoming.ToUserIds = append(r.incoming.ToUserIds, t.ToUserID)
	r.incoming.Currencies = append(r.incoming.Currencies, t.Currency)
	r.incoming.Amounts = append(r.incoming.Amounts, t.Amount.String())
	r.incoming.Metadata = append(r.incoming.Metadata, string(md))
	r.incoming.RefundOfs = append(r.incoming.RefundOfs, t.RefundOf)
}

func (r *createdRows) writeTx(ctx context.Context, tx pgx.Tx, q *transfersdb.Queries, ttl, resendAfter time.Duration) error {
	if len(r.transfers.Ids) == 0 {
		return nil
	}
	r.transfers.CreatedAt, r.transfers.ExpiresAt = r.now, r.now.Add(ttl)
	r.transfers.FirstAttemptAt = r.now.Add(min(ttl, resendAfter))
	if err := q.InsertTransfers(ctx, tx, r.transfers); err != nil {
		return err
	}
	if err := q.AddStepsAt(ctx, tx, r.steps); err != nil {
		return err
	}
	announced, err := events.Outbox(r.region, r.events)
	if err != nil {
		return err
	}
	if err := outbox.EnqueueTx(ctx, tx, append(r.credits, announced...)...); err != nil {
		return err
	}
	if len(r.incoming.TransferIds) == 0 {
		return nil
	}
	return q.RecordIncoming(ctx, tx, r.incoming)
}

// transferEvent announces t, as it now stands, on the event stream: keyed by its
// sender, so the sender's events stay in order, with an id of the transfer and what
// happened to it (one of each per transfer).
func transferEvent(t Transfer, eventType string, sc trace.SpanContext) events.Event {
	return events.Event{
		ID: t.ID + ":" + strings.TrimPrefix(eventType, "wallet.transfer."), Type: eventType, Subject: t.ID, UserID: t.FromUserID,
		Time: t.UpdatedAt, Trace: sc,
		Data: events.TransferData{ID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Currency: t.Currency, Amount: t.Amount.String(),
			Status: t.Status, Reason: t.Reason, Metadata: t.Metadata, RefundOf: t.RefundOf, CreatedAt: events.Timestamp(t.CreatedAt)},
	}
}

// creditEvent announces, on the receiver's stream, the entry that credited a transfer
// (a refund of refundOf, when not "") to its receiver.
func creditEvent(e ledger.Entry, fromUserID, refundOf string) events.Event {
	return events.Event{
		ID: e.TransferID + ":credited", Type: events.TypeTransferCredited, Subject: e.TransferID, UserID: e.UserID, Time: e.CreatedAt,
		Data: events.CreditData{TransferID: e.TransferID, FromUserID: fromUserID, ToUserID: e.UserID, Currency: e.Currency,
			Amount: e.Amount.String(), Seq: e.Seq, BalanceAfter: e.BalanceAfter.String(), RefundOf: refundOf, CreatedAt: events.Timestamp(e.CreatedAt)},
	}
}

// isRefusal reports whether err is a request's own refusal, decided before anything
// of it was staged or written.
func isRefusal(err error) bool {
	return errors.Is(err, shard.ErrUserNotFound) || errors.Is(err, account.ErrFrozen) || errors.Is(err, account.ErrClosed) ||
		errors.Is(err, ledger.ErrInsufficientFunds) || errors.Is(err, ledger.ErrBalanceLimit) ||
		errors.Is(err, ErrTransferNotFound) || errors.Is(err, ErrNotRefundable) || errors.Is(err, ErrRefundExceedsRemainder)
}

// pushedBack reports whether r goes to another shard or region from a shard that is
// backlogged (Config.Backlogged).
func (s *Service) pushedBack(r Request) bool {
	toRegion, _ := shard.UserRegion(r.ToUserID)
	return s.backlogged != nil && !s.sameShard(r) && s.router().KnownRegion(toRegion) && s.backlogged(s.shards.For(r.FromUserID).Name)
}

func (s *Service) sameShard(r Request) bool {
	toRegion, _ := shard.UserRegion(r.ToUserID)
	return toRegion == s.router().Region() && s.shards.For(r.ToUserID).Name == s.shards.For(r.FromUserID).Name
}

// decideCreate decides one transfer on postings (which hold the locks of its users on
// this shard), stages its hold on p and gathers its rows and outbox message in rows.
// It returns the transfer as it now stands and the outcome for metrics. A refusal is
// returned before anything of the request is staged or queued.
func (s *Service) decideCreate(p *ledger.Postings, rows *createdRows, r Request, sc trace.SpanContext) (Transfer, string, error) {
	now := rows.now
	if !p.Has(r.FromUserID) {
		return Transfer{}, "", shard.ErrUserNotFound
	}
	t := Transfer{
		ID: shard.NewTransferID(s.router().Region(), r.FromUserID, s.buckets), FromUserID: r.FromUserID, ToUserID: r.ToUserID,
		Currency: r.Currency, Amount: r.Amount, Metadata: r.Metadata, CreatedAt: now, UpdatedAt: now, RefundOf: r.refundOf,
	}
	if t.Currency == "" {
		// A request naming no currency moves the sender's default.
		t.Currency = p.DefaultCurrency(r.FromUserID)
	}
	md := metadata.Canonical(r.Metadata)
	toRegion, _ := shard.UserRegion(r.ToUserID)
	outcome := ""
	var steps []string
	switch {
	case s.sameShard(r) && p.Has(r.ToUserID) && p.Status(r.ToUserID) == account.StatusClosed:
		// The sender's own refusal comes first; then the transfer is cancelled at
		// once, as a participant would refuse it, and no money moves.
		switch p.Status(r.FromUserID) {
		case account.StatusFrozen:
			return Transfer{}, "", account.ErrFrozen
		case account.StatusClosed:
			return Transfer{}, "", account.ErrClosed
		}
		t.Status, t.Reason, outcome, steps = StatusCancelled, ReasonReceiverClosed, "receiver_closed", []string{StatusCancelled}
	case s.sameShard(r) && p.Has(r.ToUserID):
		posted, err := p.Post(
			ledger.EntryInput{UserID: r.FromUserID, Kind: ledger.KindTransferDebit, Currency: t.Currency, Amount: r.Amount, TransferID: t.ID},
			ledger.EntryInput{UserID: r.ToUserID, Kind: ledger.KindTransferCredit, Currency: t.Currency, Amount: r.Amount, TransferID: t.ID},
		)
		if err != nil {
			return Transfer{}, "", err
		}
		rows.events = append(rows.events, creditEvent(posted[1], r.FromUserID, t.RefundOf))
		// The receiver's incoming record, as a participant would have written it.
		rows.addIncoming(t, md)
		t.Status, outcome, steps = StatusCompleted, "completed_same_shard", []string{"debited", "credited", StatusCompleted}
	case s.sameShard(r) || !s.router().KnownRegion(toRegion):
		t.Status, t.Reason, outcome, steps = StatusCancelled, ReasonReceiverNotFound, "receiver_not_found", []string{StatusCancelled}
	default:
		if err := p.Hold(r.FromUserID, t.ID, t.Currency, r.Amount); err != nil {
			return Transfer{}, "", err
		}
		msg := Message{Type: MsgCredit, TransferID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Currency: t.Currency, Amount: t.Amount.String(), Metadata: r.Metadata, RefundOf: t.RefundOf}
		rows.credits = append(rows.credits, outbox.Message{Region: toRegion, Key: t.ID, Type: MsgCredit, Payload: msg.encode(), Trace: sc})
		t.Status, outcome, steps = StatusPending, "held", []string{"held"}
		// As writeTx records it: the first resend is due after resendAfter, or at the
		// TTL when that comes first.
		t.Waiting = &Waiting{For: WaitingForCredit, Since: now, NextAttemptAt: now.Add(min(s.ttl, s.resendAfter)), ExpiresAt: now.Add(s.ttl)}
	}
	// Steps of one call get increasing times a microsecond apart, so a later read
	// (ordered by time) lists them in the order they happened, as this response does.
	for i, step := range steps {
		t.Steps = append(t.Steps, Step{Step: step, At: now.Add(time.Duration(i) * time.Microsecond)})
	}
	rows.addTransfer(t, md)
	rows.events = append(rows.events, transferEvent(t, events.TypeTransferCreated, sc))
	switch t.Status {
	case StatusCompleted:
		rows.events = append(rows.events, transferEvent(t, events.TypeTransferCompleted, sc))
	case StatusCancelled:
		rows.events = append(rows.events, transferEvent(t, events.TypeTransferCancelled, sc))
	}
	return t, outcome, nil
}
