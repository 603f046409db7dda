package accounts

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/platform/account"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/shard"
)

// HTTP serves /v1/users and /v1/users/{id}. It is the accounts' one edge. The accounts
// have no refusals of their own (an unknown user is shard.ErrUserNotFound), so every
// error goes to httpapi.WriteError as it is.
type HTTP struct {
	accounts *Service
	forward  *httpapi.Forwarder
	region   string
}

// NewHTTP builds the accounts handlers of region.
func NewHTTP(accounts *Service, forward *httpapi.Forwarder, region string) *HTTP {
	return &HTTP{accounts: accounts, forward: forward, region: region}
}

// Mount adds the routes to r (already behind authentication).
func (h *HTTP) Mount(r chi.Router) {
	payments, read := r.With(httpapi.RequireScope(config.ScopePayments)), r.With(httpapi.RequireScope(config.ScopeRead))
	payments.Post("/v1/users", h.create)
	read.Get("/v1/users/{id}", h.get)
	operator := r.With(httpapi.RequireScope(config.ScopeOperator))
	operator.Post("/v1/users/{id}/freeze", h.setStatus(account.StatusFrozen))
	operator.Post("/v1/users/{id}/unfreeze", h.setStatus(account.StatusActive))
	operator.Post("/v1/users/{id}/close", h.setStatus(account.StatusClosed))
}

// setStatus freezes, unfreezes or closes the account, in the user's home region, and
// answers with the user as it now is. Each is idempotent by state: asking again for
// the status the account has changes nothing and answers the same.
func (h *HTTP) setStatus(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, here := h.forward.UserHome(w, r, nil)
		if !here {
			return
		}
		u, err := h.accounts.SetStatus(r.Context(), id, status)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, toJSON(u))
	}
}

type createRequest struct {
	Region *string `json:"region"`
}

// create makes a user in the requested region (default: this one), forwarding to it
// when it is another. With an Idempotency-Key the id is derived from the gateway and
// the key, so a retry, through any region, finds the user the first attempt made.
func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	region := h.region
	if len(body) > 0 {
		var req createRequest
		if err := httpapi.DecodeJSONBytes(body, &req); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		if req.Region != nil {
			region = *req.Region
		}
	}
	if !h.forward.Knows(region) {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "region: %q is not a region of this wallet", region))
		return
	}
	id := shard.NewUserID(region)
	if len(r.Header.Values(idempotency.Header)) > 0 {
		key, err := idempotency.KeyFromRequest(r)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		id = shard.DerivedUserID(region, httpapi.CallerFrom(r.Context()).Gateway, key)
	}
	if !h.forward.ServeHere(w, r, region, body) {
		return
	}
	u, err := h.accounts.Create(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/users/"+u.ID)
	httpapi.WriteJSON(w, http.StatusCreated, toJSON(u))
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	u, err := h.accounts.Get(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(u))
}

type userJSON struct {
	ID              string `json:"id"`
	Region          string `json:"region"`
	Status          string `json:"status"`
	CreatedAt       string `json:"created_at"`
	DefaultCurrency string `json:"default_currency"`
}

func toJSON(u User) userJSON {
	return userJSON{ID: u.ID, Region: u.Region, Status: u.Status, CreatedAt: u.CreatedAt.Format(time.RFC3339Nano), DefaultCurrency: u.DefaultCurrency}
}
