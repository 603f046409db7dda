package transfers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
	"example.com/wallet/platform/tracing"
)

// ErrProtocolViolation marks a message that contradicts the protocol (for example
// "credited" for a cancelled transfer). Applying it would lose or create money, so it
// is never applied: the consumer dead-letters it for a human.
var ErrProtocolViolation = errors.New("TCC protocol violation")

// coordinatorView is a batch's transfers and their holds, locked.
type coordinatorView struct {
	transfers map[string]transfersdb.Transfer
	holds     map[string]ledger.Hold
	senders   []string
}

// lockCoordinatorTx locks the transfers of a batch of replies, then their holds (each
// set in id order): the order every path that takes them follows.
func (s *Service) lockCoordinatorTx(ctx context.Context, tx pgx.Tx, batch []Inbound) (coordinatorView, error) {
	ids := make([]string, 0, len(batch))
	for _, m := range batch {
		ids = append(ids, m.TransferID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	v := coordinatorView{transfers: map[string]transfersdb.Transfer{}}
	if len(ids) == 0 {
		return v, nil
	}
	rows, err := s.q.LockTransfers(ctx, tx, ids)
	if err != nil {
		return v, err
	}
	for _, r := range rows {
		v.transfers[r.ID] = r
	}
	if v.holds, err = s.ledger.LockHoldsTx(ctx, tx, ids); err != nil {
		return v, err
	}
	for _, h := range v.holds {
		v.senders = append(v.senders, h.UserID)
	}
	return v, nil
}

// coordinateTx is the coordinator's confirm step for a batch of replies on the
// senders' shard, in the caller's transaction, once lockCoordinatorTx has run and the
// senders' snapshots are locked in postings. It decides each reply in order with
// Coordinate (so two replies of one transfer in the same batch see each other),
// captures holds on "credited" and releases them on "refused" or "cancelled", and
// queues the final statuses and steps; the caller flushes postings. Replies for a
// transfer already final are duplicates and change nothing. It returns the metrics to
// record once the transaction has committed.
func (s *Service) coordinateTx(ctx context.Context, tx pgx.Tx, v coordinatorView, postings *ledger.Postings, batch []Inbound) ([]func(), error) {
	transfers, holds := v.transfers, v.holds
	var finish transfersdb.FinishTransfersParams
	var steps transfersdb.AddStepsAtParams
	var final []events.Event
	var observe []func()
	now := time.Now().UTC().Truncate(time.Microsecond)
	addSteps := func(id string, names ...string) {
		for _, name := range names {
			steps.TransferIds = append(steps.TransferIds, id)
			steps.Steps = append(steps.Steps, name)
			steps.Ats = append(steps.Ats, now.Add(time.Duration(len(steps.Ats))*time.Microsecond))
		}
	}
	for _, m := range batch {
		t, ok := transfers[m.TransferID]
		if !ok {
			return nil, fmt.Errorf("%w: %s reply for unknown transfer %s", ErrProtocolViolation, m.Type, m.TransferID)
		}
		decision := Coordinate(t.Status, t.CancelRequestedAt != nil, m.Type)
		span := startStep(ctx, m.Trace, coordinatorStep(decision.Action), m.TransferID)
		if decision.Violation != "" {
			return nil, fmt.Errorf("%w: transfer %s: %s", ErrProtocolViolation, m.TransferID, decision.Violation)
		}
		hold, held := holds[m.TransferID]
		if (decision.Action == ActCapture || decision.Action == ActRelease) && !held {
			return nil, fmt.Errorf("%w: transfer %s is pending without a hold", ErrProtocolViolation, m.TransferID)
		}
		reason := ""
		switch decision.Action {
		case ActCapture:
			if _, err := postings.Capture(hold); err != nil {
				return nil, err
			}
			addSteps(m.TransferID, "captured", StatusCompleted)
		case ActRelease:
			if _, err := postings.Release(hold); err != nil {
				return nil, err
			}
			reason = m.Reason
			if reason == "" || reason == reasonCancelledBeforeCredit {
				reason = ReasonExpired
			}
			addSteps(m.TransferID, m.Type, "released", StatusCancelled)
		}
		outcome := decision.Action.String()
		if decision.Action == ActNone {
			outcome = "duplicate"
		} else {
			t.Status = decision.Status
			transfers[m.TransferID] = t
			finish.Ids = append(finish.Ids, m.TransferID)
			finish.Statuses = append(finish.Statuses, decision.Status)
			finish.Reasons = append(finish.Reasons, reason)
			done := fromRow(t)
			done.Reason, done.UpdatedAt = reason, now
			final = append(final, transferEvent(done, map[string]string{StatusCompleted: events.TypeTransferCompleted, StatusCancelled: events.TypeTransferCancelled}[decision.Status], span.SpanContext()))
			status, took := decision.Status, now.Sub(t.CreatedAt).Seconds()
			observe = append(observe, func() { s.metrics.completion.WithLabelValues(status).Observe(took) })
		}
		setOutcome(span, outcome, reason)
		step := "confirm_" + m.Type
		observe = append(observe, func() { s.metrics.steps.WithLabelValues(step, outcome).Inc(); span.End() })
	}
	if len(finish.Ids) == 0 {
		return observe, nil
	}
	if err := s.q.FinishTransfers(ctx, tx, finish); err != nil {
		return nil, err
	}
	if err := s.q.AddStepsAt(ctx, tx, steps); err != nil {
		return nil, err
	}
	announced, err := events.Outbox(s.router().Region(), final)
	if err != nil {
		return nil, err
	}
	if err := outbox.EnqueueTx(ctx, tx, announced...); err != nil {
		return nil, err
	}
	return observe, s.q.NotifyFinal(ctx, tx, finish.Ids)
}

// coordinatorStep names the coordinator's step span after what it does to the hold.
func coordinatorStep(a Action) string {
	switch a {
	case ActCapture:
		return StepCapture
	case ActRelease:
		return StepRelease
	}
	return StepReply
}

// SweepOnce is the coordinator's recovery sweep of one shard: every pending transfer
// whose next attempt is due gets the step it waits for sent again, through the
// outbox, and its next attempt scheduled with backoff:
//   - before its TTL, the credit again (its first credit or the reply may be lost, or
//     stuck behind a fault);
//   - at its TTL, the cancel is requested (Coordinate decides: never a unilateral
//     release, since the credit may have happened);
//   - after that, the cancel again, until a reply arrives.
//
// The participant's barriers make every repeat harmless, so a transfer reaches
// completed or cancelled within about resendMax of every fault ending, without a person
// replaying anything. It returns how many transfers it attempted.
func (s *Service) SweepOnce(ctx context.Context, shardName string) (int, error) {
	var counts map[string]int
	// A sweep that finds work is a trace of its own (SpanSweep, started once however
	// often the transaction is retried), which the messages it queues carry; an idle
	// sweep, every second on every shard, is none.
	var span trace.Span
	err := pgdb.InTx(ctx, s.shard(shardName).Pool, func(tx pgx.Tx) error {
		counts = map[string]int{}
		due, err := s.q.DueTransfers(ctx, tx, 100)
		if err != nil || len(due) == 0 {
			return err
		}
		if span == nil {
			_, span = tracing.Start(ctx, SpanSweep, trace.WithAttributes(tracing.ShardKey.String(shardName)))
		}
		now := time.Now()
		var sched transfersdb.ScheduleAttemptsParams
		var msgs []outbox.Message
		var steps transfersdb.AddStepsAtParams
		for _, t := range due {
			cancelRequested := t.CancelRequestedAt != nil
			msgType, step := MsgCredit, "credit_resent"
			switch {
			case !cancelRequested && !now.Before(t.ExpiresAt):
				if Coordinate(StatusPending, false, EventExpired).Action != ActRequestCancel {
					continue
				}
				msgType, step, cancelRequested = MsgCancel, "cancel_requested", true
			case cancelRequested:
				msgType, step = MsgCancel, "cancel_resent"
			}
			next := now.Add(s.backoff(int(t.Attempts)))
			if !cancelRequested && next.After(t.ExpiresAt) {
				next = t.ExpiresAt // the cancel is requested on time
			}
			sched.Ids = append(sched.Ids, t.ID)
			sched.NextAttemptAts = append(sched.NextAttemptAts, next)
			sched.Cancels = append(sched.Cancels, cancelRequested)
			toRegion, err := shard.UserRegion(t.ToUserID)
			if err != nil {
				return err
			}
			msg := Message{Type: msgType, TransferID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Currency: t.Currency, Amount: t.Amount.String()}
			if msgType == MsgCredit {
				msg.Metadata = storedMetadata(t.Metadata)
				if t.RefundOf != nil {
					msg.RefundOf = *t.RefundOf
				}
			}
			msgs = append(msgs, outbox.Message{Region: toRegion, Key: t.ID, Type: msgType, Payload: msg.encode(), Trace: span.SpanContext()})
			if span.IsRecording() {
				span.AddEvent(step, trace.WithAttributes(tracing.TransferID(t.ID)))
			}
			steps.TransferIds = append(steps.TransferIds, t.ID)
			steps.Steps = append(steps.Steps, step)
			steps.Ats = append(steps.Ats, now.UTC().Truncate(time.Microsecond))
			counts[step]++
		}
		if len(sched.Ids) == 0 {
			return nil
		}
		if err := s.q.ScheduleAttempts(ctx, tx, sched); err != nil {
			return err
		}
		if err := s.q.AddStepsAt(ctx, tx, steps); err != nil {
			return err
		}
		return outbox.EnqueueTx(ctx, tx, msgs...)
	})
	if span != nil {
		tracing.End(span, err)
	}
	n := 0
	for step, c := range counts {
		s.metrics.steps.WithLabelValues("sweep", step).Add(float64(c))
		n += c
	}
	return n, err
}

// backoff is the wait before the attempt after attempts tries: resendAfter doubling
// up to resendMax, give or take a tenth, so transfers stuck by one fault do not all
// come back at once.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.resendAfter
	for range min(attempts, 20) {
		if d >= s.resendMax {
			break
		}
		d *= 2
	}
	d = min(d, s.resendMax)
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// RunSweep sweeps every shard until ctx ends. Every replica sweeps; SKIP LOCKED keeps
// them off each other's rows.
func (s *Service) RunSweep(ctx context.Context, logger *slog.Logger, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		for _, sh := range s.shards.All() {
			if _, err := s.SweepOnce(ctx, sh.Name); err != nil && ctx.Err() == nil {
				logger.Warn("sweeping pending transfers", "shard", sh.Name, "error", err.Error())
			}
		}
	}
}
