package kafkabus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/tracing"
)

// TestTheConsumeSpanIsAChildOfTheProducer: a message's trace headers reach the
// consumer through a real broker, the consumer's span of the message is a child of the
// producer's span and ends once the message is applied, and the handler sees that
// span's context. A message without trace headers gets a root span of its own.
func TestTheConsumeSpanIsAChildOfTheProducer(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	restore := tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))
	defer restore()

	brokers := testBrokers(t)
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deleteAfter(t, brokers, topic, topic+".dlq")
	if err := EnsureTopics(ctx, brokers, 1, topic, topic+".dlq"); err != nil {
		t.Fatal(err)
	}
	_, producer := tracing.Start(ctx, "producer", trace.WithSpanKind(trace.SpanKindProducer))
	producer.End()
	headers := TraceHeaders(producer.SpanContext())
	if len(headers) != 1 || headers[0].Key != "traceparent" {
		t.Fatalf("trace headers %v, want one traceparent", headers)
	}
	if TraceHeaders(trace.SpanContext{}) != nil {
		t.Fatal("an invalid context made headers")
	}
	w := NewWriter(brokers)
	defer w.Close()
	if err := w.WriteMessages(ctx,
		kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("x-traced"), Headers: headers},
		kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("x-bare")},
	); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]trace.SpanContext{}
	rec := &recorder{applied: map[string][]string{}}
	c := newTestConsumer(t, brokers, group, topic, rec)
	decode := c.Decode
	c.Decode = func(m Message) (string, string, error) {
		mu.Lock()
		seen[string(m.Value)] = m.Trace
		mu.Unlock()
		return decode(m)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	processed := func() map[string]sdktrace.ReadOnlySpan {
		out := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range exporter.GetSpans().Snapshots() {
			if s.Name() == SpanProcess {
				out[s.SpanContext().TraceID().String()] = s
			}
		}
		return out
	}
	waitFor(t, 30*time.Second, "both messages applied and their spans ended", func() bool { return rec.count("x") == 2 && len(processed()) == 2 })
	stop()
	<-done
	c.Reader.Close()
	c.DeadLetters.Close()

	spans := processed()
	child := spans[producer.SpanContext().TraceID().String()]
	if child == nil || child.Parent().SpanID() != producer.SpanContext().SpanID() || child.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("consume span of the traced message = %+v, want a consumer child of %v", child, producer.SpanContext())
	}
	mu.Lock()
	defer mu.Unlock()
	if !seen["x-traced"].Equal(child.SpanContext()) {
		t.Fatalf("the handler saw %v, want the consume span's context %v", seen["x-traced"], child.SpanContext())
	}
	bare := seen["x-bare"]
	if !bare.IsValid() || bare.TraceID() == producer.SpanContext().TraceID() || spans[bare.TraceID().String()].Parent().IsValid() {
		t.Fatalf("the message without headers: context %v, want a root span of its own", bare)
	}
}
