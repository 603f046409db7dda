package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/tracing"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestIDHeader carries the request id in both directions and across regions.
const RequestIDHeader = "X-Request-Id"

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the id of the request being served, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID keeps a well-formed incoming X-Request-Id (a gateway's, or the
// forwarding region's) so one id follows a request across regions, else makes one.
func WithRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRe.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// SpanServer prefixes the name of a request's span: "HTTP POST /v1/transfers", by its
// route pattern once routed.
const SpanServer = "HTTP"

// Trace serves each request in a server span, a child of the caller's W3C traceparent
// (a gateway's, or the span of the region that forwarded it), with the request id and,
// once routed, the route and the status. Put it after WithRequestID and before Observe,
// so a panic Observe turns into a 500 is a failed span. With tracing off and no
// traceparent it does nothing; with tracing off and one, the incoming context is
// carried to whatever the request sends on (a forward, an outbox message).
//
// Requests for the paths in untraced (the orchestrator's probes, every few seconds
// per replica) start no trace of their own: only a caller's traceparent traces them.
func Trace(untraced ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return traced(next, untraced)
	}
}

func traced(next http.Handler, untraced []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parent := tracing.Extract(propagation.HeaderCarrier(r.Header))
		if !tracing.Wanted(parent) || (!parent.IsValid() && slices.Contains(untraced, r.URL.Path)) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, span := tracing.StartFrom(r.Context(), parent, SpanServer+" "+methodLabel(r.Method), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", methodLabel(r.Method)), attribute.String("url.path", r.URL.Path),
				tracing.RequestID(RequestID(r.Context()))))
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if !span.IsRecording() {
				return
			}
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				span.SetName(SpanServer + " " + methodLabel(r.Method) + " " + rc.RoutePattern())
				span.SetAttributes(attribute.String("http.route", rc.RoutePattern()))
			}
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
			span.End()
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Metrics are the HTTP metrics of one process.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_http_requests_total", Help: "HTTP requests served, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wallet_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Observe logs every request as one structured line, counts it and times it, and turns
// a panic into a 500 problem: a panic is a bug, never a reason to drop the connection.
func Observe(logger *slog.Logger, metrics *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.ErrorContext(r.Context(), "panic", "request_id", RequestID(r.Context()), "panic", v, "stack", string(debug.Stack()))
					if rec.status == 0 {
						WriteProblem(rec, r, NewProblem(http.StatusInternalServerError, CodeInternal, "the request failed; quote request_id when reporting it"))
					}
				}
				route := "unmatched"
				if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
					route = rc.RoutePattern()
				}
				elapsed := time.Since(start)
				if rec.status == 0 {
					// Nothing was written: the handler saw its client go away.
					rec.status = StatusClientClosedRequest
				}
				method := methodLabel(r.Method)
				if metrics != nil {
					metrics.requests.WithLabelValues(route, method, strconv.Itoa(rec.status)).Inc()
					metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
				}
				// ERROR is for faults of the wallet; an outage it reports as 503 is a
				// WARN, and a client that went away is ordinary.
				level := slog.LevelInfo
				switch {
				case rec.status == http.StatusServiceUnavailable:
					level = slog.LevelWarn
				case rec.status >= 500 && rec.status != StatusClientClosedRequest:
					level = slog.LevelError
				}
				logger.Log(r.Context(), level, "http request",
					"request_id", RequestID(r.Context()),
					"method", r.Method,
					"route", route,
					"path", r.URL.Path,
					"status", rec.status,
					"duration_ms", float64(elapsed.Microseconds())/1000,
					"forwarded_from", r.Header.Get(ForwardedFromHeader),
					"trace_id", traceID(r.Context()),
				)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// traceID is the request's trace id for its log line, so a log line leads to its
// trace; "" outside any trace.
func traceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// MaxPreferWait bounds RFC 7240's "Prefer: wait=N" on every route that honours it.
const MaxPreferWait = 30 * time.Second

// PreferWait reads "Prefer: wait=N", capped at MaxPreferWait; ok is false when the
// request does not ask to wait.
func PreferWait(r *http.Request) (wait time.Duration, ok bool) {
	for _, v := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			name, val, found := strings.Cut(strings.TrimSpace(pref), "=")
			if !found || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
			if err != nil || n < 0 {
				return 0, false
			}
			return min(time.Duration(n)*time.Second, MaxPreferWait), true
		}
	}
	return 0, false
}

// Deadline bounds every request: timeout, plus what it asked to wait (Prefer). A
// request whose shard or peer region hangs silently is answered 503 when its deadline
// passes, instead of holding the client until it gives up: reads and forwards stop at
// the deadline, and money-moving writes are bounded by their batch's own timeout.
func Deadline(timeout time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := timeout
			if wait, ok := PreferWait(r); ok {
				d += wait
			}
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// methodLabel is the method as a metric label, from a closed set: a label made of
// whatever a client sends would create a new series, forever, per distinct method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// LimitBody caps request bodies at max bytes, or at larger[path] for the paths it
// names (a batch's body holds many requests'); DecodeJSON turns the overflow into 413.
func LimitBody(max int64, larger map[string]int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			max := max
			if n, ok := larger[r.URL.Path]; ok {
				max = n
			}
			if r.ContentLength > max {
				WriteProblem(w, r, NewProblem(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is larger than %d bytes", max))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// NotFound and MethodNotAllowed answer unknown routes with problems, not chi's text.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteProblem(w, r, NewProblem(http.StatusNotFound, CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
}

// MethodNotAllowed answers a known path with an unsupported method.
//
// The Allow header lists the methods the route does take (RFC 9110): chi sets it only in
// its own 405 handler, so this one asks the router.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.Routes != nil {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if rctx.Routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				w.Header().Add("Allow", m)
			}
		}
	}
	WriteProblem(w, r, NewProblem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s is not allowed on %s", methodLabel(r.Method), r.URL.Path))
}
