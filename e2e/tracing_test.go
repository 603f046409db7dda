package e2e

import (
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// exportedSpan is one span as a region exported it over OTLP.
type exportedSpan struct {
	Region, Name             string
	TraceID, SpanID, Parent  string
	Kind                     tracepb.Span_SpanKind
	Attributes               map[string]string
	LinkedTraces, LinkedSpan []string
}

func (s exportedSpan) String() string {
	return fmt.Sprintf("%s %q span %s parent %s trace %s %v", s.Region, s.Name, s.SpanID, s.Parent, s.TraceID, s.Attributes)
}

// otlpCollector is an OTLP/HTTP trace receiver inside the test process: the regions
// export to it as they would to a collector.
type otlpCollector struct {
	URL   string
	mu    sync.Mutex
	spans []exportedSpan
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	t.Helper()
	c := &otlpCollector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.Error(w, "not an OTLP traces export", http.StatusNotFound)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.add(&req)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func attributes(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			out[kv.GetKey()] = v.GetStringValue()
		default:
			out[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		}
	}
	return out
}

func (c *otlpCollector) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		region := attributes(rs.GetResource().GetAttributes())["wallet.region"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				span := exportedSpan{Region: region, Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID: hex.EncodeToString(s.GetSpanId()), Parent: hex.EncodeToString(s.GetParentSpanId()),
					Kind: s.GetKind(), Attributes: attributes(s.GetAttributes())}
				for _, l := range s.GetLinks() {
					span.LinkedTraces = append(span.LinkedTraces, hex.EncodeToString(l.GetTraceId()))
					span.LinkedSpan = append(span.LinkedSpan, hex.EncodeToString(l.GetSpanId()))
				}
				c.spans = append(c.spans, span)
			}
		}
	}
}

func (c *otlpCollector) all() []exportedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]exportedSpan(nil), c.spans...)
}

// expectedSpan is a span the trace must hold: in region, named name, of kind, a child
// of the span parent names (by its key in the expectations) or of the gateway's span.
type expectedSpan struct {
	key, region, name string
	kind              tracepb.Span_SpanKind
	parent            string
	transferID        bool // carries the transfer id
}

// TestOneTraceFollowsACrossRegionTransfer sends one transfer from an eu user to a us
// user through region us, with a gateway's traceparent, both regions exporting OTLP to
// a collector in the test. Sampling is 0 for traces that start in the wallet, so every
// exported span must belong to the gateway's trace; and the trace must hold the whole
// protocol with its parent relations: us's request and its forward to eu, eu's request,
// try, batch and hold transaction and the credit's publish, us's consume, credit and
// the reply's publish, and eu's consume and capture.
func TestOneTraceFollowsACrossRegionTransfer(t *testing.T) {
	t.Parallel()
	collector := newOTLPCollector(t)
	s := StartStack(t, "WALLET_TRACING__OTLP_ENDPOINT="+collector.URL, "WALLET_TRACING__SAMPLE_RATIO=0",
		"WALLET_TRACING__BATCH_TIMEOUT=100ms", "WALLET_TRACING__SERVICE_NAME=wallet-e2e")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")

	var traceID [16]byte
	var gatewaySpan [8]byte
	_, _ = rand.Read(traceID[:])
	_, _ = rand.Read(gatewaySpan[:])
	wantTrace, gatewayParent := hex.EncodeToString(traceID[:]), hex.EncodeToString(gatewaySpan[:])
	resp, tr := send(t, s.US, from, to, "30", "traced-transfer", "traceparent", "00-"+wantTrace+"-"+gatewayParent+"-01")
	if resp.Status != http.StatusAccepted || tr.Status != "pending" {
		t.Fatalf("POST /v1/transfers = %d %s", resp.Status, resp.Body)
	}
	if final := awaitFinal(t, s.EU, tr.ID, 20*time.Second); final.Status != "completed" {
		t.Fatalf("transfer ended %+v", final)
	}

	expected := []expectedSpan{
		{"us request", "us", "HTTP POST /v1/transfers", tracepb.Span_SPAN_KIND_SERVER, "", false},
		{"us forward", "us", "forward eu", tracepb.Span_SPAN_KIND_CLIENT, "us request", false},
		{"eu request", "eu", "HTTP POST /v1/transfers", tracepb.Span_SPAN_KIND_SERVER, "us forward", false},
		{"eu try", "eu", "tcc try", tracepb.Span_SPAN_KIND_INTERNAL, "eu request", true},
		{"eu hold batch", "eu", "db batch", tracepb.Span_SPAN_KIND_INTERNAL, "eu try", false},
		{"eu hold transaction", "eu", "db transaction", tracepb.Span_SPAN_KIND_CLIENT, "eu hold batch", false},
		{"eu publish credit", "eu", "outbox publish", tracepb.Span_SPAN_KIND_PRODUCER, "eu try", true},
		{"us consume credit", "us", "kafka process", tracepb.Span_SPAN_KIND_CONSUMER, "eu publish credit", false},
		{"us credit", "us", "tcc credit", tracepb.Span_SPAN_KIND_INTERNAL, "us consume credit", true},
		{"us apply", "us", "tcc apply", tracepb.Span_SPAN_KIND_INTERNAL, "us consume credit", false},
		{"us credit transaction", "us", "db transaction", tracepb.Span_SPAN_KIND_CLIENT, "us apply", false},
		{"us publish credited", "us", "outbox publish", tracepb.Span_SPAN_KIND_PRODUCER, "us credit", true},
		{"eu consume credited", "eu", "kafka process", tracepb.Span_SPAN_KIND_CONSUMER, "us publish credited", false},
		{"eu capture", "eu", "tcc capture", tracepb.Span_SPAN_KIND_INTERNAL, "eu consume credited", true},
		{"eu apply", "eu", "tcc apply", tracepb.Span_SPAN_KIND_INTERNAL, "eu consume credited", false},
		{"eu capture transaction", "eu", "db transaction", tracepb.Span_SPAN_KIND_CLIENT, "eu apply", false},
	}
	// match finds each expected span among spans, in order (a parent before its
	// children), and reports the first that is missing. A step may have several
	// candidates (the relay publishes a message again when a publish's outcome was
	// unknown, each attempt its own span, and the consumer reads whichever copy the
	// broker kept first), so match tries each in turn and keeps the first choice under
	// which every later expectation is found.
	match := func(spans []exportedSpan) (map[string]exportedSpan, string) {
		found := map[string]exportedSpan{}
		deepest := ""
		var from func(i int) bool
		from = func(i int) bool {
			if i == len(expected) {
				return true
			}
			e := expected[i]
			parent := gatewayParent
			if e.parent != "" {
				parent = found[e.parent].SpanID
			}
			tried := false
			for _, sp := range spans {
				if sp.Region == e.region && sp.Name == e.name && sp.Parent == parent && sp.TraceID == wantTrace {
					tried = true
					found[e.key] = sp
					if from(i + 1) {
						return true
					}
				}
			}
			delete(found, e.key)
			if !tried && deepest == "" {
				deepest = fmt.Sprintf("%s: %s %q, child of %s", e.key, e.region, e.name, parent)
			}
			return false
		}
		if from(0) {
			return found, ""
		}
		if deepest == "" {
			deepest = "a consistent choice among the candidates"
		}
		return found, deepest
	}
	var found map[string]exportedSpan
	deadline := time.Now().Add(20 * time.Second)
	for {
		var missing string
		found, missing = match(collector.all())
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s the trace lacks %s; exported:\n%s", missing, dump(collector.all()))
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, e := range expected {
		sp := found[e.key]
		if sp.Kind != e.kind {
			t.Errorf("%s is of kind %v, want %v", e.key, sp.Kind, e.kind)
		}
		if e.transferID && sp.Attributes["wallet.transfer_id"] != tr.ID {
			t.Errorf("%s: transfer id %q, want %q", e.key, sp.Attributes["wallet.transfer_id"], tr.ID)
		}
	}
	requestID := resp.Header.Get("X-Request-Id")
	for _, key := range []string{"us request", "eu request"} {
		if got := found[key].Attributes["wallet.request_id"]; requestID == "" || got != requestID {
			t.Errorf("%s: request id %q, want the response's %q", key, got, requestID)
		}
	}
	if got := found["us credit"].Attributes["wallet.outcome"]; got != "credited" {
		t.Errorf("the credit's outcome is %q, want credited", got)
	}
	if got := found["eu try"].Attributes["wallet.outcome"]; got != "held" {
		t.Errorf("the try's outcome is %q, want held", got)
	}
	// Sampling is 0 for anything that did not come with the gateway's sampled trace:
	// the funding, the polling and every background loop exported nothing.
	for _, sp := range collector.all() {
		if sp.TraceID != wantTrace {
			t.Errorf("a span outside the gateway's trace was exported: %s", sp)
		}
	}
}

func dump(spans []exportedSpan) string {
	lines := make([]string, len(spans))
	for i, sp := range spans {
		lines[i] = sp.String()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
