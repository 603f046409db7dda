package transfers

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
	"example.com/wallet/platform/tracing"
)

// Inbound is a decoded message of the region's TCC topic.
type Inbound struct {
	Message
	Amount money.Amount
	// Trace is the message's consume span (kafkabus.Message.Trace): its step's span is
	// a child of it, and the reply the step queues carries the step's.
	Trace trace.SpanContext
}

// DecodeInbound checks a message of the region's TCC topic and names its lane: the
// shard whose transaction applies it (the receiver's for credit and cancel, the
// sender's for replies). A message that is malformed, addressed to another region, or
// from a region this one does not know is refused: it can never be applied, and
// answering a region we cannot reach would only block the outbox. So is a message
// without the signature of the region that sends it (SignatureHeader).
func (s *Service) DecodeInbound(km kafkabus.Message) (Inbound, string, error) {
	m, amount, err := DecodeMessage(km.Value)
	if err != nil {
		return Inbound{}, "", err
	}
	senderRegion, _ := shard.TransferRegion(m.TransferID)
	switch m.Type {
	case MsgCredit, MsgCancel:
		if region, _ := shard.UserRegion(m.ToUserID); region != s.router().Region() {
			return Inbound{}, "", fmt.Errorf("%w: %s for receiver %s reached region %s", ErrMalformedMessage, m.Type, m.ToUserID, s.router().Region())
		}
		if !s.router().KnownRegion(senderRegion) {
			return Inbound{}, "", fmt.Errorf("%w: %s of transfer %s from region %s, which is not a peer of %s", ErrProtocolViolation, m.Type, m.TransferID, senderRegion, s.router().Region())
		}
		if err := s.checkSignature(m, km.Key, km.Value, km.Header(SignatureHeader)); err != nil {
			return Inbound{}, "", err
		}
		return Inbound{Message: m, Amount: amount, Trace: km.Trace}, s.shards.For(m.ToUserID).Name, nil
	default:
		if senderRegion != s.router().Region() {
			return Inbound{}, "", fmt.Errorf("%w: reply for transfer %s of region %s reached region %s", ErrMalformedMessage, m.TransferID, senderRegion, s.router().Region())
		}
		if err := s.checkSignature(m, km.Key, km.Value, km.Header(SignatureHeader)); err != nil {
			return Inbound{}, "", err
		}
		return Inbound{Message: m, Amount: amount, Trace: km.Trace}, s.shards.For(m.TransferID).Name, nil
	}
}

// ApplyInbound applies a batch of one shard's TCC messages in one transaction, in
// order: credits and cancels as the participant, replies as the coordinator. A
// transfer's messages are all of one side in one shard (its participant and its
// coordinator are on different shards), so the two sides never touch the same rows.
//
// The batch's transaction is one span (SpanApply, linked to every message's trace);
// each message's step is a span of its own trace, ended once the transaction committed.
func (s *Service) ApplyInbound(ctx context.Context, shardName string, batch []Inbound) (err error) {
	var participant, coordinator []Inbound
	var parents []trace.SpanContext
	for _, m := range batch {
		if m.Type == MsgCredit || m.Type == MsgCancel {
			participant = append(participant, m)
		} else {
			coordinator = append(coordinator, m)
		}
		if m.Trace.IsValid() {
			parents = append(parents, m.Trace)
		}
	}
	ctx, span := tracing.StartBatch(ctx, SpanApply, len(batch), parents)
	defer func() { tracing.End(span, err) }()
	if span.IsRecording() {
		span.SetAttributes(tracing.ShardKey.String(shardName))
	}
	var observe []func()
	err = pgdb.InTx(ctx, s.shard(shardName).Pool, func(tx pgx.Tx) error {
		observe = observe[:0]
		// Locks in the order every path takes them: transfer keys, transfers, holds,
		// then every user's snapshot at once, in id order.
		pv, err := s.lockParticipantTx(ctx, tx, participant)
		if err != nil {
			return err
		}
		cv, err := s.lockCoordinatorTx(ctx, tx, coordinator)
		if err != nil {
			return err
		}
		postings, err := s.ledger.LockTx(ctx, tx, append(pv.receivers, cv.senders...)...)
		if err != nil {
			return err
		}
		if len(participant) > 0 {
			o, err := s.participateTx(ctx, tx, pv, postings, participant)
			if err != nil {
				return err
			}
			observe = append(observe, o...)
		}
		if len(coordinator) > 0 {
			o, err := s.coordinateTx(ctx, tx, cv, postings, coordinator)
			if err != nil {
				return err
			}
			observe = append(observe, o...)
		}
		return s.ledger.FlushTx(ctx, tx, postings)
	})
	if err != nil {
		return err
	}
	// Metrics only for what committed.
	for _, o := range observe {
		o()
	}
	return nil
}

// IsPermanent reports which failures retrying cannot cure: a malformed message, a
// protocol violation, and PostgreSQL's data and integrity errors (class 22 and 23),
// which the same message would meet again. Everything else (a shard away, a
// read-only replica during failover, a full disk, lock and statement timeouts,
// deadlocks, serialization failures, any connection error) is retried for as long as
// it lasts.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrMalformedMessage) || errors.Is(err, ErrProtocolViolation) || errors.Is(err, ErrBadSignature) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !pgdb.IsUnavailable(err) {
		class := pgErr.Code[:2]
		return class == "22" || class == "23"
	}
	return false
}
