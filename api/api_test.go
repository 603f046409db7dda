package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/api"
	"example.com/wallet/api/apitest"
	"example.com/wallet/platform/health"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/shard"
)

// Ids made by the real generators, so the spec's patterns are checked against them.
var (
	userID     = shard.NewUserID("eu")
	peerID     = shard.NewUserID("us")
	derivedID  = shard.DerivedUserID("us", "gw", "signup-1")
	transferID = shard.NewTransferID("eu", userID, 256)
	webhookID  = shard.NewWebhookID("eu")
)

const hash = "50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"

func newValidator(t *testing.T) *apitest.Validator {
	t.Helper()
	v, err := apitest.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	return v
}

// exchange is a sample request and response; host is deliberately not a server of the
// document.
type exchange struct {
	name    string
	method  string
	path    string
	status  int
	ctype   string // default application/json
	headers map[string]string
	body    string
}

func (x exchange) check(v *apitest.Validator) error {
	req := httptest.NewRequest(x.method, "http://wallet.test:39999"+x.path, nil)
	ctype := x.ctype
	if ctype == "" {
		ctype = "application/json"
	}
	// Every response of the wallet carries X-Request-Id; an exchange's "" removes it.
	resp := &http.Response{StatusCode: x.status, Header: http.Header{"Content-Type": {ctype}, "X-Request-Id": {"4f1c2a9be07d5c3a18f6e2b0"}}}
	for k, val := range x.headers {
		if val == "" {
			resp.Header.Del(k)
			continue
		}
		resp.Header.Set(k, val)
	}
	return v.Check(req, resp, []byte(x.body))
}

func TestSpecLoadsAndValidates(t *testing.T) {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		t.Fatalf("LoadFromData: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if got := len(doc.Servers); got != 2 || doc.Servers[0].URL != "http://127.0.0.1:8081" || doc.Servers[1].URL != "http://127.0.0.1:8082" {
		t.Errorf("servers = %v, want eu :8081 and us :8082", doc.Servers)
	}
	scheme := doc.Components.SecuritySchemes["gateway"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("securitySchemes.gateway = %+v, want http bearer", scheme)
	}

	want := map[string][]string{
		"/livez":                          {"GET"},
		"/readyz":                         {"GET"},
		"/openapi.yaml":                   {"GET"},
		"/v1/users":                       {"POST"},
		"/v1/users/{id}":                  {"GET"},
		"/v1/users/{id}/balance":          {"GET"},
		"/v1/users/{id}/balances":         {"GET"},
		"/v1/users/{id}/deposits":         {"POST"},
		"/v1/users/{id}/withdrawals":      {"POST"},
		"/v1/users/{id}/ledger":           {"GET"},
		"/v1/users/{id}/transfers":        {"GET"},
		"/v1/transfers":                   {"POST"},
		"/v1/transfers/{id}":              {"GET"},
		"/v1/transfers/{id}/refunds":      {"POST"},
		"/v1/batches":                     {"POST"},
		"/v1/currencies":                  {"GET"},
		"/v1/users/{id}/freeze":           {"POST"},
		"/v1/users/{id}/unfreeze":         {"POST"},
		"/v1/users/{id}/close":            {"POST"},
		"/v1/webhooks":                    {"POST", "GET"},
		"/v1/webhooks/{id}":               {"GET", "DELETE"},
		"/v1/webhooks/{id}/rotate-secret": {"POST"},
		"/v1/webhooks/{id}/deliveries":    {"GET"},
		"/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver": {"POST"},
	}
	if got := doc.Paths.Len(); got != len(want) {
		t.Errorf("%d paths, want %d", got, len(want))
	}
	for path, methods := range want {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("path %s missing", path)
			continue
		}
		for _, m := range methods {
			op := item.GetOperation(m)
			if op == nil {
				t.Errorf("%s %s missing", m, path)
				continue
			}
			// Effective security: the operation's own, else the document's.
			sec := doc.Security
			if op.Security != nil {
				sec = *op.Security
			}
			v1 := strings.HasPrefix(path, "/v1/")
			switch {
			case v1 && (len(sec) != 1 || sec[0]["gateway"] == nil):
				t.Errorf("%s %s: security = %v, want gateway bearer", m, path, sec)
			case !v1 && len(sec) != 0:
				t.Errorf("%s %s: security = %v, want none", m, path, sec)
			}
			if v1 {
				statuses := []int{401, 403, 503}
				if path == "/v1/currencies" || path == "/v1/batches" {
					// Currencies are answered from the region's configuration, and a
					// batch answers every item's unavailability in that item's result:
					// neither can be unavailable as a whole.
					statuses = []int{401, 403}
				}
				for _, status := range statuses {
					if op.Responses.Status(status) == nil {
						t.Errorf("%s %s: no %d response", m, path, status)
					}
				}
			}
			// Money-moving POSTs need a key; creating a user takes one optionally, the
			// account controls are idempotent by the state they set, a batch's items
			// carry one each, and webhook endpoints move no money.
			accountControl := strings.HasSuffix(path, "/freeze") || strings.HasSuffix(path, "/unfreeze") || strings.HasSuffix(path, "/close")
			webhooks := strings.HasPrefix(path, "/v1/webhooks")
			if m == "POST" && path != "/v1/users" && path != "/v1/batches" && !accountControl && !webhooks {
				p := op.Parameters.GetByInAndName("header", "Idempotency-Key")
				if p == nil || !p.Required {
					t.Errorf("%s %s: Idempotency-Key header not required", m, path)
				}
			}
		}
	}
}

func TestValidatorAccepts(t *testing.T) {
	v := newValidator(t)
	// In the order the handlers encode the fields.
	user := `{"id":"` + userID + `","region":"eu","status":"active","created_at":"2024-11-20T10:15:30.123456789Z","default_currency":"EUR"}`
	balance := `{"user_id":"` + userID + `","balance":"12500","frozen":"0","available":"12500","ledger_seq":1,"currency":"EUR"}`
	entry := `{"seq":1,"kind":"deposit","currency":"EUR","amount":"12500","balance_after":"12500","idempotency_key":"k-1","metadata":{"source":"card","order.id":"A-1"},"created_at":"2024-11-20T10:15:30.5Z","hash":"` + hash + `"}`
	debit := `{"seq":2,"kind":"transfer_debit","currency":"EUR","amount":"2500","balance_after":"10000","transfer_id":"` + transferID + `","created_at":"2024-11-20T10:16:00Z","hash":"` + hash + `"}`
	event := `{"seq":3,"kind":"account_frozen","currency":"EUR","amount":"0","balance_after":"10000","created_at":"2024-11-20T10:17:00Z","hash":"` + hash + `"}`
	pending := `{"id":"` + transferID + `","from_user_id":"` + userID + `","to_user_id":"` + peerID + `","currency":"EUR","amount":"2500","status":"pending","metadata":{"order":"A-1"},"created_at":"2024-11-20T10:30:00Z","updated_at":"2024-11-20T10:30:00Z","steps":[{"step":"debited","at":"2024-11-20T10:30:00Z"}]}`
	cancelled := `{"id":"` + transferID + `","from_user_id":"` + userID + `","to_user_id":"` + peerID + `","currency":"EUR","amount":"2500","status":"cancelled","reason":"receiver_not_found","created_at":"2024-11-20T10:30:00Z","updated_at":"2024-11-20T10:30:02Z","steps":[]}`
	// Answers stored under an Idempotency-Key before balances per currency are replayed
	// byte for byte, without currency.
	storedEntry := `{"seq":1,"kind":"deposit","amount":"12500","balance_after":"12500","idempotency_key":"k-1","created_at":"2024-11-20T10:15:30.5Z","hash":"` + hash + `"}`
	storedBalance := `{"user_id":"` + userID + `","balance":"12500","frozen":"0","available":"12500","ledger_seq":1}`
	problem := func(status int, code, path string) string {
		return `{"type":"https://wallet.example/problems/` + code + `","title":"` + http.StatusText(status) + `","status":` + strconv.Itoa(status) +
			`,"code":"` + code + `","detail":"no such thing","instance":"` + path + `","request_id":"4f1c2a9be07d5c3a18f6e2b0"}`
	}
	transferLoc := map[string]string{"Location": "/v1/transfers/" + transferID}
	// In the order modules/webhooks encodes the fields.
	wh := "/v1/webhooks/" + webhookID
	webhook := `{"id":"` + webhookID + `","url":"https://hooks.example.com/wallet","event_types":["wallet.transfer.cancelled","wallet.transfer.completed"],` +
		`"created_at":"2024-11-20T10:15:30.123456Z","updated_at":"2024-11-20T10:15:30.123456Z"}`
	withSecret := strings.Replace(webhook, `,"created_at"`, `,"description":"Payments","secret":"whsec_L/HrecyqgHsTps+/RwYvuhHfcknAemv2rf8oHGYh/6k=","created_at"`, 1)
	delivered := `{"id":1041,"event_id":"` + transferID + `:completed","event_type":"wallet.transfer.completed","status":"delivered","attempts":1,` +
		`"first_attempt_at":"2024-11-20T10:30:01.6Z","last_attempt_at":"2024-11-20T10:30:01.6Z","last_status_code":200,"delivered_at":"2024-11-20T10:30:01.7Z","created_at":"2024-11-20T10:30:01.55Z"}`
	retrying := `{"id":1042,"event_id":"` + userID + `:4","event_type":"wallet.withdrawal.created","status":"pending","attempts":2,` +
		`"first_attempt_at":"2024-11-20T10:40:00Z","next_attempt_at":"2024-11-20T10:45:05Z","last_attempt_at":"2024-11-20T10:40:05Z",` +
		`"last_error":"dial tcp 198.51.100.7:443: connect: connection refused","created_at":"2024-11-20T10:40:00Z"}`
	fresh := `{"id":7,"event_id":"` + userID + `:1","event_type":"wallet.deposit.created","status":"pending","attempts":0,"next_attempt_at":"2024-11-20T10:40:00Z","created_at":"2024-11-20T10:40:00Z"}`

	for _, x := range []exchange{
		{name: "livez", method: "GET", path: "/livez", status: 200, body: `{"status":"alive"}`},
		{name: "readyz ready", method: "GET", path: "/readyz", status: 200, body: `{"status":"ready","region":"eu","dependencies":{"shard/eu0":"up","kafka":"down"}}`},
		{name: "readyz starting", method: "GET", path: "/readyz", status: 503, body: `{"status":"starting","region":"eu","dependencies":{"shard/eu0":"unknown"}}`},
		{name: "create user", method: "POST", path: "/v1/users", status: 201, headers: map[string]string{"Location": "/v1/users/" + derivedID},
			body: `{"id":"` + derivedID + `","region":"us","status":"active","created_at":"2024-11-20T10:15:30+01:00","default_currency":"USD"}`},
		{name: "create user bad key", method: "POST", path: "/v1/users", status: 400, ctype: "application/problem+json", body: problem(400, "idempotency_key_missing", "/v1/users")},
		{name: "get user", method: "GET", path: "/v1/users/" + userID, status: 200, body: user},
		{name: "closed user", method: "GET", path: "/v1/users/" + userID, status: 200, body: strings.Replace(user, "active", "closed", 1)},
		{name: "user 404", method: "GET", path: "/v1/users/" + userID, status: 404, ctype: "application/problem+json", body: problem(404, "user_not_found", "/v1/users/"+userID)},
		{name: "user 400 minimal problem", method: "GET", path: "/v1/users/nope", status: 400, ctype: "application/problem+json",
			body: `{"type":"https://wallet.example/problems/invalid_request","title":"Bad Request","status":400,"code":"invalid_request"}`},
		{name: "401", method: "GET", path: "/v1/users/" + userID, status: 401, ctype: "application/problem+json",
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="wallet"`}, body: problem(401, "unauthorized", "/v1/users/"+userID)},
		{name: "500 by default", method: "GET", path: "/v1/users/" + userID, status: 500, ctype: "application/problem+json", body: problem(500, "internal_error", "/v1/users/"+userID)},
		{name: "413 on a probe", method: "GET", path: "/livez", status: 413, ctype: "application/problem+json", body: problem(413, "request_too_large", "/livez")},
		{name: "413 on a write", method: "POST", path: "/v1/transfers", status: 413, ctype: "application/problem+json", body: problem(413, "request_too_large", "/v1/transfers")},
		{name: "balance", method: "GET", path: "/v1/users/" + userID + "/balance", status: 200, body: balance},
		{name: "zero balance", method: "GET", path: "/v1/users/" + userID + "/balance", status: 200,
			body: `{"user_id":"` + userID + `","balance":"0","frozen":"0","available":"0","ledger_seq":0,"currency":"EUR"}`},
		{name: "huge balance", method: "GET", path: "/v1/users/" + userID + "/balance", status: 200,
			body: `{"user_id":"` + userID + `","balance":"` + strings.Repeat("9", 78) + `","frozen":"0","available":"` + strings.Repeat("9", 78) + `","ledger_seq":7,"currency":"EUR"}`},
		{name: "balance in an asset", method: "GET", path: "/v1/users/" + userID + "/balance?currency=POINTS", status: 200,
			body: `{"user_id":"` + userID + `","balance":"300","frozen":"0","available":"300","ledger_seq":9,"currency":"POINTS"}`},
		{name: "balance at", method: "GET", path: "/v1/users/" + userID + "/balance?at=2024-11-20T10:00:00Z&currency=USD", status: 200,
			body: `{"user_id":"` + userID + `","at":"2024-11-20T10:00:00Z","balance":"0","ledger_seq":0,"currency":"USD"}`},
		{name: "balance unknown currency", method: "GET", path: "/v1/users/" + userID + "/balance?currency=eur", status: 422, ctype: "application/problem+json",
			body: problem(422, "unknown_currency", "/v1/users/"+userID+"/balance")},
		{name: "balances", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200,
			body: `{"user_id":"` + userID + `","default_currency":"EUR","ledger_seq":4,"balances":[{"currency":"EUR","balance":"0","frozen":"0","available":"0"},{"currency":"USD","balance":"10850","frozen":"2500","available":"8350"}]}`},
		{name: "balances of a new user", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200,
			body: `{"user_id":"` + userID + `","default_currency":"EUR","ledger_seq":0,"balances":[{"currency":"EUR","balance":"0","frozen":"0","available":"0"}]}`},
		{name: "balances 404", method: "GET", path: "/v1/users/" + userID + "/balances", status: 404, ctype: "application/problem+json", body: problem(404, "user_not_found", "/x")},
		{name: "balances 503", method: "GET", path: "/v1/users/" + peerID + "/balances", status: 503, ctype: "application/problem+json", body: problem(503, "region_unavailable", "/x")},
		{name: "deposit", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 201, body: `{"entry":` + entry + `,"balance":` + balance + `}`},
		{name: "deposit stored before currencies", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 201,
			body: `{"entry":` + storedEntry + `,"balance":` + storedBalance + `}`},
		{name: "deposit unknown currency", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 422, ctype: "application/problem+json", body: problem(422, "unknown_currency", "/x")},
		{name: "withdrawal no metadata", method: "POST", path: "/v1/users/" + peerID + "/withdrawals", status: 201,
			body: `{"entry":{"seq":3,"kind":"withdrawal","currency":"USD","amount":"1","balance_after":"0","idempotency_key":"w","created_at":"2024-11-20T10:15:30Z","hash":"` + hash + `"},"balance":{"user_id":"` + peerID + `","balance":"0","frozen":"0","available":"0","ledger_seq":3,"currency":"USD"}}`},
		{name: "withdrawal unknown currency", method: "POST", path: "/v1/users/" + userID + "/withdrawals", status: 422, ctype: "application/problem+json", body: problem(422, "unknown_currency", "/x")},
		{name: "insufficient funds", method: "POST", path: "/v1/users/" + userID + "/withdrawals", status: 422, ctype: "application/problem+json", body: problem(422, "insufficient_funds", "/x")},
		{name: "invalid amount", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 400, ctype: "application/problem+json", body: problem(400, "invalid_amount", "/x")},
		{name: "key in use", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 409, ctype: "application/problem+json", body: problem(409, "idempotency_key_in_use", "/x")},
		{name: "rate limited", method: "POST", path: "/v1/users/" + userID + "/deposits", status: 429, ctype: "application/problem+json",
			headers: map[string]string{"Retry-After": "3"}, body: problem(429, "rate_limited", "/x")},
		{name: "region unavailable", method: "POST", path: "/v1/users/" + peerID + "/deposits", status: 503, ctype: "application/problem+json", body: problem(503, "region_unavailable", "/x")},
		{name: "ledger last page", method: "GET", path: "/v1/users/" + userID + "/ledger?limit=2", status: 200,
			body: `{"entries":[` + debit + `,` + entry + `],"next_cursor":null}`},
		{name: "ledger next page", method: "GET", path: "/v1/users/" + userID + "/ledger", status: 200, body: `{"entries":[` + entry + `],"next_cursor":"c2VxOjI"}`},
		{name: "ledger with an account event", method: "GET", path: "/v1/users/" + userID + "/ledger?currency=EUR", status: 200,
			body: `{"entries":[` + event + `,` + debit + `,` + entry + `],"next_cursor":null}`},
		{name: "ledger unknown currency", method: "GET", path: "/v1/users/" + userID + "/ledger?currency=", status: 422, ctype: "application/problem+json",
			body: problem(422, "unknown_currency", "/v1/users/"+userID+"/ledger")},
		{name: "ledger empty", method: "GET", path: "/v1/users/" + userID + "/ledger", status: 200, body: `{"entries":[],"next_cursor":null}`},
		{name: "transfer pending", method: "POST", path: "/v1/transfers", status: 202, headers: transferLoc, body: pending},
		{name: "transfer completed after wait", method: "POST", path: "/v1/transfers", status: 201,
			headers: map[string]string{"Location": "/v1/transfers/" + transferID, "Preference-Applied": "wait=5"},
			body:    strings.Replace(pending, `"pending"`, `"completed"`, 1)},
		{name: "transfer to self", method: "POST", path: "/v1/transfers", status: 400, ctype: "application/problem+json", body: problem(400, "invalid_request", "/v1/transfers")},
		{name: "transfer unknown currency", method: "POST", path: "/v1/transfers", status: 422, ctype: "application/problem+json", body: problem(422, "unknown_currency", "/v1/transfers")},
		{name: "get transfer", method: "GET", path: "/v1/transfers/" + transferID, status: 200, body: cancelled},
		{name: "transfer cancelled for its currency", method: "GET", path: "/v1/transfers/" + transferID, status: 200,
			body: strings.Replace(strings.Replace(cancelled, "receiver_not_found", "unknown_currency", 1), `"EUR"`, `"POINTS"`, 1)},
		{name: "transfer 404", method: "GET", path: "/v1/transfers/" + transferID, status: 404, ctype: "application/problem+json", body: problem(404, "transfer_not_found", "/x")},
		{name: "user transfers", method: "GET", path: "/v1/users/" + userID + "/transfers?direction=out&status=pending", status: 200,
			body: `{"transfers":[` + pending + `,` + cancelled + `],"next_cursor":null}`},
		{name: "register webhook", method: "POST", path: "/v1/webhooks", status: 201, headers: map[string]string{"Location": wh}, body: withSecret},
		{name: "register unsafe url", method: "POST", path: "/v1/webhooks", status: 422, ctype: "application/problem+json", body: problem(422, "unsafe_webhook_url", "/v1/webhooks")},
		{name: "register bad body", method: "POST", path: "/v1/webhooks", status: 400, ctype: "application/problem+json", body: problem(400, "invalid_request", "/v1/webhooks")},
		{name: "list webhooks", method: "GET", path: "/v1/webhooks", status: 200, body: `{"webhooks":[` + webhook + `]}`},
		{name: "list no webhooks", method: "GET", path: "/v1/webhooks", status: 200, body: `{"webhooks":[]}`},
		{name: "get webhook", method: "GET", path: wh, status: 200, body: webhook},
		{name: "webhook 404", method: "GET", path: wh, status: 404, ctype: "application/problem+json", body: problem(404, "webhook_not_found", wh)},
		{name: "webhook malformed id", method: "GET", path: "/v1/webhooks/eu_wh_1", status: 400, ctype: "application/problem+json", body: problem(400, "invalid_request", "/v1/webhooks/eu_wh_1")},
		{name: "webhook region unavailable", method: "DELETE", path: wh, status: 503, ctype: "application/problem+json", body: problem(503, "region_unavailable", wh)},
		{name: "delete webhook", method: "DELETE", path: wh, status: 204, headers: map[string]string{"Content-Type": ""}},
		{name: "rotate secret", method: "POST", path: wh + "/rotate-secret", status: 200, body: withSecret},
		{name: "deliveries", method: "GET", path: wh + "/deliveries?limit=3", status: 200,
			body: `{"deliveries":[` + fresh + `,` + retrying + `,` + delivered + `],"next_cursor":"d2Q6MTA0MQ"}`},
		{name: "deliveries empty", method: "GET", path: wh + "/deliveries", status: 200, body: `{"deliveries":[],"next_cursor":null}`},
		{name: "redeliver", method: "POST", path: wh + "/deliveries/1041/redeliver", status: 202,
			body: `{"id":1041,"event_id":"` + transferID + `:completed","event_type":"wallet.transfer.completed","status":"pending","attempts":1,` +
				`"next_attempt_at":"2024-11-21T08:00:00Z","last_attempt_at":"2024-11-20T10:30:01.6Z","last_status_code":200,"delivered_at":"2024-11-20T10:30:01.7Z","created_at":"2024-11-20T10:30:01.55Z"}`},
		{name: "redeliver unknown delivery", method: "POST", path: wh + "/deliveries/99/redeliver", status: 404, ctype: "application/problem+json",
			body: problem(404, "delivery_not_found", wh+"/deliveries/99/redeliver")},
	} {
		t.Run(x.name, func(t *testing.T) {
			if err := x.check(v); err != nil {
				t.Errorf("valid %s rejected: %v", x.name, err)
			}
		})
	}
}

func TestValidatorRejects(t *testing.T) {
	v := newValidator(t)
	balance := `{"user_id":"` + userID + `","balance":"12500","frozen":"0","available":"12500","ledger_seq":1,"currency":"EUR"}`
	entry := func(amount string) string {
		return `{"seq":1,"kind":"deposit","currency":"EUR","amount":` + amount + `,"balance_after":"12500","created_at":"2024-11-20T10:15:30Z","hash":"` + hash + `"}`
	}
	deposit := func(entry, balance string) string { return `{"entry":` + entry + `,"balance":` + balance + `}` }
	user := `{"id":"` + userID + `","region":"eu","status":"active","created_at":"2024-11-20T10:15:30Z","default_currency":"EUR"}`
	balances := `{"user_id":"` + userID + `","default_currency":"EUR","ledger_seq":1,"balances":[{"currency":"EUR","balance":"12500","frozen":"0","available":"12500"}]}`
	notFound := `{"type":"https://wallet.example/problems/user_not_found","title":"Not Found","status":404,"code":"user_not_found"}`
	dep := "/v1/users/" + userID + "/deposits"
	wh := "/v1/webhooks/" + webhookID
	webhook := `{"id":"` + webhookID + `","url":"https://hooks.example.com/wallet","event_types":["wallet.transfer.completed"],` +
		`"created_at":"2024-11-20T10:15:30Z","updated_at":"2024-11-20T10:15:30Z"}`
	delivery := `{"id":1,"event_id":"` + userID + `:1","event_type":"wallet.deposit.created","status":"delivered","attempts":1,"last_status_code":204,"created_at":"2024-11-20T10:40:00Z"}`

	for _, x := range []exchange{
		{name: "amount as JSON number", method: "POST", path: dep, status: 201, body: deposit(entry(`12500`), balance)},
		{name: "amount with leading zero", method: "POST", path: dep, status: 201, body: deposit(entry(`"012500"`), balance)},
		{name: "amount zero", method: "POST", path: dep, status: 201, body: deposit(entry(`"0"`), balance)},
		{name: "amount 79 digits", method: "POST", path: dep, status: 201, body: deposit(entry(`"`+strings.Repeat("1", 79)+`"`), balance)},
		{name: "negative balance", method: "POST", path: dep, status: 201, body: deposit(entry(`"1"`), strings.Replace(balance, `"12500"`, `"-5"`, 1))},
		{name: "uppercase hash", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), hash, strings.ToUpper(hash), 1), balance)},
		{name: "extra field in entry", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), `{`, `{"note":"x",`, 1), balance)},
		{name: "non-string metadata", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), `{`, `{"metadata":{"n":1},`, 1), balance)},
		{name: "metadata key with a space", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), `{`, `{"metadata":{"a b":"x"},`, 1), balance)},
		{name: "metadata value too long", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), `{`, `{"metadata":{"k":"`+strings.Repeat("x", 257)+`"},`, 1), balance)},
		{name: "negative frozen", method: "POST", path: dep, status: 201, body: deposit(entry(`"1"`), strings.Replace(balance, `"frozen":"0"`, `"frozen":"-1"`, 1))},
		{name: "missing balance", method: "POST", path: dep, status: 201, body: `{"entry":` + entry(`"1"`) + `}`},
		{name: "lower-case currency", method: "POST", path: dep, status: 201, body: deposit(strings.Replace(entry(`"1"`), `"EUR"`, `"eur"`, 1), balance)},
		{name: "empty currency", method: "POST", path: dep, status: 201, body: deposit(entry(`"1"`), strings.Replace(balance, `"EUR"`, `""`, 1))},
		{name: "balance without currency", method: "GET", path: "/v1/users/" + userID + "/balance", status: 200, body: strings.Replace(balance, `,"currency":"EUR"`, "", 1)},
		{name: "balance at without currency", method: "GET", path: "/v1/users/" + userID + "/balance?at=2024-11-20T10:00:00Z", status: 200,
			body: `{"user_id":"` + userID + `","at":"2024-11-20T10:00:00Z","balance":"0","ledger_seq":0}`},
		{name: "user without default_currency", method: "GET", path: "/v1/users/" + userID, status: 200, body: strings.Replace(user, `,"default_currency":"EUR"`, "", 1)},
		{name: "balances without default_currency", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200, body: strings.Replace(balances, `"default_currency":"EUR",`, "", 1)},
		{name: "balances empty", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200, body: strings.Replace(balances, `{"currency":"EUR","balance":"12500","frozen":"0","available":"12500"}`, "", 1)},
		{name: "balances item without currency", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200, body: strings.Replace(balances, `"currency":"EUR",`, "", 1)},
		{name: "balances item with user_id", method: "GET", path: "/v1/users/" + userID + "/balances", status: 200,
			body: strings.Replace(balances, `{"currency"`, `{"user_id":"`+userID+`","currency"`, 1)},
		{name: "422 on a read with another code", method: "GET", path: "/v1/users/" + userID + "/balance", status: 422, ctype: "application/problem+json",
			body: `{"type":"https://wallet.example/problems/insufficient_funds","title":"Unprocessable Entity","status":422,"code":"insufficient_funds"}`},
		{name: "user with extra field", method: "GET", path: "/v1/users/" + userID, status: 200, body: strings.Replace(user, `{`, `{"email":"a@b.c",`, 1)},
		{name: "user with bad status", method: "GET", path: "/v1/users/" + userID, status: 200, body: strings.Replace(user, "active", "suspended", 1)},
		{name: "user with bad id", method: "GET", path: "/v1/users/" + userID, status: 200, body: strings.Replace(user, userID, "eu_123", 1)},
		{name: "user missing created_at", method: "GET", path: "/v1/users/" + userID, status: 200, body: `{"id":"` + userID + `","region":"eu","status":"active"}`},
		{name: "created user without Location", method: "POST", path: "/v1/users", status: 201, body: user},
		{name: "ledger without next_cursor", method: "GET", path: "/v1/users/" + userID + "/ledger", status: 200, body: `{"entries":[]}`},
		{name: "ledger numeric cursor", method: "GET", path: "/v1/users/" + userID + "/ledger", status: 200, body: `{"entries":[],"next_cursor":5}`},
		{name: "problem as application/json", method: "GET", path: "/v1/users/" + userID, status: 404, body: notFound},
		{name: "404 with another route's code", method: "GET", path: "/v1/users/" + userID, status: 404, ctype: "application/problem+json",
			body: strings.ReplaceAll(notFound, "user_not_found", "transfer_not_found")},
		{name: "problem without code", method: "GET", path: "/v1/users/" + userID, status: 404, ctype: "application/problem+json",
			body: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "problem with extra field", method: "GET", path: "/v1/users/" + userID, status: 404, ctype: "application/problem+json",
			body: strings.Replace(notFound, `{`, `{"errors":[],`, 1)},
		{name: "429 without Retry-After", method: "POST", path: dep, status: 429, ctype: "application/problem+json",
			body: `{"type":"https://wallet.example/problems/rate_limited","title":"Too Many Requests","status":429,"code":"rate_limited"}`},
		{name: "pending transfer without Location", method: "POST", path: "/v1/transfers", status: 202,
			body: `{"id":"` + transferID + `","from_user_id":"` + userID + `","to_user_id":"` + peerID + `","amount":"1","status":"pending","created_at":"2024-11-20T10:30:00Z","updated_at":"2024-11-20T10:30:00Z","steps":[]}`},
		{name: "transfer without steps", method: "GET", path: "/v1/transfers/" + transferID, status: 200, headers: nil,
			body: `{"id":"` + transferID + `","from_user_id":"` + userID + `","to_user_id":"` + peerID + `","currency":"EUR","amount":"1","status":"pending","created_at":"2024-11-20T10:30:00Z","updated_at":"2024-11-20T10:30:00Z"}`},
		{name: "transfer with a malformed currency", method: "GET", path: "/v1/transfers/" + transferID, status: 200,
			body: `{"id":"` + transferID + `","from_user_id":"` + userID + `","to_user_id":"` + peerID + `","currency":"E","amount":"1","status":"pending","created_at":"2024-11-20T10:30:00Z","updated_at":"2024-11-20T10:30:00Z","steps":[]}`},
		{name: "undocumented status", method: "GET", path: "/livez", status: 500, body: `{"status":"alive"}`},
		{name: "no X-Request-Id", method: "GET", path: "/livez", status: 200, headers: map[string]string{"X-Request-Id": ""}, body: `{"status":"alive"}`},
		{name: "problem without X-Request-Id", method: "GET", path: "/v1/users/" + userID, status: 404, ctype: "application/problem+json",
			headers: map[string]string{"X-Request-Id": ""}, body: notFound},
		{name: "malformed X-Request-Id", method: "GET", path: "/livez", status: 200, headers: map[string]string{"X-Request-Id": "a b"}, body: `{"status":"alive"}`},
		{name: "unknown dependency state", method: "GET", path: "/readyz", status: 200, body: `{"status":"ready","region":"eu","dependencies":{"kafka":"flaky"}}`},
		{name: "unknown route", method: "GET", path: "/v1/nothing", status: 200, body: `{}`},
		{name: "wrong method", method: "DELETE", path: "/v1/users/" + userID, status: 200, body: user},
		{name: "registered webhook without Location", method: "POST", path: "/v1/webhooks", status: 201, body: webhook},
		{name: "webhook with its gateway", method: "GET", path: wh, status: 200, body: strings.Replace(webhook, `{`, `{"gateway":"gw",`, 1)},
		{name: "webhook with a malformed secret", method: "GET", path: wh, status: 200, body: strings.Replace(webhook, `{`, `{"secret":"s3cr3t",`, 1)},
		{name: "webhook without event types", method: "GET", path: wh, status: 200, body: strings.Replace(webhook, `"wallet.transfer.completed"`, "", 1)},
		{name: "webhook with an unknown event type", method: "GET", path: wh, status: 200, body: strings.Replace(webhook, `transfer.completed`, `transfer.refunded`, 1)},
		{name: "webhook with a user id", method: "GET", path: wh, status: 200, body: strings.Replace(webhook, webhookID, userID, 1)},
		{name: "webhook 404 with another code", method: "GET", path: wh, status: 404, ctype: "application/problem+json",
			body: `{"type":"https://wallet.example/problems/delivery_not_found","title":"Not Found","status":404,"code":"delivery_not_found"}`},
		{name: "webhook list as an array", method: "GET", path: "/v1/webhooks", status: 200, body: `[` + webhook + `]`},
		{name: "deliveries without next_cursor", method: "GET", path: wh + "/deliveries", status: 200, body: `{"deliveries":[` + delivery + `]}`},
		{name: "delivery with an unknown status", method: "GET", path: wh + "/deliveries", status: 200,
			body: `{"deliveries":[` + strings.Replace(delivery, "delivered", "retrying", 1) + `],"next_cursor":null}`},
		{name: "delivery with status code 0", method: "GET", path: wh + "/deliveries", status: 200,
			body: `{"deliveries":[` + strings.Replace(delivery, "204", "0", 1) + `],"next_cursor":null}`},
		{name: "delivery with a string id", method: "POST", path: wh + "/deliveries/1/redeliver", status: 202, body: strings.Replace(delivery, `"id":1`, `"id":"1"`, 1)},
		{name: "redelivery answered 200", method: "POST", path: wh + "/deliveries/1/redeliver", status: 200, body: delivery},
	} {
		t.Run(x.name, func(t *testing.T) {
			if err := x.check(v); err == nil {
				t.Errorf("invalid %s accepted", x.name)
			} else {
				t.Logf("REJ %s", strings.SplitN(err.Error(), "\n", 2)[0])
			}
		})
	}
}

// TestRealEncoders checks responses written by the platform's own code.
func TestRealEncoders(t *testing.T) {
	v := newValidator(t)
	tracker := health.NewTracker("eu", map[string]health.Check{"kafka": nil}, prometheus.NewRegistry())
	path := "/v1/users/" + userID
	for _, c := range []struct {
		name, path string
		h          http.Handler
	}{
		{"problem", path, httpapi.WithRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpapi.WriteError(w, r, httpapi.NewProblem(http.StatusNotFound, httpapi.CodeUserNotFound, "no such user"))
		}))},
		// Behind WithRequestID, as every route of the server is.
		{"livez", "/livez", httpapi.WithRequestID(http.HandlerFunc(tracker.Livez))},
		{"body over the limit", "/livez", httpapi.WithRequestID(httpapi.LimitBody(1, nil)(http.HandlerFunc(tracker.Livez)))},
		{"readyz starting", "/readyz", httpapi.WithRequestID(http.HandlerFunc(tracker.Readyz))},
		{"openapi.yaml", "/openapi.yaml", httpapi.WithRequestID(api.Handler())},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", c.path, strings.NewReader("{}"))
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			resp := rec.Result()
			body, _ := io.ReadAll(resp.Body)
			if err := v.Check(req, resp, body); err != nil {
				t.Errorf("%s: %v\n%s", c.name, err, body)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(httpapi.WithRequestID(api.Handler()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if !bytes.Equal(body, api.Spec) || len(api.Spec) == 0 {
		t.Errorf("served %d bytes, want the %d bytes of api.Spec", len(body), len(api.Spec))
	}
	if !bytes.HasPrefix(api.Spec, []byte("openapi: 3.1.0\n")) {
		t.Errorf("api.Spec does not start with openapi: 3.1.0")
	}
	// The validator finds the route whatever the host (here a random test port).
	if err := newValidator(t).Check(resp.Request, resp, body); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestCheckUsesResponseRequest(t *testing.T) {
	v := newValidator(t)
	req := httptest.NewRequest("GET", "http://127.0.0.1:8082/livez", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}, Request: req}
	if err := v.Check(nil, resp, []byte(`{"status":"alive"}`)); err != nil {
		t.Errorf("Check(nil, resp): %v", err)
	}
	if err := v.Check(nil, &http.Response{StatusCode: 200}, nil); err == nil {
		t.Error("Check without any request accepted")
	}
}

// The lead's e2e tests may share one Validator between parallel tests.
func TestValidatorConcurrent(t *testing.T) {
	v := newValidator(t)
	page := exchange{method: "GET", path: "/v1/users/" + userID + "/ledger", status: 200, body: `{"entries":[],"next_cursor":null}`}
	user := exchange{method: "GET", path: "/v1/users/" + userID, status: 200,
		body: `{"id":"` + userID + `","region":"eu","status":"active","created_at":"2024-11-20T10:15:30Z","default_currency":"EUR"}`}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for _, x := range []exchange{page, user} {
					if err := x.check(v); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
