package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"example.com/wallet/platform/tracing"
)

const gatewayParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// tracedRegion is a region's router whose /v1/users/{id} forwards to home.
func tracedRegion(t *testing.T, home string) http.Handler {
	t.Helper()
	fwd, err := NewForwarder("eu", map[string]Peer{"us": {URL: home, Token: "t"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(WithRequestID, Trace("/livez"))
	r.Get("/v1/users/{id}", func(w http.ResponseWriter, r *http.Request) { fwd.Forward(w, r, "us", nil) })
	r.Get("/livez", func(http.ResponseWriter, *http.Request) {})
	return r
}

// A gateway's traceparent parents the request's server span; a forward to the home
// region is a client span under it, and the home region receives that span's context,
// not the gateway's header as it came.
func TestTraceparentIsHonouredAndForwarded(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	defer tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))()
	var received string
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received = r.Header.Get("traceparent")
		w.WriteHeader(http.StatusTeapot)
	}))
	defer home.Close()

	req := httptest.NewRequest(http.MethodGet, "/v1/users/us_1", nil)
	req.Header.Set("traceparent", gatewayParent)
	req.Header.Set(RequestIDHeader, "req-1")
	w := httptest.NewRecorder()
	tracedRegion(t, home.URL).ServeHTTP(w, req)
	if w.Code != http.StatusTeapot {
		t.Fatalf("status %d", w.Code)
	}
	spans := map[string]tracetest.SpanStub{}
	for _, s := range exporter.GetSpans() {
		spans[s.Name] = s
	}
	server, forward := spans["HTTP GET /v1/users/{id}"], spans["forward us"]
	if server.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || server.Parent.SpanID().String() != "00f067aa0ba902b7" ||
		server.SpanKind != trace.SpanKindServer {
		t.Fatalf("server span %+v, want a child of the gateway's span (spans: %v)", server, exporter.GetSpans())
	}
	attrs := map[string]string{}
	for _, a := range server.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["wallet.request_id"] != "req-1" || attrs["http.route"] != "/v1/users/{id}" || attrs["http.response.status_code"] != "418" {
		t.Fatalf("server span attributes %v", attrs)
	}
	if forward.Parent.SpanID() != server.SpanContext.SpanID() || forward.SpanKind != trace.SpanKindClient {
		t.Fatalf("forward span %+v, want a client child of the server span", forward)
	}
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + forward.SpanContext.SpanID().String() + "-01"
	if received != want {
		t.Fatalf("the home region received traceparent %q, want the forward span's %q", received, want)
	}

	// A probe starts no trace; a probe a caller traces is traced.
	exporter.Reset()
	tracedRegion(t, home.URL).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/livez", nil))
	if n := len(exporter.GetSpans()); n != 0 {
		t.Fatalf("a probe made %d spans", n)
	}
	probe := httptest.NewRequest(http.MethodGet, "/livez", nil)
	probe.Header.Set("traceparent", gatewayParent)
	tracedRegion(t, home.URL).ServeHTTP(httptest.NewRecorder(), probe)
	if spans := exporter.GetSpans(); len(spans) != 1 || spans[0].Name != "HTTP GET /livez" {
		t.Fatalf("a traced probe made spans %v, want its server span", spans)
	}
}

// With tracing off the gateway's traceparent still reaches the home region, and a
// malformed one is not passed on.
func TestTracingOffStillCarriesTheTraceparent(t *testing.T) {
	defer tracing.Install(noop.NewTracerProvider())()
	var received []string
	home := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received = append(received, r.Header.Get("traceparent"))
	}))
	defer home.Close()
	region := tracedRegion(t, home.URL)
	for _, incoming := range []string{gatewayParent, "junk", ""} {
		req := httptest.NewRequest(http.MethodGet, "/v1/users/us_1", nil)
		if incoming != "" {
			req.Header.Set("traceparent", incoming)
		}
		region.ServeHTTP(httptest.NewRecorder(), req)
	}
	if strings.Join(received, ",") != gatewayParent+",," {
		t.Fatalf("the home region received %q, want the gateway's, then none, then none", received)
	}
	if sc := tracing.Extract(propagation.MapCarrier{"traceparent": received[0]}); !sc.IsValid() {
		t.Fatal("the carried traceparent does not parse")
	}
}
