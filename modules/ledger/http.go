package ledger

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/ratelimit"
)

// HTTP serves the ledger's routes under /v1/users/{id}.
type HTTP struct {
	ledger  *Service
	forward *httpapi.Forwarder
	limiter *ratelimit.Limiter
}

// NewHTTP builds the ledger's handlers.
func NewHTTP(ledger *Service, forward *httpapi.Forwarder, limiter *ratelimit.Limiter) *HTTP {
	return &HTTP{ledger: ledger, forward: forward, limiter: limiter}
}

// Mount adds the ledger's routes to r (already behind authentication).
func (h *HTTP) Mount(r chi.Router) {
	r.Get("/v1/users/{id}/balance", h.balance)
	r.Post("/v1/users/{id}/deposits", h.move(KindDeposit))
	r.Post("/v1/users/{id}/withdrawals", h.move(KindWithdrawal))
	r.Get("/v1/users/{id}/ledger", h.entries)
}

func (h *HTTP) balance(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	b, err := h.ledger.Balance(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, balanceToJSON(b))
}

type movementRequest struct {
	Amount   *string           `json:"amount"`
	Metadata map[string]string `json:"metadata"`
}

func (h *HTTP) move(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, here := h.forward.UserHome(w, r, nil)
		if !here {
			return
		}
		key, err := idempotency.KeyFromRequest(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		var req movementRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		amount, err := ParseAmountField(req.Amount)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if err := ValidateMetadata(req.Metadata); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if !h.limiter.AllowRequest(w, r, id) {
			return
		}
		resp, err := h.ledger.Move(r.Context(), Movement{UserID: id, Kind: kind, Amount: amount, Metadata: req.Metadata,
			Key: key, Gateway: httpapi.CallerFrom(r.Context()).Gateway})
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteRawJSON(w, resp.Status, resp.Body)
	}
}

// ParseAmountField turns the JSON "amount" into a positive amount, or a 400
// invalid_amount problem.
func ParseAmountField(s *string) (money.Amount, error) {
	if s == nil {
		return money.Amount{}, httpapi.NewProblem(http.StatusBadRequest, "invalid_amount", "amount: is required, as a string of decimal digits")
	}
	a, err := money.ParsePositive(*s)
	if err != nil {
		return money.Amount{}, httpapi.NewProblem(http.StatusBadRequest, "invalid_amount", "amount: %s", strings.TrimPrefix(err.Error(), "invalid amount: "))
	}
	return a, nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

func (h *HTTP) entries(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	limit, err := PageLimit(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	before := int64(0)
	if q := r.URL.Query(); q.Has("cursor") {
		c := q.Get("cursor") // present but empty is a cursor this API never returned
		if before, err = decodeCursor(c); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	page, err := h.ledger.Entries(r.Context(), id, before, limit)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := entriesJSON{Entries: make([]entryJSON, 0, len(page.Entries))}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, entryToJSON(e, httpapi.CallerFrom(r.Context()).Gateway))
	}
	if page.NextBeforeSeq > 0 {
		c := encodeCursor(page.NextBeforeSeq)
		out.NextCursor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// PageLimit reads ?limit= (1 to 200, default 50 when absent; present but empty is not
// an integer).
func PageLimit(r *http.Request) (int, error) {
	q := r.URL.Query()
	if !q.Has("limit") {
		return defaultPageSize, nil
	}
	raw := q.Get("limit")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageSize || strconv.Itoa(n) != raw {
		return 0, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "limit: must be an integer from 1 to %d", maxPageSize)
	}
	return n, nil
}

// Cursors are opaque to clients; inside they name the sequence to continue below.
func encodeCursor(beforeSeq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(beforeSeq, 10)))
}

func decodeCursor(c string) (int64, error) {
	bad := httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "cursor: is not a cursor this API returned")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, bad
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(string(raw), "seq:"), 10, 64)
	if err != nil || n < 1 || !strings.HasPrefix(string(raw), "seq:") || encodeCursor(n) != c {
		return 0, bad
	}
	return n, nil
}

type balanceJSON struct {
	UserID    string       `json:"user_id"`
	Balance   money.Amount `json:"balance"`
	Frozen    money.Amount `json:"frozen"`
	Available money.Amount `json:"available"`
	LedgerSeq int64        `json:"ledger_seq"`
}

func balanceToJSON(b Balance) balanceJSON {
	return balanceJSON(b)
}

type entryJSON struct {
	Seq            int64             `json:"seq"`
	Kind           string            `json:"kind"`
	Amount         money.Amount      `json:"amount"`
	BalanceAfter   money.Amount      `json:"balance_after"`
	TransferID     string            `json:"transfer_id,omitempty"`
	IdempotencyKey string            `json:"idempotency_key,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	CreatedAt      string            `json:"created_at"`
	Hash           string            `json:"hash"`
}

// entryToJSON is e as gateway sees it: an Idempotency-Key is the gateway's own, shown
// only to the gateway that sent it (and never for entries older than the ledger's
// record of gateways).
func entryToJSON(e Entry, gateway string) entryJSON {
	out := entryJSON{
		Seq: e.Seq, Kind: e.Kind, Amount: e.Amount, BalanceAfter: e.BalanceAfter,
		TransferID: e.TransferID, Metadata: e.Metadata,
		CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339Nano), Hash: hexString(e.Hash),
	}
	if e.Gateway != "" && e.Gateway == gateway {
		out.IdempotencyKey = e.IdempotencyKey
	}
	return out
}

type movementJSON struct {
	Entry   entryJSON   `json:"entry"`
	Balance balanceJSON `json:"balance"`
}

type entriesJSON struct {
	Entries    []entryJSON `json:"entries"`
	NextCursor *string     `json:"next_cursor"`
}
