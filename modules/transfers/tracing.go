package transfers

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/tracing"
)

// The spans of the TCC protocol. One cross-region transfer's trace reads, region by
// region: the request's server span, SpanTry (its hold, in a db batch and a db
// transaction), the sender relay's "outbox publish"; the receiver's "kafka process",
// "tcc credit" (or "tcc cancel", refusals included, with its outcome) and its
// SpanApply batch; the receiver relay's publish of the reply; then the sender's
// "kafka process" and "tcc capture" (or "tcc release"). Every one carries the transfer
// id (tracing.TransferIDKey).
const (
	// SpanTry is the Try of a transfer request: the hold and the pending transfer for
	// another shard or region, or the whole transfer on one shard.
	SpanTry = "tcc try"
	// SpanApply is one consumer lane's transaction over a batch of messages: a child
	// of the first message's consume span, linked to the others.
	SpanApply = "tcc apply"
	// SpanSweep is a recovery sweep that found work: the resent credits and cancels
	// it queues are in its trace.
	SpanSweep = "tcc sweep"
)

// Step span names: "tcc " and the step.
const (
	StepCredit  = "credit"  // the participant's credit (or its refusal)
	StepCancel  = "cancel"  // the participant's answer to a cancel
	StepCapture = "capture" // the coordinator captures the hold
	StepRelease = "release" // the coordinator releases the hold
	StepReply   = "reply"   // a reply for a transfer already final: a duplicate
)

// startStep starts the span of one message's protocol step, a child of the span the
// message came with (its consume span). It is ended by the caller once the step's
// transaction committed, so its duration is the step's, durability included. With
// tracing off and nothing to carry it builds nothing.
func startStep(ctx context.Context, parent trace.SpanContext, step, transferID string) trace.Span {
	if !tracing.Wanted(parent) {
		return trace.SpanFromContext(context.Background())
	}
	_, span := tracing.StartFrom(ctx, parent, "tcc "+step, trace.WithAttributes(tracing.TransferID(transferID)))
	return span
}

// setOutcome records a step's outcome on its span.
func setOutcome(span trace.Span, outcome string, reason string) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(tracing.OutcomeKey.String(outcome))
	if reason != "" {
		span.SetAttributes(attribute.String("wallet.reason", reason))
	}
}

// startTry starts a transfer request's SpanTry, a child of the request's span.
func startTry(ctx context.Context, r Request) (context.Context, trace.Span) {
	if !tracing.Wanted(trace.SpanContextFromContext(ctx)) {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracing.Start(ctx, SpanTry, trace.WithAttributes(attribute.String("wallet.from_user_id", r.FromUserID),
		attribute.String("wallet.to_user_id", r.ToUserID)))
}

// endTry ends a SpanTry with what the request became: its transfer id and outcome, or
// its refusal. A refusal (insufficient funds, a reused key, ...) is the wallet doing
// its job, so only a failure (a shard away) marks the span failed.
func endTry(span trace.Span, res createResult, err error) {
	if !span.IsRecording() {
		return
	}
	switch {
	case err == nil:
		span.SetAttributes(tracing.TransferID(res.created.Transfer.ID), tracing.OutcomeKey.String(res.outcome))
	case isRefusal(err) || errors.Is(err, ErrBacklogged) || errors.Is(err, idempotency.ErrReused) || errors.Is(err, idempotency.ErrInFlight):
		span.SetAttributes(tracing.OutcomeKey.String("refused"), attribute.String("wallet.reason", err.Error()))
		err = nil
	}
	tracing.End(span, err)
}
