package transfers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// ErrProtocolViolation marks a message that contradicts the protocol (for example
// "credited" for a cancelled transfer). Applying it would lose or create money, so it
// is never applied: the consumer dead-letters it for a human.
var ErrProtocolViolation = errors.New("TCC protocol violation")

// HandleReply is the coordinator's confirm step, on the sender's shard, in one
// transaction: capture the hold on "credited", release it on "refused" or
// "cancelled". Replies for a transfer already final are duplicates and change nothing.
func (s *Service) HandleReply(ctx context.Context, m Message) error {
	if region, _ := shard.TransferRegion(m.TransferID); region != s.router.Region() {
		return fmt.Errorf("%w: reply for transfer %s of region %s reached region %s", ErrMalformedMessage, m.TransferID, region, s.router.Region())
	}
	var decision CoordinatorDecision
	var t transfersdb.Transfer
	err := pgdb.InTx(ctx, s.pool(m.TransferID).Pool, func(tx pgx.Tx) error {
		var err error
		t, err = s.q.GetTransferForUpdate(ctx, tx, m.TransferID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %s reply for unknown transfer %s", ErrProtocolViolation, m.Type, m.TransferID)
		}
		if err != nil {
			return err
		}
		decision = Coordinate(t.Status, t.CancelRequestedAt != nil, m.Type)
		if decision.Violation != "" {
			return fmt.Errorf("%w: transfer %s: %s", ErrProtocolViolation, m.TransferID, decision.Violation)
		}
		switch decision.Action {
		case ActCapture:
			if _, err := s.ledger.CaptureTx(ctx, tx, m.TransferID); err != nil {
				return err
			}
			if err := s.q.FinishTransfer(ctx, tx, transfersdb.FinishTransferParams{ID: m.TransferID, Status: StatusCompleted}); err != nil {
				return err
			}
			return s.addSteps(ctx, tx, m.TransferID, MsgCredited, "captured", StatusCompleted)
		case ActRelease:
			if _, err := s.ledger.ReleaseTx(ctx, tx, m.TransferID); err != nil {
				return err
			}
			reason := m.Reason
			if reason == "" || reason == reasonCancelledBeforeCredit {
				reason = ReasonExpired
			}
			if err := s.q.FinishTransfer(ctx, tx, transfersdb.FinishTransferParams{ID: m.TransferID, Status: StatusCancelled, Reason: &reason}); err != nil {
				return err
			}
			return s.addSteps(ctx, tx, m.TransferID, m.Type, "released", StatusCancelled)
		}
		return nil
	})
	if err != nil {
		return err
	}
	outcome := decision.Action.String()
	if decision.Action == ActNone {
		outcome = "duplicate"
	}
	s.metrics.steps.WithLabelValues("confirm_"+m.Type, outcome).Inc()
	if decision.Action == ActCapture || decision.Action == ActRelease {
		s.metrics.completion.WithLabelValues(decision.Status).Observe(time.Since(t.CreatedAt).Seconds())
	}
	return nil
}

// ExpireOnce asks the participants of pending transfers past their TTL on one shard
// to cancel, and returns how many it asked. The hold is not released here: only the
// participant's answer may release it, since the credit may already have happened.
func (s *Service) ExpireOnce(ctx context.Context, shardName string) (int, error) {
	n := 0
	err := pgdb.InTx(ctx, s.shards[shardName].Pool, func(tx pgx.Tx) error {
		n = 0
		ids, err := s.q.ExpiredPending(ctx, tx, 100)
		if err != nil {
			return err
		}
		for _, id := range ids {
			t, err := s.q.GetTransfer(ctx, tx, id)
			if err != nil {
				return err
			}
			if Coordinate(t.Status, t.CancelRequestedAt != nil, EventExpired).Action != ActRequestCancel {
				continue
			}
			if err := s.q.MarkCancelRequested(ctx, tx, id); err != nil {
				return err
			}
			toRegion, err := shard.UserRegion(t.ToUserID)
			if err != nil {
				return err
			}
			msg := Message{Type: MsgCancel, TransferID: id, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Amount: t.Amount.String()}
			if err := outbox.EnqueueTx(ctx, tx, outbox.Message{Region: toRegion, Key: id, Type: MsgCancel, Payload: msg.encode()}); err != nil {
				return err
			}
			if err := s.addSteps(ctx, tx, id, "cancel_requested"); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if n > 0 {
		s.metrics.steps.WithLabelValues("expire", "cancel_requested").Add(float64(n))
	}
	return n, err
}

// RunExpiry sweeps every shard for expired transfers until ctx ends. Every replica
// sweeps; SKIP LOCKED keeps them off each other's rows.
func (s *Service) RunExpiry(ctx context.Context, logger *slog.Logger, every time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		for name := range s.shards {
			if _, err := s.ExpireOnce(ctx, name); err != nil && ctx.Err() == nil {
				logger.Warn("expiring transfers", "shard", name, "error", err.Error())
			}
		}
	}
}
