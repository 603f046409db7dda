package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/shard"
	"example.com/wallet/platform/tracing"
)

// Forwarder sends requests about users of other regions to their home region, so a
// gateway never needs to know where a user lives. The answer is relayed unchanged:
// status, headers and body are the home region's.
type Forwarder struct {
	self    string
	proxies map[string]*httputil.ReverseProxy
}

// Peer is how this region reaches another: its base URL, and the bearer token the
// two regions share for forwarded requests.
type Peer struct {
	URL, Token string
}

// NewForwarder builds a forwarder to each peer region.
func NewForwarder(self string, peers map[string]Peer, logger *slog.Logger) (*Forwarder, error) {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 35 * time.Second, // longer than the longest Prefer: wait
	}
	f := &Forwarder{self: self, proxies: map[string]*httputil.ReverseProxy{}}
	for region, peer := range peers {
		target, err := url.Parse(peer.URL)
		if err != nil {
			return nil, err
		}
		region := region
		f.proxies[region] = &httputil.ReverseProxy{
			Transport: transport,
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				caller := CallerFrom(pr.In.Context())
				h := pr.Out.Header
				h.Set("Authorization", "Bearer "+peer.Token)
				h.Set(ForwardedFromHeader, f.self)
				h.Set(GatewayHeader, caller.Gateway)
				h.Set(RequestIDHeader, RequestID(pr.In.Context()))
				// The home region's span is a child of this forward's span (or, with
				// tracing off here, of whatever context came in): never the caller's
				// header passed on as it was.
				for _, name := range tracing.Fields() {
					h.Del(name)
				}
				tracing.Inject(trace.SpanContextFromContext(pr.In.Context()), propagation.HeaderCarrier(h))
			},
			ModifyResponse: func(resp *http.Response) error {
				// The home region echoes the request id this region already set.
				resp.Header.Del(RequestIDHeader)
				if span := trace.SpanFromContext(resp.Request.Context()); span.IsRecording() {
					span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
				}
				return nil
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
					span.RecordError(err)
					span.SetStatus(codes.Error, "region unavailable")
				}
				// The peer may or may not have acted on a write: 503 tells the client
				// the outcome is unknown and to retry with the same idempotency key.
				logger.WarnContext(r.Context(), "forward failed", "region", region, "error", err.Error(), "request_id", RequestID(r.Context()))
				WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, CodeRegionUnavailable, "region %s could not be reached; retry with the same Idempotency-Key", region))
			},
		}
	}
	return f, nil
}

// SpanForward prefixes the name of a forwarded request's client span: "forward us".
const SpanForward = "forward"

// Forward relays r to region. body, when not nil, replaces a body the handler already
// read. A request that was itself forwarded is refused instead of forwarded again:
// two regions that disagree about where a user lives must not bounce it forever.
func (f *Forwarder) Forward(w http.ResponseWriter, r *http.Request, region string, body []byte) {
	if from := r.Header.Get(ForwardedFromHeader); from != "" {
		WriteProblem(w, r, NewProblem(http.StatusBadGateway, "misrouted", "region %s forwarded a request for region %s to region %s", from, region, f.self))
		return
	}
	f.Relay(w, r, region, body)
}

// Relay relays r to region even when r was itself forwarded here: the one second hop
// of a request whose home this region learns only by reading its own data (a refund
// goes to the transfer's region, which reads the receiver, then to the receiver's).
// The caller guarantees the hop ends there: the region relayed to serves the request
// or refuses it, never forwards it again.
func (f *Forwarder) Relay(w http.ResponseWriter, r *http.Request, region string, body []byte) {
	proxy, ok := f.proxies[region]
	if !ok {
		WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, CodeRegionUnavailable, "region %s is not a peer of region %s", region, f.self))
		return
	}
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	ctx, span := tracing.Start(r.Context(), SpanForward+" "+region, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	proxy.ServeHTTP(w, r.WithContext(ctx))
}

// ServeHere decides where a request about id is served. It returns true when this
// region is the home region; otherwise it has already answered: forwarded the request
// (with body, when the handler read it), or sent the problem for a bad id.
func (f *Forwarder) ServeHere(w http.ResponseWriter, r *http.Request, region string, body []byte) bool {
	if region == f.self {
		return true
	}
	f.Forward(w, r, region, body)
	return false
}

// Knows reports whether region is this region or a peer.
func (f *Forwarder) Knows(region string) bool {
	_, ok := f.proxies[region]
	return ok || region == f.self
}

// UserHome validates the user id in the path ({id}) and decides where the request is
// served. It returns the id and true when this region is the user's home; otherwise it
// has already answered: forwarded the request (with body, when the handler read it),
// 400 for a malformed id, or 404 user_not_found for a region that does not exist.
func (f *Forwarder) UserHome(w http.ResponseWriter, r *http.Request, body []byte) (string, bool) {
	id := chi.URLParam(r, "id")
	region, err := shard.UserRegion(id)
	if err != nil {
		WriteProblem(w, r, NewProblem(http.StatusBadRequest, CodeInvalidRequest, "id: %q is not a user id", id))
		return "", false
	}
	if !f.Knows(region) {
		WriteProblem(w, r, ErrUserNotFound)
		return "", false
	}
	return id, f.ServeHere(w, r, region, body)
}
