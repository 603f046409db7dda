package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/httpapi"
	"example.com/wallet/platform/shard"
)

// HTTP serves /v1/webhooks: the webhooks' one edge, the only code of the module that
// knows JSON, HTTP statuses and problem codes.
type HTTP struct {
	webhooks *Service
	forward  *httpapi.Forwarder
}

// NewHTTP builds the webhook handlers.
func NewHTTP(webhooks *Service, forward *httpapi.Forwarder) *HTTP {
	return &HTTP{webhooks: webhooks, forward: forward}
}

// Mount adds the routes to r (already behind authentication). An endpoint is
// registered in, and delivered to from, the region the request reaches; a request
// about one endpoint goes to the region its id names.
func (h *HTTP) Mount(r chi.Router) {
	payments, read := r.With(httpapi.RequireScope(config.ScopePayments)), r.With(httpapi.RequireScope(config.ScopeRead))
	payments.Post("/v1/webhooks", h.register)
	read.Get("/v1/webhooks", h.list)
	read.Get("/v1/webhooks/{id}", h.get)
	payments.Delete("/v1/webhooks/{id}", h.delete)
	payments.Post("/v1/webhooks/{id}/rotate-secret", h.rotate)
	read.Get("/v1/webhooks/{id}/deliveries", h.deliveries)
	payments.Post("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", h.redeliver)
}

var (
	problemEndpointNotFound = httpapi.NewProblem(http.StatusNotFound, "webhook_not_found", "no such webhook endpoint")
	problemDeliveryNotFound = httpapi.NewProblem(http.StatusNotFound, "delivery_not_found", "no such delivery of this webhook endpoint")
)

func fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrEndpointNotFound):
		err = problemEndpointNotFound
	case errors.Is(err, ErrDeliveryNotFound):
		err = problemDeliveryNotFound
	case errors.Is(err, ErrUnsafeURL):
		err = httpapi.NewProblem(http.StatusUnprocessableEntity, "unsafe_webhook_url", "url: %s", err.Error())
	case errors.Is(err, ErrUnknownEventType):
		err = httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "event_types: every type must be one of %v", events.Types)
	}
	httpapi.WriteError(w, r, err)
}

// unprintable reports the characters a description may not hold: control characters
// (NUL among them, which PostgreSQL's text cannot store) and U+FFFD, which stands for
// bytes that were not UTF-8.
func unprintable(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }

type registerRequest struct {
	URL         *string  `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description *string  `json:"description"`
}

func (h *HTTP) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := httpapi.DecodeJSON(r, &req); err != nil {
		fail(w, r, err)
		return
	}
	switch {
	case req.URL == nil || *req.URL == "":
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "url: required"))
		return
	case len(req.EventTypes) == 0:
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "event_types: at least one event type"))
		return
	case req.Description != nil && (utf8.RuneCountInString(*req.Description) > 256 || strings.ContainsFunc(*req.Description, unprintable)):
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "description: at most 256 characters, none of them a control character"))
		return
	}
	description := ""
	if req.Description != nil {
		description = *req.Description
	}
	e, err := h.webhooks.Register(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, *req.URL, req.EventTypes, description)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/webhooks/"+e.ID)
	httpapi.WriteJSON(w, http.StatusCreated, endpointJSONOf(e))
}

// here routes a request about the endpoint in the path: true when this region
// delivers to it; otherwise it has answered (forwarded, or refused the id).
func (h *HTTP) here(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "id")
	region, err := shard.WebhookRegion(id)
	if err != nil {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "id: %q is not a webhook endpoint id", id))
		return "", false
	}
	if !h.forward.Knows(region) {
		httpapi.WriteProblem(w, r, problemEndpointNotFound)
		return "", false
	}
	return id, h.forward.ServeHere(w, r, region, nil)
}

func (h *HTTP) list(w http.ResponseWriter, r *http.Request) {
	es, err := h.webhooks.List(r.Context(), httpapi.CallerFrom(r.Context()).Gateway)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := endpointListJSON{Webhooks: make([]endpointJSON, 0, len(es))}
	for _, e := range es {
		out.Webhooks = append(out.Webhooks, endpointJSONOf(e))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *HTTP) get(w http.ResponseWriter, r *http.Request) {
	id, ok := h.here(w, r)
	if !ok {
		return
	}
	e, err := h.webhooks.Get(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, id)
	if err != nil {
		fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, endpointJSONOf(e))
}

func (h *HTTP) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := h.here(w, r)
	if !ok {
		return
	}
	if err := h.webhooks.Delete(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, id); err != nil {
		fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *HTTP) rotate(w http.ResponseWriter, r *http.Request) {
	id, ok := h.here(w, r)
	if !ok {
		return
	}
	e, err := h.webhooks.RotateSecret(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, id)
	if err != nil {
		fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, endpointJSONOf(e))
}

// cursorKind names the delivery log's cursors: the delivery id to continue below.
const cursorKind = "wd"

func (h *HTTP) deliveries(w http.ResponseWriter, r *http.Request) {
	id, ok := h.here(w, r)
	if !ok {
		return
	}
	limit, err := httpapi.PageLimit(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	cursor, err := httpapi.CursorParam(r, cursorKind, func(p string) bool { _, err := strconv.ParseInt(p, 10, 64); return err == nil })
	if err != nil {
		fail(w, r, err)
		return
	}
	before, _ := strconv.ParseInt(cursor, 10, 64)
	page, err := h.webhooks.Deliveries(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, id, before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := deliveryPageJSON{Deliveries: make([]deliveryJSON, 0, len(page.Deliveries))}
	for _, d := range page.Deliveries {
		out.Deliveries = append(out.Deliveries, deliveryJSONOf(d))
	}
	if page.NextBefore != 0 {
		c := httpapi.EncodeCursor(cursorKind, strconv.FormatInt(page.NextBefore, 10))
		out.NextCursor = &c
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *HTTP) redeliver(w http.ResponseWriter, r *http.Request) {
	id, ok := h.here(w, r)
	if !ok {
		return
	}
	deliveryID, err := strconv.ParseInt(chi.URLParam(r, "delivery_id"), 10, 64)
	if err != nil || deliveryID < 1 {
		httpapi.WriteProblem(w, r, httpapi.NewProblem(http.StatusBadRequest, httpapi.CodeInvalidRequest, "delivery_id: must be a delivery's id"))
		return
	}
	d, err := h.webhooks.Redeliver(r.Context(), httpapi.CallerFrom(r.Context()).Gateway, id, deliveryID)
	if err != nil {
		fail(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusAccepted, deliveryJSONOf(d))
}

type endpointJSON struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description,omitempty"`
	Secret      string   `json:"secret,omitempty"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

func endpointJSONOf(e Endpoint) endpointJSON {
	return endpointJSON{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Secret: e.Secret,
		CreatedAt: e.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: e.UpdatedAt.Format(time.RFC3339Nano)}
}

type endpointListJSON struct {
	Webhooks []endpointJSON `json:"webhooks"`
}

type deliveryJSON struct {
	ID             int64  `json:"id"`
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	FirstAttemptAt string `json:"first_attempt_at,omitempty"`
	NextAttemptAt  string `json:"next_attempt_at,omitempty"`
	LastAttemptAt  string `json:"last_attempt_at,omitempty"`
	LastStatusCode int    `json:"last_status_code,omitempty"`
	LastError      string `json:"last_error,omitempty"`
	DeliveredAt    string `json:"delivered_at,omitempty"`
	CreatedAt      string `json:"created_at"`
}

func deliveryJSONOf(d Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts,
		FirstAttemptAt: httpapi.OptionalTime(d.FirstAttemptAt), NextAttemptAt: httpapi.OptionalTime(d.NextAttemptAt),
		LastAttemptAt: httpapi.OptionalTime(d.LastAttemptAt), LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		DeliveredAt: httpapi.OptionalTime(d.DeliveredAt), CreatedAt: d.CreatedAt.Format(time.RFC3339Nano)}
}

type deliveryPageJSON struct {
	Deliveries []deliveryJSON `json:"deliveries"`
	NextCursor *string        `json:"next_cursor"`
}
