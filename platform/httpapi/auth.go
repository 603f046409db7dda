package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Headers a region adds when it forwards a request to the user's home region.
const (
	// ForwardedFromHeader names the region that forwarded the request. A request that
	// carries it is never forwarded again, which makes forwarding loop-safe.
	ForwardedFromHeader = "Wallet-Forwarded-From"
	// GatewayHeader carries the name of the gateway that made the original request, so
	// idempotency scopes stay the same whichever region a retry enters through.
	GatewayHeader = "Wallet-Gateway"
)

// Caller is who made a request: the gateway, what its token may do, and the region
// that forwarded it if any.
type Caller struct {
	Gateway       string
	Scopes        []string
	ForwardedFrom string
}

// May reports whether the caller's token carries scope.
func (c Caller) May(scope string) bool { return slices.Contains(c.Scopes, scope) }

// CodeInsufficientScope is the code of a request whose token lacks the scope its
// route needs.
const CodeInsufficientScope = "insufficient_scope"

// RequireScope refuses, with 403 insufficient_scope, a request whose authenticated
// caller lacks scope (RFC 6750's error, named in WWW-Authenticate). It runs behind the
// Authenticator, before the handler and so before any forwarding: the region a request
// enters through checks it, and the home region checks it again with its own
// configuration of the same gateway.
func RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !CallerFrom(r.Context()).May(scope) {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="wallet", error="insufficient_scope", scope=%q`, scope))
				WriteProblem(w, r, NewProblem(http.StatusForbidden, CodeInsufficientScope, "this gateway's token does not carry the %s scope this request needs", scope))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

const callerKey ctxKey = iota + 100

// CallerFrom returns the authenticated caller of the request.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey).(Caller)
	return c
}

// Authenticator checks bearer credentials: gateway tokens against their configured
// SHA-256 hashes, and a forwarded request's against the token of the peer region it
// says it comes from. A forwarded request must come from a configured peer and name a
// configured gateway: a peer's credential cannot impersonate another region, nor a
// gateway this region does not know. Comparisons are constant-time and every
// configured gateway hash is compared, so timing says nothing about which token almost
// matched.
type Authenticator struct {
	gateways map[string][]byte   // name -> sha256(token)
	scopes   map[string][]string // name -> what its token may do
	peers    map[string][]byte   // peer region -> sha256(its forwarding token)
}

// NewAuthenticator builds an authenticator from hex SHA-256 gateway token hashes
// (validated by config), each gateway's scopes (config.ScopesOf) and each peer
// region's plaintext forwarding token.
func NewAuthenticator(gatewayHashes map[string]string, gatewayScopes map[string][]string, peerTokens map[string]string) *Authenticator {
	a := &Authenticator{gateways: map[string][]byte{}, scopes: gatewayScopes, peers: map[string][]byte{}}
	for name, h := range gatewayHashes {
		b, _ := hex.DecodeString(h)
		a.gateways[name] = b
	}
	for region, token := range peerTokens {
		sum := sha256.Sum256([]byte(token))
		a.peers[region] = sum[:]
	}
	return a
}

// Middleware refuses requests without a valid credential with 401 unauthorized.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := a.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wallet"`)
			WriteProblem(w, r, NewProblem(http.StatusUnauthorized, "unauthorized", "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey, caller)))
	})
}

func (a *Authenticator) authenticate(r *http.Request) (Caller, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Caller{}, false
	}
	sum := sha256.Sum256([]byte(token))
	if from := r.Header.Get(ForwardedFromHeader); from != "" {
		want, isPeer := a.peers[from]
		if !isPeer || subtle.ConstantTimeCompare(sum[:], want) != 1 {
			return Caller{}, false
		}
		gateway := r.Header.Get(GatewayHeader)
		if _, known := a.gateways[gateway]; !known {
			return Caller{}, false
		}
		return Caller{Gateway: gateway, Scopes: a.scopes[gateway], ForwardedFrom: from}, true
	}
	matched := ""
	for name, h := range a.gateways {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			matched = name
		}
	}
	return Caller{Gateway: matched, Scopes: a.scopes[matched]}, matched != ""
}
