package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
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

// Caller is who made a request: the gateway, and the region that forwarded it if any.
type Caller struct {
	Gateway       string
	ForwardedFrom string
}

const callerKey ctxKey = iota + 100

// CallerFrom returns the authenticated caller of the request.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey).(Caller)
	return c
}

// Authenticator checks bearer credentials: gateway tokens against their configured
// SHA-256 hashes, and the shared region token on forwarded requests. Comparisons are
// constant-time and every configured hash is compared, so timing says nothing about
// which token almost matched.
type Authenticator struct {
	gateways   map[string][]byte // name -> sha256(token)
	regionHash []byte            // sha256(region token), nil when no peers
}

// NewAuthenticator builds an authenticator from hex SHA-256 gateway token hashes
// (validated by config) and the plaintext region token.
func NewAuthenticator(gatewayHashes map[string]string, regionToken string) *Authenticator {
	a := &Authenticator{gateways: map[string][]byte{}}
	for name, h := range gatewayHashes {
		b, _ := hex.DecodeString(h)
		a.gateways[name] = b
	}
	if regionToken != "" {
		sum := sha256.Sum256([]byte(regionToken))
		a.regionHash = sum[:]
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
		if a.regionHash == nil || subtle.ConstantTimeCompare(sum[:], a.regionHash) != 1 {
			return Caller{}, false
		}
		gateway := r.Header.Get(GatewayHeader)
		if gateway == "" {
			return Caller{}, false
		}
		return Caller{Gateway: gateway, ForwardedFrom: from}, true
	}
	matched := ""
	for name, h := range a.gateways {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			matched = name
		}
	}
	return Caller{Gateway: matched}, matched != ""
}
