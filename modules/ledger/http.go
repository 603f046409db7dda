package ledger

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/currency"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/ratelimit"
)

// HTTP serves the ledger's routes under /v1/users/{id}. It is the ledger's one edge:
// the only code of the module that knows JSON, HTTP statuses and problem codes.
type HTTP struct {
	ledger    *Service
	movements *Movements
	forward   *httpapi.Forwarder
	limiter   *ratelimit.Limiter
	units     *currency.Catalogue
}

// NewHTTP builds the ledger's handlers; units is the region's catalogue of currencies.
func NewHTTP(ledger *Service, movements *Movements, forward *httpapi.Forwarder, limiter *ratelimit.Limiter, units *currency.Catalogue) *HTTP {
	return &HTTP{ledger: ledger, movements: movements, forward: forward, limiter: limiter, units: units}
}

// Mount adds the ledger's routes to r (already behind authentication).
func (h *HTTP) Mount(r chi.Router) {
	payments, read := r.With(httpapi.RequireScope(config.ScopePayments)), r.With(httpapi.RequireScope(config.ScopeRead))
	read.Get("/v1/users/{id}/balance", h.balance)
	read.Get("/v1/users/{id}/balances", h.balances)
	payments.Post("/v1/users/{id}/deposits", h.move(KindDeposit))
	payments.Post("/v1/users/{id}/withdrawals", h.move(KindWithdrawal))
	read.Get("/v1/users/{id}/ledger", h.entries)
	read.Get("/v1/currencies", h.currencies)
}

// Problems of the ledger's refusals.
var (
	problemInsufficientFunds = httpapi.NewProblem(http.StatusUnprocessableEntity, "insufficient_funds", "the amount exceeds the available balance")
	problemBalanceLimit      = httpapi.NewProblem(http.StatusUnprocessableEntity, "balance_limit_exceeded", "the resulting balance would exceed 78 digits")
)

// ProblemFor maps the ledger's errors to the problems clients see, walking wrapped and
// joined errors; any other error is returned as it is, for httpapi.WriteError (which
// knows the errors every module shares). The transfers edge uses it for the ledger's
// refusals of a transfer.
func ProblemFor(err error) error {
	switch {
	case errors.Is(err, ErrInsufficientFunds):
		return problemInsufficientFunds
	case errors.Is(err, ErrBalanceLimit):
		return problemBalanceLimit
	}
	return err
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, ProblemFor(err))
}

func (h *HTTP) balance(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	at, err := httpapi.TimeParam(r, "at")
	if err != nil {
		fail(w, r, err)
		return
	}
	code, err := httpapi.CurrencyParam(r, h.units)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !at.IsZero() {
		b, err := h.ledger.BalanceAt(r.Context(), id, code, at)
		if err != nil {
			fail(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, balanceAtJSON{UserID: b.UserID, At: b.At.Format(time.RFC3339Nano), Balance: b.Balance, LedgerSeq: b.LedgerSeq, Currency: b.Currency})
		return
	}
	b, err := h.ledger.Balance(r.Context(), id, code)
	if err != nil {
		fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, balanceToJSON(b))
}

// balances answers every balance of a user, one per currency it holds (its default
// always among them), read together.
func (h *HTTP) balances(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	wallet, err := h.ledger.Wallet(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := balancesJSON{UserID: id, DefaultCurrency: wallet.DefaultCurrency, LedgerSeq: wallet.LedgerSeq, Balances: []currencyBalanceJSON{}}
	for _, b := range wallet.Balances {
		out.Balances = append(out.Balances, currencyBalanceJSON{Currency: b.Currency, Balance: b.Balance, Frozen: b.Frozen, Available: b.Available})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

type movementRequest struct {
	Amount   *string           `json:"amount"`
	Currency *string           `json:"currency"`
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
			fail(w, r, err)
			return
		}
		var req movementRequest
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			fail(w, r, err)
			return
		}
		amount, err := httpapi.AmountField(req.Amount)
		if err != nil {
			fail(w, r, err)
			return
		}
		code, err := httpapi.CurrencyField(h.units, req.Currency)
		if err != nil {
			fail(w, r, err)
			return
		}
		if err := httpapi.MetadataField(req.Metadata); err != nil {
			fail(w, r, err)
			return
		}
		if !h.limiter.AllowRequest(w, r, id) {
			return
		}
		gateway := httpapi.CallerFrom(r.Context()).Gateway
		resp, err := h.movements.Move(r.Context(), Movement{UserID: id, Kind: kind, Currency: code, Amount: amount, Metadata: req.Metadata,
			Key: key, Gateway: gateway}, answerMoved(gateway))
		if err != nil {
			fail(w, r, err)
			return
		}
		httpapi.WriteRawJSON(w, resp.Status, resp.Body)
	}
}

// answerMoved encodes a fresh deposit or withdrawal as gateway sees it: 201 with the
// entry and the balance after it. Its bytes are stored under the key and replayed.
func answerMoved(gateway string) Answer {
	return func(m Moved) (idempotency.Response, error) {
		body, err := json.Marshal(movementJSON{Entry: entryToJSON(m.Entry, gateway), Balance: balanceToJSON(m.Balance)})
		return idempotency.Response{Status: http.StatusCreated, Body: body}, err
	}
}

// cursorKind names the ledger's cursors: the sequence number to continue below.
const cursorKind = "seq"

func validSeq(position string) bool {
	n, err := strconv.ParseInt(position, 10, 64)
	return err == nil && n >= 1 && strconv.FormatInt(n, 10) == position
}

func (h *HTTP) entries(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	limit, err := httpapi.PageLimit(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	cursor, err := httpapi.CursorParam(r, cursorKind, validSeq)
	if err != nil {
		fail(w, r, err)
		return
	}
	before := int64(0) // from the newest
	if cursor != "" {
		before, _ = strconv.ParseInt(cursor, 10, 64)
	}
	var window Window
	if window.From, err = httpapi.TimeParam(r, "from"); err != nil {
		fail(w, r, err)
		return
	}
	if window.To, err = httpapi.TimeParam(r, "to"); err != nil {
		fail(w, r, err)
		return
	}
	if !window.From.IsZero() && !window.To.IsZero() && !window.From.Before(window.To) {
		fail(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "from: must be before to"))
		return
	}
	code, err := httpapi.CurrencyParam(r, h.units)
	if err != nil {
		fail(w, r, err)
		return
	}
	page, err := h.ledger.Entries(r.Context(), id, before, limit, window, code)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := entriesJSON{Entries: make([]entryJSON, 0, len(page.Entries))}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, entryToJSON(e, httpapi.CallerFrom(r.Context()).Gateway))
	}
	if page.NextBeforeSeq > 0 {
		c := httpapi.EncodeCursor(cursorKind, strconv.FormatInt(page.NextBeforeSeq, 10))
		out.NextCursor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

type currencyJSON struct {
	Code     string `json:"code"`
	Exponent int    `json:"exponent"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
}

type currenciesJSON struct {
	Default    string         `json:"default"`
	Currencies []currencyJSON `json:"currencies"`
}

// currencies lists the units of account this region knows, and its default: amounts
// are integers in a unit's minor units, and the exponent says how many make one major
// unit. Each region answers for itself (its default is its own).
func (h *HTTP) currencies(w http.ResponseWriter, _ *http.Request) {
	out := currenciesJSON{Default: h.units.Default().Code}
	for _, c := range h.units.All() {
		out.Currencies = append(out.Currencies, currencyJSON(c))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// balanceAtJSON is a balance as of an instant: what the ledger says after its newest
// entry created at or before it.
type balanceAtJSON struct {
	UserID    string       `json:"user_id"`
	At        string       `json:"at"`
	Balance   money.Amount `json:"balance"`
	LedgerSeq int64        `json:"ledger_seq"`
	Currency  string       `json:"currency"`
}

// balanceJSON is one balance. Currency comes last: the fields before it are those of
// every response before balances per currency, in the same order.
type balanceJSON struct {
	UserID    string       `json:"user_id"`
	Balance   money.Amount `json:"balance"`
	Frozen    money.Amount `json:"frozen"`
	Available money.Amount `json:"available"`
	LedgerSeq int64        `json:"ledger_seq"`
	Currency  string       `json:"currency"`
}

func balanceToJSON(b Balance) balanceJSON {
	return balanceJSON{UserID: b.UserID, Balance: b.Balance, Frozen: b.Frozen, Available: b.Available, LedgerSeq: b.LedgerSeq, Currency: b.Currency}
}

type currencyBalanceJSON struct {
	Currency  string       `json:"currency"`
	Balance   money.Amount `json:"balance"`
	Frozen    money.Amount `json:"frozen"`
	Available money.Amount `json:"available"`
}

type balancesJSON struct {
	UserID          string                `json:"user_id"`
	DefaultCurrency string                `json:"default_currency"`
	LedgerSeq       int64                 `json:"ledger_seq"`
	Balances        []currencyBalanceJSON `json:"balances"`
}

type entryJSON struct {
	Seq            int64             `json:"seq"`
	Kind           string            `json:"kind"`
	Currency       string            `json:"currency"`
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
		Seq: e.Seq, Kind: e.Kind, Currency: e.Currency, Amount: e.Amount, BalanceAfter: e.BalanceAfter,
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
