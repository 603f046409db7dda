package transfers

import (
	"context"
	"errors"
	"slices"

	"example.com/wallet/platform/account"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/shard"
)

// Reasons a participant refuses a credit.
const (
	// reasonCancelledBeforeCredit: the credit arrived after the cancel the participant
	// had already honoured.
	reasonCancelledBeforeCredit = "cancelled_before_credit"
	// ReasonReceiverBalanceLimit: the credit would take the receiver's balance past
	// what the ledger can hold.
	ReasonReceiverBalanceLimit = "receiver_balance_limit"
)

// participantView is what the participant knows of a batch's transfers, read under
// their keys' locks.
type participantView struct {
	known     map[string]Barrier
	receivers []string
}

// lockParticipantTx serializes the decisions of each transfer in batch (its key
// locked, in id order) and reads what the participant knows of every one of them at
// once.
func (s *Service) lockParticipantTx(ctx context.Context, tx pgx.Tx, batch []Inbound) (participantView, error) {
	var ids []string
	v := participantView{known: map[string]Barrier{}}
	for _, m := range batch {
		ids = append(ids, m.TransferID)
		v.receivers = append(v.receivers, m.ToUserID)
	}
	if len(ids) == 0 {
		return v, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if err := s.q.LockBarrierKeys(ctx, tx, ids); err != nil {
		return v, err
	}
	rows, err := s.q.GetBarriers(ctx, tx, ids)
	if err != nil {
		return v, err
	}
	for _, r := range rows {
		b := v.known[r.TransferID]
		if r.Branch == MsgCancel {
			b.Cancelled = true
		} else {
			b.CreditOutcome = r.Outcome
			if r.Reason != nil {
				b.CreditReason = *r.Reason
			}
		}
		v.known[r.TransferID] = b
	}
	return v, nil
}

// participateTx is the participant's step for a batch of credits and cancels on the
// receivers' shard, in the caller's transaction, once lockParticipantTx has run and
// the receivers' snapshots are locked in postings. It decides each message in order
// with Participate (so a credit and a cancel of one transfer in the same batch see
// each other), credits receivers through postings, and queues the new barriers and
// the replies; the caller flushes postings. It returns the metrics to record once
// the transaction has committed.
func (s *Service) participateTx(ctx context.Context, tx pgx.Tx, v participantView, postings *ledger.Postings, batch []Inbound) ([]func(), error) {
	var barriers transfersdb.InsertBarriersParams
	var replies []outbox.Message
	var credited []events.Event
	var observe []func()
	for _, m := range batch {
		// The step's span is ended with the metrics, once the transaction committed; a
		// rolled-back attempt's spans are dropped unended.
		span := startStep(ctx, m.Trace, m.Type, m.TransferID)
		b := v.known[m.TransferID]
		decision := Participate(b, m.Type, postings.Has(m.ToUserID))
		code := m.Currency
		if code == "" {
			// A message from before currencies: the unit every region then held, which
			// became each one's default, and so the receiver's.
			code = postings.DefaultCurrency(m.ToUserID)
		}
		if decision.Credit && !s.knownCurrency(code) {
			decision = ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: ReasonUnknownCurrency, Reply: MsgRefused}
		}
		if decision.Credit {
			posted, err := postings.Post(ledger.EntryInput{UserID: m.ToUserID, Kind: ledger.KindTransferCredit, Currency: code, Amount: m.Amount, TransferID: m.TransferID, Metadata: m.Metadata})
			if err == nil {
				credited = append(credited, creditEvent(posted[0], m.FromUserID, m.RefundOf))
			}
			switch {
			case errors.Is(err, ledger.ErrBalanceLimit):
				// The receiver cannot hold more: refuse, and the sender's hold is released.
				decision = ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: ReasonReceiverBalanceLimit, Reply: MsgRefused}
			case errors.Is(err, account.ErrClosed):
				// The receiver's account was closed (perhaps while the transfer was in
				// flight): refuse, and the sender's hold is released.
				decision = ParticipantDecision{WriteCredit: true, Outcome: MsgRefused, Reason: ReasonReceiverClosed, Reply: MsgRefused}
			case err != nil:
				return nil, err
			}
		}
		if decision.WriteCredit || decision.WriteCancel {
			branch := MsgCredit
			if decision.WriteCancel {
				branch, b.Cancelled = MsgCancel, true
			} else {
				b.CreditOutcome, b.CreditReason = decision.Outcome, decision.Reason
			}
			v.known[m.TransferID] = b
			barriers.TransferIds = append(barriers.TransferIds, m.TransferID)
			barriers.Branches = append(barriers.Branches, branch)
			barriers.ToUserIds = append(barriers.ToUserIds, m.ToUserID)
			barriers.FromUserIds = append(barriers.FromUserIds, m.FromUserID)
			barriers.Currencies = append(barriers.Currencies, code)
			barriers.Amounts = append(barriers.Amounts, m.Amount.String())
			barriers.Outcomes = append(barriers.Outcomes, decision.Outcome)
			barriers.Reasons = append(barriers.Reasons, decision.Reason)
			barriers.Metadata = append(barriers.Metadata, string(metadata.Canonical(m.Metadata)))
			barriers.RefundOfs = append(barriers.RefundOfs, m.RefundOf)
		}
		reply := Message{Type: decision.Reply, TransferID: m.TransferID, FromUserID: m.FromUserID, ToUserID: m.ToUserID, Currency: m.Currency, Amount: m.Amount.String(), Reason: decision.Reason}
		senderRegion, _ := shard.TransferRegion(m.TransferID)
		replies = append(replies, outbox.Message{Region: senderRegion, Key: m.TransferID, Type: reply.Type, Payload: reply.encode(), Trace: span.SpanContext()})
		outcome := decision.Reply
		if !decision.WriteCredit && !decision.WriteCancel {
			outcome = "duplicate"
		}
		setOutcome(span, outcome, decision.Reason)
		step := "participant_" + m.Type
		observe = append(observe, func() { s.metrics.steps.WithLabelValues(step, outcome).Inc(); span.End() })
	}
	if len(barriers.TransferIds) > 0 {
		if err := s.q.InsertBarriers(ctx, tx, barriers); err != nil {
			return nil, err
		}
	}
	announced, err := events.Outbox(s.router().Region(), credited)
	if err != nil {
		return nil, err
	}
	return observe, outbox.EnqueueTx(ctx, tx, append(replies, announced...)...)
}
