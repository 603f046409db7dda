package transfers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/currency"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/ratelimit"
	"example.com/wallet/platform/shard"
)

// HTTP serves /v1/transfers and /v1/users/{id}/transfers. It is the transfers' one
// edge: the only code of the module that knows JSON, HTTP statuses and problem codes.
type HTTP struct {
	transfers *Service
	forward   *httpapi.Forwarder
	limiter   *ratelimit.Limiter
	units     *currency.Catalogue
}

// NewHTTP builds the transfer handlers; units is the region's catalogue of currencies.
func NewHTTP(transfers *Service, forward *httpapi.Forwarder, limiter *ratelimit.Limiter, units *currency.Catalogue) *HTTP {
	return &HTTP{transfers: transfers, forward: forward, limiter: limiter, units: units}
}

// Mount adds the routes to r (already behind authentication).
func (h *HTTP) Mount(r chi.Router) {
	payments, read := r.With(httpapi.RequireScope(config.ScopePayments)), r.With(httpapi.RequireScope(config.ScopeRead))
	payments.Post("/v1/transfers", h.create)
	payments.Post("/v1/transfers/{id}/refunds", h.refund)
	read.Get("/v1/transfers/{id}", h.get)
	read.Get("/v1/users/{id}/transfers", h.list)
}

// Problems of the transfers' refusals.
var (
	problemTransferNotFound = httpapi.NewProblem(http.StatusNotFound, "transfer_not_found", "no such transfer")
	// 422, not 409: a 409 from the wallet always means "a request with this key is in
	// flight, retry it", and a cancelled transfer never becomes refundable.
	problemNotRefundable = httpapi.NewProblem(http.StatusUnprocessableEntity, "transfer_not_refundable", "only a completed transfer that is not itself a refund can be refunded")
	problemRefundExceeds = httpapi.NewProblem(http.StatusUnprocessableEntity, "refund_exceeds_remainder", "the refund exceeds what is left to refund of the transfer (its amount less its refunds not cancelled)")
	problemBacklogged    = &httpapi.Problem{
		Status: http.StatusServiceUnavailable, Code: "transfers_backlogged", RetryAfter: 1,
		Detail: "transfers from this user's shard to other shards and regions are backlogged; retry with the same Idempotency-Key after Retry-After",
	}
)

// problemFor maps the transfers' errors, then the ledger's refusals of a transfer
// (ledger.ProblemFor), to the problems clients see; any other error is returned as it
// is, for httpapi.WriteError.
func problemFor(err error) error {
	switch {
	case errors.Is(err, ErrTransferNotFound):
		return problemTransferNotFound
	case errors.Is(err, ErrBacklogged):
		return problemBacklogged
	case errors.Is(err, ErrNotRefundable):
		return problemNotRefundable
	case errors.Is(err, ErrRefundExceedsRemainder):
		return problemRefundExceeds
	}
	return ledger.ProblemFor(err)
}

func fail(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.WriteError(w, r, problemFor(err))
}

type createRequest struct {
	FromUserID *string           `json:"from_user_id"`
	ToUserID   *string           `json:"to_user_id"`
	Amount     *string           `json:"amount"`
	Currency   *string           `json:"currency"`
	Metadata   map[string]string `json:"metadata"`
}

func (h *HTTP) create(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var req createRequest
	if err := httpapi.DecodeJSONBytes(body, &req); err != nil {
		fail(w, r, err)
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
		httpapi.WriteProblem(w, r, httpapi.ErrUserNotFound)
		return
	}
	// A transfer executes in its sender's home region.
	if !h.forward.ServeHere(w, r, fromRegion, body) {
		return
	}
	key, err := idempotency.KeyFromRequest(r)
	if err != nil {
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
	if !h.limiter.AllowRequest(w, r, from) {
		return
	}
	created, err := h.transfers.Create(r.Context(), Request{FromUserID: from, ToUserID: to, Currency: code, Amount: amount,
		Metadata: req.Metadata, Key: key, Gateway: httpapi.CallerFrom(r.Context()).Gateway}, answerTransfer)
	if err != nil {
		fail(w, r, err)
		return
	}
	h.answerCreated(w, r, created)
}

// answerCreated answers a transfer (or refund) request: its first answer, or for a
// replayed key the transfer as it is now; with Prefer: wait, once it is final.
func (h *HTTP) answerCreated(w http.ResponseWriter, r *http.Request, created Created) {
	var err error
	id := created.Transfer.ID
	if created.Replayed {
		// The first answer names the transfer; what it says of it may be old.
		if id, err = transferIDOf(created.Answer); err != nil {
			fail(w, r, err)
			return
		}
	}
	w.Header().Set("Location", "/v1/transfers/"+id)
	wait, preferred := httpapi.PreferWait(r)
	switch {
	case preferred && (created.Transfer.Status == StatusPending || created.Replayed):
		h.waitForFinal(w, r, id, wait)
	case created.Replayed:
		// A replay answers with the transfer as it is now: never an older state than
		// an earlier answer (the first may have waited for the end with Prefer).
		h.answerCurrent(w, r, id)
	default:
		httpapi.WriteRawJSON(w, created.Answer.Status, created.Answer.Body)
	}
}

// refundSenderHeader carries, on the hop from a transfer's region to its receiver's,
// the receiver the transfer's region read: the refund's sender. It is only a route:
// the receiver's shard serves the refund only if it credited that user the transfer.
const refundSenderHeader = "Wallet-Refund-Sender"

type refundRequest struct {
	Amount   *string           `json:"amount"`
	Metadata map[string]string `json:"metadata"`
}

// refund serves POST /v1/transfers/{id}/refunds. A refund is created on the original
// receiver's shard, whose region the id does not tell: the request goes first to the
// transfer's region, which reads the transfer (refusing one that is not completed or
// is itself a refund) and serves it when the receiver lives there, or relays it once
// to the receiver's region.
func (h *HTTP) refund(w http.ResponseWriter, r *http.Request) {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	region, err := shard.TransferRegion(id)
	if err != nil {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "id: %q is not a transfer id", id))
		return
	}
	if !h.forward.Knows(region) {
		httpapi.WriteProblem(w, r, problemTransferNotFound)
		return
	}
	var req refundRequest
	if err := httpapi.DecodeJSONBytes(body, &req); err != nil {
		fail(w, r, err)
		return
	}
	here := h.transfers.router().Region()
	var receiver string
	switch {
	case region == here:
		t, err := h.transfers.Get(r.Context(), id)
		if err != nil {
			fail(w, r, err)
			return
		}
		if t.Status != StatusCompleted || t.RefundOf != "" {
			httpapi.WriteProblem(w, r, problemNotRefundable)
			return
		}
		receiver = t.ToUserID
		if home, _ := shard.UserRegion(receiver); home != here {
			r.Header.Set(refundSenderHeader, receiver)
			h.forward.Relay(w, r, home, body)
			return
		}
	case httpapi.CallerFrom(r.Context()).ForwardedFrom == region && r.Header.Get(refundSenderHeader) != "":
		// The transfer's region relayed it here, naming the receiver it read.
		receiver = r.Header.Get(refundSenderHeader)
		if home, err := shard.UserRegion(receiver); err != nil || home != here {
			httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadGateway, "misrouted", "region %s relayed a refund for receiver %q to region %s", region, receiver, here))
			return
		}
	default:
		h.forward.Forward(w, r, region, body)
		return
	}
	key, err := idempotency.KeyFromRequest(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var amount money.Amount
	if req.Amount != nil {
		if amount, err = httpapi.AmountField(req.Amount); err != nil {
			fail(w, r, err)
			return
		}
	}
	if err := httpapi.MetadataField(req.Metadata); err != nil {
		fail(w, r, err)
		return
	}
	if !h.limiter.AllowRequest(w, r, receiver) {
		return
	}
	created, err := h.transfers.Refund(r.Context(), RefundRequest{TransferID: id, ReceiverID: receiver, Amount: amount,
		Metadata: req.Metadata, Key: key, Gateway: httpapi.CallerFrom(r.Context()).Gateway}, answerTransfer)
	if err != nil {
		fail(w, r, err)
		return
	}
	h.answerCreated(w, r, created)
}

// answerTransfer encodes a fresh transfer: 202 while pending, 201 once final. Its
// bytes are stored under the key.
func answerTransfer(t Transfer) (idempotency.Response, error) {
	body, err := json.Marshal(toJSON(t))
	return idempotency.Response{Status: statusOf(t), Body: body}, err
}

// statusOf is the status a transfer is answered with: 202 while pending, 201 once
// final.
func statusOf(t Transfer) int {
	if t.Status == StatusPending {
		return http.StatusAccepted
	}
	return http.StatusCreated
}

// transferIDOf reads the transfer's id from an answer answerTransfer encoded: the
// stored answer of a replayed key is the one place that names its transfer.
func transferIDOf(answer idempotency.Response) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(answer.Body, &created); err != nil || created.ID == "" {
		return "", errors.New("transfers: a stored answer names no transfer")
	}
	return created.ID, nil
}

// answerCurrent answers with the transfer as it is now: 201 when final, 202 while
// pending.
func (h *HTTP) answerCurrent(w http.ResponseWriter, r *http.Request, id string) {
	t, err := h.transfers.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, statusOf(t), toJSON(t))
}

// waitForFinal answers with the transfer once it is final (201) or when wait runs out
// (202, still pending). The wait costs no connection and no polling: the request is
// woken when its transfer is announced final (see Service.WaitFinal).
func (h *HTTP) waitForFinal(w http.ResponseWriter, r *http.Request, id string, wait time.Duration) {
	t, waited, err := h.transfers.WaitFinal(r.Context(), id, wait)
	if err != nil {
		fail(w, r, err)
		return
	}
	if waited {
		w.Header().Set("Preference-Applied", "wait="+strconv.Itoa(int(wait.Seconds())))
	}
	httpapi.WriteJSON(w, statusOf(t), toJSON(t))
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
		httpapi.WriteProblem(w, r, problemTransferNotFound)
		return
	}
	if !h.forward.ServeHere(w, r, region, nil) {
		return
	}
	t, err := h.transfers.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
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
	limit, err := httpapi.PageLimit(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	before, err := httpapi.CursorParam(r, cursorKind, validTransferID)
	if err != nil {
		fail(w, r, err)
		return
	}
	page, err := h.transfers.List(r.Context(), id, direction, status, before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := listJSON{Transfers: make([]transferJSON, 0, len(page.Transfers))}
	for _, t := range page.Transfers {
		out.Transfers = append(out.Transfers, toJSON(t))
	}
	if page.NextBefore != "" {
		c := httpapi.EncodeCursor(cursorKind, page.NextBefore)
		out.NextCursor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// cursorKind names the transfer lists' cursors: the transfer id to continue below.
const cursorKind = "tr"

func validTransferID(id string) bool {
	_, err := shard.TransferRegion(id)
	return err == nil
}

type stepJSON struct {
	Step string `json:"step"`
	At   string `json:"at"`
}

type transferJSON struct {
	ID         string            `json:"id"`
	FromUserID string            `json:"from_user_id"`
	ToUserID   string            `json:"to_user_id"`
	Currency   string            `json:"currency"`
	Amount     money.Amount      `json:"amount"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	CreatedAt  string            `json:"created_at"`
	UpdatedAt  string            `json:"updated_at"`
	Steps      []stepJSON        `json:"steps"`
	// Waiting comes last and only while pending: the answers stored before it
	// existed keep their bytes, and a final transfer's JSON is what it always was.
	Waiting *waitingJSON `json:"waiting,omitempty"`
	// RefundOf and Refunds are there only on a refund and on a refunded transfer:
	// every other transfer's JSON is what it always was.
	RefundOf       string        `json:"refund_of,omitempty"`
	Refunds        []refundJSON  `json:"refunds,omitempty"`
	RefundedAmount *money.Amount `json:"refunded_amount,omitempty"`
}

// refundJSON is a Refund on the wire.
type refundJSON struct {
	ID         string       `json:"id"`
	Amount     money.Amount `json:"amount"`
	CreditedAt string       `json:"credited_at"`
}

// waitingJSON is Waiting on the wire; see the Transfer schema's waiting in
// api/openapi.yaml.
type waitingJSON struct {
	For               string `json:"for"`
	Since             string `json:"since"`
	Attempts          int    `json:"attempts"`
	NextAttemptAt     string `json:"next_attempt_at,omitempty"`
	ExpiresAt         string `json:"expires_at"`
	CancelRequestedAt string `json:"cancel_requested_at,omitempty"`
}

type listJSON struct {
	Transfers  []transferJSON `json:"transfers"`
	NextCursor *string        `json:"next_cursor"`
}

func toJSON(t Transfer) transferJSON {
	out := transferJSON{
		ID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Currency: t.Currency, Amount: t.Amount, Status: t.Status,
		Reason: t.Reason, Metadata: t.Metadata,
		CreatedAt: t.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: t.UpdatedAt.Format(time.RFC3339Nano),
		Steps: make([]stepJSON, 0, len(t.Steps)),
	}
	for _, s := range t.Steps {
		out.Steps = append(out.Steps, stepJSON{Step: s.Step, At: s.At.Format(time.RFC3339Nano)})
	}
	if len(t.Refunds) > 0 {
		var sum money.Amount
		for _, rf := range t.Refunds {
			out.Refunds = append(out.Refunds, refundJSON{ID: rf.ID, Amount: rf.Amount, CreditedAt: rf.CreditedAt.Format(time.RFC3339Nano)})
			sum = sum.Add(rf.Amount)
		}
		out.RefundedAmount = &sum
	}
	out.RefundOf = t.RefundOf
	if w := t.Waiting; w != nil {
		out.Waiting = &waitingJSON{For: w.For, Since: w.Since.Format(time.RFC3339Nano), Attempts: w.Attempts,
			NextAttemptAt: httpapi.OptionalTime(w.NextAttemptAt), ExpiresAt: w.ExpiresAt.Format(time.RFC3339Nano),
			CancelRequestedAt: httpapi.OptionalTime(w.CancelRequestedAt)}
	}
	return out
}
