// Package tracing is the wallet's OpenTelemetry tracing: the process's tracer (an
// OTLP/HTTP exporter when tracing.otlp_endpoint is set, a no-op otherwise), the W3C
// Trace Context propagation every hop uses (HTTP headers, Kafka headers, the outbox
// column), and the few ways the wallet starts a span.
//
// One trace follows a transfer across goroutines, replicas and regions: the gateway's
// traceparent parents the request's span; the outbox row keeps the span context of the
// step that wrote it (Encode, Decode), so the relay that publishes it later, perhaps on
// another replica, parents its publish span on it; the message's Kafka headers carry the
// publish span's context to the consumer of the other region, and so on back.
//
// The tracer is process-wide, like the Prometheus registry's metrics are per process:
// spans start in free functions (pgdb.InTx) and in every module, and threading a tracer
// through each of them would change a hundred signatures for no gain. Setup installs it
// once at start-up; Install exists for tests.
package tracing

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// scope names the wallet's instrumentation in every span it exports.
const scope = "example.com/wallet"

// Attribute keys the wallet puts on its spans, so a trace backend finds a transfer's or
// a request's spans by them.
const (
	TransferIDKey = attribute.Key("wallet.transfer_id")
	RequestIDKey  = attribute.Key("wallet.request_id")
	ShardKey      = attribute.Key("wallet.shard")
	OutcomeKey    = attribute.Key("wallet.outcome")
	BatchSizeKey  = attribute.Key("wallet.batch_size")
)

// TransferID is the attribute naming a span's transfer.
func TransferID(id string) attribute.KeyValue { return TransferIDKey.String(id) }

// RequestID is the attribute naming a span's HTTP request id (X-Request-Id).
func RequestID(id string) attribute.KeyValue { return RequestIDKey.String(id) }

// state is the installed tracer and whether it records anything.
type state struct {
	tracer  trace.Tracer
	enabled bool
}

var current atomic.Pointer[state]

var noopTracer = noop.NewTracerProvider().Tracer(scope)

func load() *state {
	if s := current.Load(); s != nil {
		return s
	}
	return &state{tracer: noopTracer}
}

// Install makes tp the process's tracer provider and returns what restores the one
// before. Tests install an SDK provider with an in-memory exporter; Setup installs
// the configured one.
func Install(tp trace.TracerProvider) (restore func()) {
	_, isNoop := tp.(noop.TracerProvider)
	prev := current.Swap(&state{tracer: tp.Tracer(scope), enabled: !isNoop})
	return func() { current.Store(prev) }
}

// Enabled reports whether spans are recorded and exported (a tracer provider other
// than the no-op is installed).
func Enabled() bool { return load().enabled }

// propagator is W3C Trace Context (traceparent, tracestate): what gateways send and
// what every hop of the wallet carries.
var propagator = propagation.TraceContext{}

// Wanted reports whether a span started from parent would be anything: tracing is on,
// or parent is a context to carry. Hot paths ask before they build a span's attributes.
func Wanted(parent trace.SpanContext) bool { return parent.IsValid() || load().enabled }

// Start starts a span named name as a child of ctx's span (or a root). With tracing off
// and no span in ctx it allocates nothing and returns ctx with a span that does
// nothing.
func Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	s := load()
	if !s.enabled && !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return s.tracer.Start(ctx, name, opts...)
}

// StartFrom starts a span named name as a child of parent: a span context that came
// from another goroutine, replica or region (an outbox row, a Kafka message, a queued
// request). An invalid parent starts a root span when tracing is on, and nothing at all
// when it is off.
//
// With tracing off, a valid parent is carried forward unchanged (the returned span does
// nothing but carries parent's context), so a traceparent that came in still goes out:
// a region that does not trace does not cut the trace of one that does.
func StartFrom(ctx context.Context, parent trace.SpanContext, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	return Start(ctx, name, opts...)
}

// StartBatch starts the span of work that serves several traces at once (one
// transaction for many requests or messages): a child of the first sampled parent (the
// first valid one when none is sampled), linked to every other valid parent. A lone
// request therefore gets a plain parent-child tree, and a batch costs one span however
// many requests share it; size, the batch's number of requests or messages, is an
// attribute. With no valid parent it starts nothing.
//
// The SDK keeps at most 128 links per span by default; a larger batch records the
// first 128 and counts the rest as dropped.
func StartBatch(ctx context.Context, name string, size int, parents []trace.SpanContext, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	first := -1
	for i, p := range parents {
		if !p.IsValid() {
			continue
		}
		if first < 0 || (p.IsSampled() && !parents[first].IsSampled()) {
			first = i
		}
		if p.IsSampled() {
			break
		}
	}
	if first < 0 {
		return ctx, trace.SpanFromContext(ctx)
	}
	if load().enabled {
		links := make([]trace.Link, 0, len(parents)-1)
		for i, p := range parents {
			if i != first && p.IsValid() && !p.Equal(parents[first]) {
				links = append(links, trace.Link{SpanContext: p})
			}
		}
		opts = append(opts, trace.WithLinks(links...), trace.WithAttributes(BatchSizeKey.Int(size)))
	}
	return StartFrom(ctx, parents[first], name, opts...)
}

// End ends span, marking it failed with err when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Inject writes sc into carrier as W3C headers (traceparent, and tracestate when there
// is one). An invalid sc writes nothing.
func Inject(sc trace.SpanContext, carrier propagation.TextMapCarrier) {
	if !sc.IsValid() {
		return
	}
	propagator.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
}

// Extract reads the span context W3C headers in carrier describe; it is invalid when
// there is none or it is malformed. It is marked remote.
func Extract(carrier propagation.TextMapCarrier) trace.SpanContext {
	return trace.SpanContextFromContext(propagator.Extract(context.Background(), carrier))
}

// Fields are the header names Inject writes, which a hop that re-injects must clear
// first so a stale or malformed incoming value never travels on.
func Fields() []string { return propagator.Fields() }

// Encode is sc as the outbox stores it: the W3C headers as a JSON object
// ({"traceparent": "00-...-01"}), or nil (SQL NULL) when sc is invalid, which is what a
// message written outside any trace (tracing off, nothing came in) stores.
func Encode(sc trace.SpanContext) *string {
	if !sc.IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	Inject(sc, carrier)
	b, err := json.Marshal(carrier)
	if err != nil {
		return nil // a map of strings always marshals
	}
	s := string(b)
	return &s
}

// Decode is the span context Encode stored; nil, empty or unreadable text (a row
// written before the column existed, say) is an invalid context, never an error: a
// message is relayed whatever its trace.
func Decode(stored *string) trace.SpanContext {
	if stored == nil || *stored == "" {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{}
	if err := json.Unmarshal([]byte(*stored), &carrier); err != nil {
		return trace.SpanContext{}
	}
	return Extract(carrier)
}
