package transfers

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/tracing"
)

// TestEveryStepIsASpanOfTheTransfersTrace follows a cross-shard transfer through its
// steps, with the outbox rows standing in for the relay and Kafka: the try is a child
// of the request and its hold transaction a child of the try; the credit message
// carries the try's context; the credit is a child of the message's consume span and
// its reply carries the credit's context; the capture is a child of the reply's
// consume span. Each step's span names the transfer.
func TestEveryStepIsASpanOfTheTransfersTrace(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	defer tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))()
	f := newFixture(t)
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu1", "0")

	ctx, request := tracing.Start(context.Background(), "request")
	created, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("40"), Key: "traced"}, answerLine)
	request.End()
	if err != nil || created.Transfer.Status != StatusPending {
		t.Fatalf("= %+v, %v", created, err)
	}
	id := created.Transfer.ID
	traceID := request.SpanContext().TraceID()
	spans := func() map[string][]tracetest.SpanStub {
		out := map[string][]tracetest.SpanStub{}
		for _, s := range exporter.GetSpans() {
			if s.SpanContext.TraceID() == traceID {
				out[s.Name] = append(out[s.Name], s)
			}
		}
		return out
	}
	transferOf := func(s tracetest.SpanStub) string {
		for _, a := range s.Attributes {
			if a.Key == tracing.TransferIDKey {
				return a.Value.AsString()
			}
		}
		return ""
	}
	one := func(name string, parent trace.SpanContext) tracetest.SpanStub {
		t.Helper()
		got := spans()[name]
		if len(got) != 1 || got[0].Parent.SpanID() != parent.SpanID() {
			t.Fatalf("%q spans %+v, want one child of %v", name, got, parent.SpanID())
		}
		return got[0]
	}
	try := one(SpanTry, request.SpanContext())
	if transferOf(try) != id {
		t.Fatalf("the try names transfer %q, want %q", transferOf(try), id)
	}
	batch := one(pgdb.SpanBatch, try.SpanContext)
	one(pgdb.SpanTransaction, batch.SpanContext)

	// deliver reads the message the outbox of shard holds for the transfer, checks the
	// context it carries, and applies it on shard lane as the consumer would, in a
	// consume span that is a child of that context.
	deliver := func(fromShard, msgType string, wantParent trace.SpanContext, lane string) trace.SpanContext {
		t.Helper()
		var payload []byte
		var stored *string
		sh, _ := f.shards.Named(fromShard)
		if err := sh.Pool.QueryRow(context.Background(),
			`SELECT payload, trace_context FROM outbox WHERE key = $1 AND type = $2`, id, msgType).Scan(&payload, &stored); err != nil {
			t.Fatal(err)
		}
		carried := tracing.Decode(stored)
		if carried.SpanID() != wantParent.SpanID() || carried.TraceID() != traceID {
			t.Fatalf("the %s message carries %v, want %v", msgType, carried, wantParent)
		}
		m, amount, err := DecodeMessage(payload)
		if err != nil {
			t.Fatal(err)
		}
		_, consume := tracing.StartFrom(context.Background(), carried, "consume")
		consume.End()
		if err := f.svc.ApplyInbound(context.Background(), lane, []Inbound{{Message: m, Amount: amount, Trace: consume.SpanContext()}}); err != nil {
			t.Fatal(err)
		}
		return consume.SpanContext()
	}
	consumeCredit := deliver("eu0", MsgCredit, try.SpanContext, "eu1")
	credit := one("tcc "+StepCredit, consumeCredit)
	if transferOf(credit) != id {
		t.Fatalf("the credit names transfer %q, want %q", transferOf(credit), id)
	}
	apply := one(SpanApply, consumeCredit)
	var underApply int
	for _, tx := range spans()[pgdb.SpanTransaction] {
		if tx.Parent.SpanID() == apply.SpanContext.SpanID() {
			underApply++
		}
	}
	if underApply != 1 {
		t.Fatalf("%d transactions under the credit's batch, want 1", underApply)
	}

	consumeReply := deliver("eu1", MsgCredited, credit.SpanContext, "eu0")
	capture := one("tcc "+StepCapture, consumeReply)
	if transferOf(capture) != id {
		t.Fatalf("the capture names transfer %q, want %q", transferOf(capture), id)
	}
	if b, fr := f.balance(t, from); b != "60" || fr != "0" {
		t.Fatalf("sender %s frozen %s after the capture, want 60 and 0", b, fr)
	}
}
