package transfers

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/ratelimit"
	"example.com/wallet/platform/shard"
)

// HTTP serves /v1/transfers and /v1/users/{id}/transfers.
type HTTP struct {
	transfers *Service
	forward   *httpapi.Forwarder
	limiter   *ratelimit.Limiter
}

// NewHTTP builds the transfer handlers.
func NewHTTP(transfers *Service, forward *httpapi.Forwarder, limiter *ratelimit.Limiter) *HTTP {
	return &HTTP{transfers: transfers, forward: forward, limiter: limiter}
}

// Mount adds the routes to r (already behind authentication).
func (h *HTTP) Mount(r chi.Router) {
	r.Post("/v1/transfers", h.create)
	r.Get("/v1/transfers/{id}", h.get)
	r.Get("/v1/users/{id}/transfers", h.list)
}

type createRequest struct {
	FromUserID *string           `json:"from_user_id"`
	ToUserID   *string           `json:"to_user_id"`
	Amount     *string           `json:"amount"`
	Metadata   map[string]string `json:"metadata"`
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, httpapi.NewProblem(http.StatusRequestEntityTooLarge, httpapi.CodeBodyTooLarge, "the body is too large"))
		return
	}
	var req createRequest
	if err := httpapi.DecodeJSONBytes(body, &req); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	from, ok := userField(w, r, "from_user_id", req.FromUserID)
	if !ok {
		return
	}
	to, ok := userField(w, r, "to_user_id", req.ToUserID)
	if !ok {
		return
	}
	if from == to {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "to_user_id: must differ from from_user_id"))
		return
	}
	fromRegion, _ := shard.UserRegion(from)
	if !h.forward.Knows(fromRegion) {
		httpapi.WriteProblem(w, r, ledger.ErrUserNotFound)
		return
	}
	// A transfer executes in its sender's home region.
	if !h.forward.ServeHere(w, r, fromRegion, body) {
		return
	}
	key, err := idempotency.KeyFromRequest(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	amount, err := ledger.ParseAmountField(req.Amount)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := ledger.ValidateMetadata(req.Metadata); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if !h.limiter.AllowRequest(w, r, from) {
		return
	}
	resp, replayed, err := h.transfers.Create(r.Context(), Request{FromUserID: from, ToUserID: to, Amount: amount,
		Metadata: req.Metadata, Key: key, Gateway: httpapi.CallerFrom(r.Context()).Gateway})
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var created struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(resp.Body, &created)
	w.Header().Set("Location", "/v1/transfers/"+created.ID)
	wait, preferred := httpapi.PreferWait(r)
	switch {
	case preferred && (resp.Status == http.StatusAccepted || replayed):
		h.waitForFinal(w, r, created.ID, wait)
	case replayed:
		// A replay answers with the transfer as it is now: never an older state than
		// an earlier answer (the first may have waited for the end with Prefer).
		h.answerCurrent(w, r, created.ID)
	default:
		httpapi.WriteRawJSON(w, resp.Status, resp.Body)
	}
}

// answerCurrent answers with the transfer as it is now: 201 when final, 202 while
// pending.
func (h *HTTP) answerCurrent(w http.ResponseWriter, r *http.Request, id string) {
	t, err := h.transfers.Get(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	status := http.StatusCreated
	if t.Status == StatusPending {
		status = http.StatusAccepted
	}
	httpapi.WriteJSON(w, status, toJSON(t))
}

// waitForFinal answers with the transfer once it is final (201) or when wait runs out
// (202, still pending). The wait costs no connection and no polling: the request is
// woken when its transfer is announced final (see Service.WaitFinal).
func (h *HTTP) waitForFinal(w http.ResponseWriter, r *http.Request, id string, wait time.Duration) {
	t, waited, err := h.transfers.WaitFinal(r.Context(), id, wait)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if waited {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(wait.Seconds())))
	}
	status := http.StatusCreated
	if t.Status == StatusPending {
		status = http.StatusAccepted
	}
	httpapi.WriteJSON(w, status, toJSON(t))
}

func userField(w http.ResponseWriter, r *http.Request, name string, v *string) (string, bool) {
	if v == nil || !shard.IsUserID(*v) {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "%s: must be a user id", name))
		return "", false
	}
	return *v, true
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	region, err := shard.TransferRegion(id)
	if err != nil {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "id: %q is not a transfer id", id))
		return
	}
	if !h.forward.Knows(region) {
		httpapi.WriteProblem(w, r, ErrTransferNotFound)
		return
	}
	if !h.forward.ServeHere(w, r, region, nil) {
		return
	}
	t, err := h.transfers.Get(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, toJSON(t))
}

func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	id, here := h.forward.UserHome(w, r, nil)
	if !here {
		return
	}
	// A parameter that is present must hold a value: ?direction= is not the default,
	// and ?status= is not "any status".
	q := r.URL.Query()
	direction := "out"
	if q.Has("direction") {
		direction = q.Get("direction")
	}
	switch direction {
	case "out", "in":
	default:
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "direction: must be out or in"))
		return
	}
	status := q.Get("status")
	switch {
	case !q.Has("status"):
	case status == StatusPending, status == StatusCompleted, status == StatusCancelled:
	default:
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "status: must be pending, completed or cancelled"))
		return
	}
	limit, err := ledger.PageLimit(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	before := ""
	if q.Has("cursor") {
		c := q.Get("cursor") // present but empty is a cursor this API never returned
		raw, err := base64.RawURLEncoding.DecodeString(c)
		before = strings.TrimPrefix(string(raw), "tr:")
		if _, perr := shard.TransferRegion(before); err != nil || perr != nil || !strings.HasPrefix(string(raw), "tr:") {
			httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "cursor: is not a cursor this API returned"))
			return
		}
	}
	page, err := h.transfers.List(r.Context(), id, direction, status, before, limit)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	out := listJSON{Transfers: make([]transferJSON, 0, len(page.Transfers))}
	for _, t := range page.Transfers {
		out.Transfers = append(out.Transfers, toJSON(t))
	}
	if page.NextBefore != "" {
		c := base64.RawURLEncoding.EncodeToString([]byte("tr:" + page.NextBefore))
		out.NextCursor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

type stepJSON struct {
	Step string `json:"step"`
	At   string `json:"at"`
}

type transferJSON struct {
	ID         string            `json:"id"`
	FromUserID string            `json:"from_user_id"`
	ToUserID   string            `json:"to_user_id"`
	Amount     money.Amount      `json:"amount"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	CreatedAt  string            `json:"created_at"`
	UpdatedAt  string            `json:"updated_at"`
	Steps      []stepJSON        `json:"steps"`
}

type listJSON struct {
	Transfers  []transferJSON `json:"transfers"`
	NextCursor *string        `json:"next_cursor"`
}

func toJSON(t Transfer) transferJSON {
	out := transferJSON{
		ID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Amount: t.Amount, Status: t.Status,
		Reason: t.Reason, Metadata: t.Metadata,
		CreatedAt: t.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: t.UpdatedAt.Format(time.RFC3339Nano),
		Steps: make([]stepJSON, 0, len(t.Steps)),
	}
	for _, s := range t.Steps {
		out.Steps = append(out.Steps, stepJSON{Step: s.Step, At: s.At.Format(time.RFC3339Nano)})
	}
	return out
}
