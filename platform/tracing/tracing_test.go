package tracing

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

const gatewayParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func installMemory(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exporter := tracetest.NewInMemoryExporter()
	restore := Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))
	t.Cleanup(restore)
	return exporter
}

// Every hop's carrier: HTTP headers, Kafka headers (a map) and the outbox column carry
// the same span context, tracestate included.
func TestContextSurvivesEveryCarrier(t *testing.T) {
	in := http.Header{}
	in.Set("traceparent", gatewayParent)
	in.Set("tracestate", "vendor=x")
	sc := Extract(propagation.HeaderCarrier(in))
	if !sc.IsValid() || !sc.IsRemote() || !sc.IsSampled() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		sc.SpanID().String() != "00f067aa0ba902b7" || sc.TraceState().String() != "vendor=x" {
		t.Fatalf("extracted %+v from %v", sc, in)
	}
	headers := map[string]string{}
	Inject(sc, propagation.MapCarrier(headers))
	if headers["traceparent"] != gatewayParent || headers["tracestate"] != "vendor=x" || len(headers) != 2 {
		t.Fatalf("injected %v", headers)
	}
	stored := Encode(Extract(propagation.MapCarrier(headers)))
	if stored == nil {
		t.Fatal("a valid context stored as NULL")
	}
	back := Decode(stored)
	if !back.Equal(sc) {
		t.Fatalf("outbox round trip: %+v, want %+v (stored %s)", back, sc, *stored)
	}
}

func TestNoContextIsNothing(t *testing.T) {
	cases := []struct {
		name   string
		header string
	}{
		{"absent", ""},
		{"malformed", "00-xyz-00f067aa0ba902b7-01"},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.header != "" {
				h["traceparent"] = c.header
			}
			sc := Extract(propagation.MapCarrier(h))
			if sc.IsValid() {
				t.Fatalf("%q extracted as valid %+v", c.header, sc)
			}
			if Encode(sc) != nil {
				t.Fatal("an invalid context is stored as something")
			}
			out := map[string]string{}
			Inject(sc, propagation.MapCarrier(out))
			if len(out) != 0 {
				t.Fatalf("an invalid context injected %v", out)
			}
		})
	}
	for _, stored := range []*string{nil, ptr(""), ptr("not json"), ptr(`{"traceparent":"junk"}`)} {
		if Decode(stored).IsValid() {
			t.Fatalf("Decode(%v) is valid", stored)
		}
	}
}

func ptr(s string) *string { return &s }

// StartFrom parents a span on a context that crossed goroutines or regions.
func TestStartFromIsAChildOfTheCarriedContext(t *testing.T) {
	exporter := installMemory(t)
	parent := Extract(propagation.MapCarrier{"traceparent": gatewayParent})
	_, span := StartFrom(context.Background(), parent, "child")
	span.End()
	spans := exporter.GetSpans()
	if len(spans) != 1 || spans[0].Parent.SpanID() != parent.SpanID() || spans[0].SpanContext.TraceID() != parent.TraceID() {
		t.Fatalf("spans = %+v, want one child of %v", spans, parent)
	}
}

// A batch's span is a child of its first sampled request and links the others; a
// batch of requests outside any trace makes no span.
func TestBatchSpanParentsOnTheFirstSampledAndLinksTheRest(t *testing.T) {
	exporter := installMemory(t)
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}})
	first := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{2}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	second := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{3}, SpanID: trace.SpanID{3}, TraceFlags: trace.FlagsSampled})
	_, span := StartBatch(context.Background(), "batch", 4, []trace.SpanContext{{}, unsampled, first, second})
	span.End()
	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	got := spans[0]
	if got.Parent.SpanID() != first.SpanID() || got.SpanContext.TraceID() != first.TraceID() {
		t.Fatalf("batch parent %v, want the first sampled request %v", got.Parent, first)
	}
	var linked []trace.SpanID
	for _, l := range got.Links {
		linked = append(linked, l.SpanContext.SpanID())
	}
	if len(linked) != 2 || linked[0] != unsampled.SpanID() || linked[1] != second.SpanID() {
		t.Fatalf("links %v, want the unsampled and the second request", linked)
	}

	exporter.Reset()
	ctx := context.Background()
	gotCtx, none := StartBatch(ctx, "batch", 2, []trace.SpanContext{{}, {}})
	none.End()
	if gotCtx != ctx || none.SpanContext().IsValid() || len(exporter.GetSpans()) != 0 {
		t.Fatal("a batch outside any trace made a span")
	}
}

// With tracing off nothing is recorded, yet an incoming context is carried through
// every span unchanged (a region that does not trace does not cut the trace), and
// without one no span exists at all.
func TestOffCarriesTheIncomingContextAndRecordsNothing(t *testing.T) {
	restore := Install(noop.NewTracerProvider())
	defer restore()
	if Enabled() {
		t.Fatal("the no-op provider reports enabled")
	}
	parent := Extract(propagation.MapCarrier{"traceparent": gatewayParent})
	ctx, span := StartFrom(context.Background(), parent, "step")
	if span.IsRecording() || !span.SpanContext().Equal(parent) {
		t.Fatalf("off: span %+v, want the incoming context %v carried, not recorded", span.SpanContext(), parent)
	}
	_, child := Start(ctx, "transaction")
	if !child.SpanContext().Equal(parent) {
		t.Fatalf("off: nested span %+v lost the incoming context", child.SpanContext())
	}
	headers := map[string]string{}
	Inject(child.SpanContext(), propagation.MapCarrier(headers))
	if headers["traceparent"] != gatewayParent {
		t.Fatalf("off: outgoing traceparent %q, want the incoming %q", headers["traceparent"], gatewayParent)
	}
	bare := context.Background()
	got, none := Start(bare, "nothing")
	if got != bare || none.SpanContext().IsValid() {
		t.Fatal("off: a span without any incoming context was made")
	}
}

func TestTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:4318":           "http://127.0.0.1:4318/v1/traces",
		"http://127.0.0.1:4318/":          "http://127.0.0.1:4318/v1/traces",
		"https://c.example/otlp/traces":   "https://c.example/otlp/traces",
		"https://c.example:443/v1/traces": "https://c.example:443/v1/traces",
	} {
		if got := TracesURL(in); got != want {
			t.Errorf("TracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}
