package tracing

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// What a hot path pays per request or message: with tracing off and nothing coming in,
// nothing at all (the benchmark asserts zero allocations); with a traceparent to carry,
// a context value.
func BenchmarkSpansOff(b *testing.B) {
	defer Install(noop.NewTracerProvider())()
	ctx := context.Background()
	b.Run("no incoming context", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, span := StartFrom(ctx, trace.SpanContext{}, "step")
			span.End()
			_, batch := StartBatch(ctx, "batch", 1, nil)
			batch.End()
		}
		if n := testing.AllocsPerRun(100, func() {
			_, span := StartFrom(ctx, trace.SpanContext{}, "step")
			span.End()
		}); n != 0 {
			b.Fatalf("%v allocations per span with tracing off, want 0", n)
		}
	})
	parent := Extract(propagation.MapCarrier{"traceparent": gatewayParent})
	b.Run("carrying a traceparent", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, span := StartFrom(ctx, parent, "step")
			span.End()
		}
	})
}

// With tracing on, a span and its export to an in-memory exporter (the SDK's own cost;
// the OTLP exporter batches off the request path).
func BenchmarkSpansOn(b *testing.B) {
	defer Install(sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter())))()
	ctx := context.Background()
	parent := Extract(propagation.MapCarrier{"traceparent": gatewayParent})
	b.ReportAllocs()
	for range b.N {
		_, span := StartFrom(ctx, parent, "step", trace.WithAttributes(TransferID("eu_01JD")))
		span.End()
	}
}
