package transfers

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// reasonCancelledBeforeCredit is the participant's reason for refusing a credit that
// arrived after the cancel it had already honoured.
const reasonCancelledBeforeCredit = "cancelled_before_credit"

// HandleCreditOrCancel is the participant's step, on the receiver's shard, in one
// transaction: read the transfer's barriers, decide (Participate), credit the receiver
// and write the barrier if it is new, and queue the reply to the sender's region.
func (s *Service) HandleCreditOrCancel(ctx context.Context, m Message, amount money.Amount) error {
	if region, _ := shard.UserRegion(m.ToUserID); region != s.router.Region() {
		return fmt.Errorf("%w: %s for receiver %s reached region %s", ErrMalformedMessage, m.Type, m.ToUserID, s.router.Region())
	}
	var decision ParticipantDecision
	err := pgdb.InTx(ctx, s.pool(m.ToUserID).Pool, func(tx pgx.Tx) error {
		// One transfer's credit and cancel are decided one at a time.
		if err := s.q.LockBarrierKey(ctx, tx, m.TransferID); err != nil {
			return err
		}
		var b Barrier
		credit, err := s.q.GetBarrier(ctx, tx, transfersdb.GetBarrierParams{TransferID: m.TransferID, Branch: MsgCredit})
		switch {
		case err == nil:
			b.CreditOutcome = credit.Outcome
			if credit.Reason != nil {
				b.CreditReason = *credit.Reason
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := s.q.GetBarrier(ctx, tx, transfersdb.GetBarrierParams{TransferID: m.TransferID, Branch: MsgCancel}); err == nil {
			b.Cancelled = true
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		exists := true
		if m.Type == MsgCredit && b.CreditOutcome == "" && !b.Cancelled {
			if exists, err = s.ledger.ExistsTx(ctx, tx, m.ToUserID); err != nil {
				return err
			}
		}
		decision = Participate(b, m.Type, exists)
		if decision.Credit {
			_, _, err := s.ledger.AppendTx(ctx, tx, ledger.EntryInput{UserID: m.ToUserID, Kind: ledger.KindTransferCredit, Amount: amount, TransferID: m.TransferID, Metadata: m.Metadata})
			if errors.Is(err, ledger.ErrBalanceLimit) {
				// The receiver cannot hold more: refuse instead of crediting.
				decision = ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: "receiver_balance_limit", Reply: MsgRefused}
			} else if err != nil {
				return err
			}
		}
		if decision.WriteCredit || decision.WriteCancel {
			branch := MsgCredit
			if decision.WriteCancel {
				branch = MsgCancel
			}
			var reason *string
			if decision.Reason != "" {
				reason = &decision.Reason
			}
			if _, err := s.q.InsertBarrier(ctx, tx, transfersdb.InsertBarrierParams{
				TransferID: m.TransferID, Branch: branch, ToUserID: m.ToUserID, FromUserID: m.FromUserID,
				Amount: amount, Outcome: decision.Outcome, Reason: reason, Metadata: ledger.CanonicalMetadata(m.Metadata),
			}); err != nil {
				return err
			}
		}
		reply := Message{Type: decision.Reply, TransferID: m.TransferID, FromUserID: m.FromUserID, ToUserID: m.ToUserID, Amount: m.Amount, Reason: decision.Reason}
		senderRegion, _ := shard.TransferRegion(m.TransferID)
		return outbox.EnqueueTx(ctx, tx, outbox.Message{Region: senderRegion, Key: m.TransferID, Type: reply.Type, Payload: reply.encode()})
	})
	if err != nil {
		return err
	}
	outcome := decision.Reply
	if !decision.WriteCredit && !decision.WriteCancel {
		outcome = "duplicate"
	}
	s.metrics.steps.WithLabelValues("participant_"+m.Type, outcome).Inc()
	return nil
}
