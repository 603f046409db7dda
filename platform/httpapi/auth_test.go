package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// TestForwardedCredentialsAreBoundToTheirPair: a forwarded request is accepted only
// from a configured peer presenting that pair's token and naming a configured gateway.
// A peer's token cannot speak for another region, nor for a gateway nobody configured.
func TestForwardedCredentialsAreBoundToTheirPair(t *testing.T) {
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	web, partner := []string{"payments", "read"}, []string{"read"}
	auth := NewAuthenticator(map[string]string{"web": hash("web-token"), "partner": hash("partner-token")},
		map[string][]string{"web": web, "partner": partner},
		map[string]string{"us": "eu-us-token", "ap": "eu-ap-token"})
	var seen Caller
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = CallerFrom(r.Context()) }))

	cases := []struct {
		name, token, from, gateway string
		want                       int
		caller                     Caller
	}{
		{"gateway", "web-token", "", "", 200, Caller{Gateway: "web", Scopes: web}},
		{"gateway naming another gateway is still itself", "web-token", "", "partner", 200, Caller{Gateway: "web", Scopes: web}},
		{"forwarded by us", "eu-us-token", "us", "partner", 200, Caller{Gateway: "partner", Scopes: partner, ForwardedFrom: "us"}},
		{"forwarded by ap", "eu-ap-token", "ap", "web", 200, Caller{Gateway: "web", Scopes: web, ForwardedFrom: "ap"}},
		{"us's token claiming to be ap", "eu-us-token", "ap", "web", 401, Caller{}},
		{"a region that is not a peer", "eu-us-token", "zz", "web", 401, Caller{}},
		{"an unknown gateway", "eu-us-token", "us", "nobody", 401, Caller{}},
		{"no gateway", "eu-us-token", "us", "", 401, Caller{}},
		{"a gateway's token on a forwarded request", "web-token", "us", "web", 401, Caller{}},
		{"a pair token without the forwarded header", "eu-us-token", "", "", 401, Caller{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen = Caller{}
			r := httptest.NewRequest("GET", "/v1/users/x", nil)
			r.Header.Set("Authorization", "Bearer "+c.token)
			if c.from != "" {
				r.Header.Set(ForwardedFromHeader, c.from)
			}
			if c.gateway != "" {
				r.Header.Set(GatewayHeader, c.gateway)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want || !reflect.DeepEqual(seen, c.caller) {
				t.Fatalf("= %d as %+v, want %d as %+v", w.Code, seen, c.want, c.caller)
			}
		})
	}
}

// TestRoutesRequireTheirScope: a token without the scope a route needs is refused 403
// insufficient_scope, naming the scope (RFC 6750), before the handler runs; with it,
// the handler runs.
func TestRoutesRequireTheirScope(t *testing.T) {
	hash := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	auth := NewAuthenticator(map[string]string{"reader": hash("reader-token"), "payer": hash("payer-token")},
		map[string][]string{"reader": {"read"}, "payer": {"payments", "read"}}, nil)
	ran := false
	h := auth.Middleware(RequireScope("payments")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })))
	for token, want := range map[string]int{"reader-token": 403, "payer-token": 200} {
		ran = false
		r := httptest.NewRequest("POST", "/v1/transfers", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want || ran != (want == 200) {
			t.Fatalf("%s = %d (handler ran %v), want %d", token, w.Code, ran, want)
		}
		if want == 403 {
			var body struct{ Code string }
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if body.Code != CodeInsufficientScope || w.Header().Get("WWW-Authenticate") != `Bearer realm="wallet", error="insufficient_scope", scope="payments"` {
				t.Fatalf("refusal = %s %q", w.Body, w.Header().Get("WWW-Authenticate"))
			}
		}
	}
}
