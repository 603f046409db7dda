package batches

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/shard"
)

// MaxItems bounds the items of one batch.
const MaxItems = 1000

// concurrency bounds the users whose items run at once: enough to fill group commit's
// batches on every shard, few enough that one batch cannot take every connection.
const concurrency = 64

// HTTP serves POST /v1/batches. Its items go to api, the region's whole router, which
// cmd/wallet hands it once built (Dispatch).
type HTTP struct {
	api http.Handler
}

// NewHTTP builds the batch handler; Dispatch must be called before it serves.
func NewHTTP() *HTTP { return &HTTP{} }

// Dispatch sets the handler every item is sent through: the region's API, as a request
// of its own would reach it.
func (h *HTTP) Dispatch(api http.Handler) { h.api = api }

// Mount adds the route to r (already behind authentication). Each item's own route
// checks its own scope; the batch needs the payments scope itself.
func (h *HTTP) Mount(r chi.Router) {
	r.With(httpapi.RequireScope(config.ScopePayments)).Post("/v1/batches", h.create)
}

// item is one entry of a batch: the user whose items it is ordered with, its key, the
// route its request takes and the rest, which is that request's body.
type item struct {
	user, key, path string
	body            []byte
}

// resultJSON is one item's answer: the status and body its own request would have had.
type resultJSON struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

type batchJSON struct {
	Results []resultJSON `json:"results"`
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	items, err := parseBatch(body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	results := make([]resultJSON, len(items))
	// Items of one user keep the batch's order; users run side by side.
	byUser := map[string][]int{}
	var users []string
	for i, it := range items {
		if _, ok := byUser[it.user]; !ok {
			users = append(users, it.user)
		}
		byUser[it.user] = append(byUser[it.user], i)
	}
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for _, u := range users {
		slots <- struct{}{}
		wg.Add(1)
		go func(indexes []int) {
			defer func() { <-slots; wg.Done() }()
			for _, i := range indexes {
				results[i] = h.apply(r, items[i])
			}
		}(byUser[u])
	}
	wg.Wait()
	httpapi.WriteJSON(w, http.StatusOK, batchJSON{Results: results})
}

// apply sends it through the region's API as a request of its own, with the batch's
// credentials and trace, and returns what that request answered.
func (h *HTTP) apply(r *http.Request, it item) resultJSON {
	// The batch's routing context is chi's, and chi would route the item with it (and
	// share it between items): the item starts from none, as a request of its own.
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, (*chi.Context)(nil))
	sub, err := http.NewRequestWithContext(ctx, http.MethodPost, it.path, bytes.NewReader(it.body))
	if err != nil {
		// Paths are built from checked ids: unreachable.
		panic(err)
	}
	for _, name := range []string{"Authorization", "Traceparent", "Tracestate"} {
		if v := r.Header.Get(name); v != "" {
			sub.Header.Set(name, v)
		}
	}
	sub.Header.Set("Content-Type", "application/json")
	if it.key != "" {
		sub.Header.Set("Idempotency-Key", it.key)
	}
	sub.RemoteAddr = r.RemoteAddr
	rec := &recorder{header: http.Header{}}
	h.api.ServeHTTP(rec, sub)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return resultJSON{Status: rec.status, Body: json.RawMessage(bytes.TrimSpace(rec.body.Bytes()))}
}

// kinds maps an item's kind to the route its request takes.
var kinds = map[string]func(user string) string{
	"deposit":    func(user string) string { return "/v1/users/" + url.PathEscape(user) + "/deposits" },
	"withdrawal": func(user string) string { return "/v1/users/" + url.PathEscape(user) + "/withdrawals" },
	"transfer":   func(string) string { return "/v1/transfers" },
}

// parseBatch checks the batch's shape: {"items": [...]} with 1 to MaxItems objects,
// each of a known kind, naming a well-formed user (user_id for deposits and
// withdrawals, from_user_id for transfers), with an idempotency_key that is a string
// when present. Everything else of an item is its request's body, passed on as it came
// and checked by its route as if sent alone: the batch does not decode it strictly
// itself, or an item's refusal (a null, an unknown field) would refuse its batch-mates.
func parseBatch(body []byte) ([]item, error) {
	invalid := func(format string, args ...any) error {
		return httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, format, args...)
	}
	if !utf8.Valid(body) {
		return nil, invalid("the body is not valid UTF-8")
	}
	var envelope struct {
		Items []json.RawMessage `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&envelope); err != nil || dec.More() {
		return nil, invalid("the body must be {\"items\": [...]}")
	}
	if len(envelope.Items) == 0 || len(envelope.Items) > MaxItems {
		return nil, invalid("items: from 1 to %d", MaxItems)
	}
	items := make([]item, len(envelope.Items))
	for i, raw := range envelope.Items {
		bad := func(format string, args ...any) error {
			return invalid("items[%d].%s", i, fmt.Sprintf(format, args...))
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, invalid("items[%d]: must be an object", i)
		}
		var kind string
		if err := json.Unmarshal(fields["kind"], &kind); err != nil || kinds[kind] == nil {
			return nil, bad("kind: deposit, withdrawal or transfer")
		}
		delete(fields, "kind")
		userField := "user_id"
		if kind == "transfer" {
			userField = "from_user_id"
		}
		var user string
		if err := json.Unmarshal(fields[userField], &user); err != nil {
			return nil, bad("%s: required, a user id", userField)
		}
		if _, err := shard.UserRegion(user); err != nil {
			return nil, bad("%s: not a user id", userField)
		}
		if kind != "transfer" {
			delete(fields, "user_id")
		}
		var key string
		if rawKey, ok := fields["idempotency_key"]; ok {
			if len(rawKey) == 0 || rawKey[0] != '"' || json.Unmarshal(rawKey, &key) != nil {
				return nil, bad("idempotency_key: a string")
			}
			delete(fields, "idempotency_key")
		}
		body, err := json.Marshal(fields)
		if err != nil {
			return nil, err
		}
		items[i] = item{user: user, key: key, path: kinds[kind](user), body: body}
	}
	return items, nil
}

// recorder keeps what an item's request answered.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
