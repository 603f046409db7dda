package outbox

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/tracing"
)

// TestTheRelayPublishesInTheWritersTrace: a message keeps the trace of the step that
// wrote it through the outbox row, and the relay, in another goroutine, publishes it
// in a producer span that is a child of that step and hands Publish that span's
// context for the message's headers. A message written outside any trace is stored
// without one.
func TestTheRelayPublishesInTheWritersTrace(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	restore := tracing.Install(tp)
	defer restore()

	shards, _ := pgtest.NewShards(t, "s0")
	pool := shards["s0"].Pool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, step := tracing.Start(ctx, "tcc try")
	traced := Message{Region: "x", Key: "eu_T1", Type: "credit", Payload: []byte("1"), Trace: step.SpanContext()}
	step.End()
	untraced := Message{Region: "x", Key: "eu_T2", Type: "credit", Payload: []byte("2")}
	if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error { return EnqueueTx(ctx, tx, traced, untraced) }); err != nil {
		t.Fatal(err)
	}
	var stored []*string
	rows, err := pool.Query(ctx, `SELECT trace_context FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s *string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, s)
	}
	if len(stored) != 2 || stored[0] == nil || stored[1] != nil {
		t.Fatalf("stored trace contexts = %v, want the traced message's and NULL", stored)
	}
	if got := tracing.Decode(stored[0]); got.TraceID() != step.SpanContext().TraceID() || got.SpanID() != step.SpanContext().SpanID() {
		t.Fatalf("stored %s decodes to %v, want the step's context %v", *stored[0], got, step.SpanContext())
	}

	published := make(chan []Message, 4)
	relay := &Relay{Shard: "s0", Pool: pool, Regions: []string{"x"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: NewMetrics(prometheus.NewRegistry()),
		Publish: func(_ context.Context, msgs []Message) error { published <- msgs; return nil }}
	relayCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(relayCtx) }()
	var msgs []Message
	select {
	case msgs = <-published:
	case <-ctx.Done():
		t.Fatal("nothing published")
	}
	stop()
	<-done

	if len(msgs) != 2 {
		t.Fatalf("published %d messages, want 2", len(msgs))
	}
	var publishSpans []sdktrace.ReadOnlySpan
	for _, s := range exporter.GetSpans().Snapshots() {
		if s.Name() == SpanPublish {
			publishSpans = append(publishSpans, s)
		}
	}
	if len(publishSpans) != 2 {
		t.Fatalf("%d publish spans, want 2", len(publishSpans))
	}
	byKey := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range publishSpans {
		for _, a := range s.Attributes() {
			if a.Key == tracing.TransferIDKey {
				byKey[a.Value.AsString()] = s
			}
		}
	}
	child := byKey["eu_T1"]
	if child == nil || child.Parent().SpanID() != step.SpanContext().SpanID() || child.SpanContext().TraceID() != step.SpanContext().TraceID() ||
		child.SpanKind() != trace.SpanKindProducer {
		t.Fatalf("publish span of the traced message = %+v, want a producer child of the step %v", child, step.SpanContext())
	}
	if !msgs[0].Trace.Equal(child.SpanContext()) {
		t.Fatalf("Publish got trace %v for the traced message, want its publish span's %v", msgs[0].Trace, child.SpanContext())
	}
	root := byKey["eu_T2"]
	if root == nil || root.Parent().IsValid() || root.SpanContext().TraceID() == step.SpanContext().TraceID() {
		t.Fatalf("publish span of the untraced message = %+v, want a root of its own trace", root)
	}
	if !msgs[1].Trace.Equal(root.SpanContext()) {
		t.Fatalf("Publish got trace %v for the untraced message, want its publish span's %v", msgs[1].Trace, root.SpanContext())
	}
}
