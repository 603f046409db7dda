// Package httpapi is the wallet's HTTP plumbing: RFC 9457 problem responses with a
// stable code, strict JSON decoding, and the middleware every route runs behind
// (request ids, structured logs, panic recovery, body limits, metrics).
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"example.com/wallet/platform/account"
	"example.com/wallet/platform/shard"
)

// ProblemContentType is the media type of every error the wallet returns.
const ProblemContentType = "application/problem+json"

// Problem is an API error: an HTTP status and a stable snake_case Code that clients
// switch on. Detail is for humans and may change between releases; Code never does.
type Problem struct {
	Status int
	Code   string
	Title  string
	Detail string
	// RetryAfter, when positive, is sent as the Retry-After header in seconds.
	RetryAfter int
}

func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// NewProblem builds a problem with the standard title of status.
func NewProblem(status int, code, format string, args ...any) *Problem {
	return &Problem{Status: status, Code: code, Title: http.StatusText(status), Detail: fmt.Sprintf(format, args...)}
}

// Codes shared by every module. Modules define their own next to the errors they map.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeUnauthorized      = "unauthorized"
	CodeNotFound          = "not_found"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeBodyTooLarge      = "request_too_large"
	CodeInternal          = "internal_error"
	CodeRegionUnavailable = "region_unavailable"
	CodeShardUnavailable  = "shard_unavailable"
	CodeRateLimited       = "rate_limited"
	CodeUserNotFound      = "user_not_found"
)

type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// WriteProblem sends p as application/problem+json.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	body, _ := json.Marshal(problemBody{
		Type:      "https://wallet.example/problems/" + p.Code,
		Title:     title,
		Status:    p.Status,
		Code:      p.Code,
		Detail:    p.Detail,
		Instance:  r.URL.Path,
		RequestID: RequestID(r.Context()),
	})
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("Cache-Control", "no-store")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", fmt.Sprint(p.RetryAfter))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// StatusClientClosedRequest is the status recorded (in metrics and logs, never sent:
// nobody is listening) for a request whose client went away before its answer: the
// convention nginx started.
const StatusClientClosedRequest = 499

// ErrUserNotFound is the problem of shard.ErrUserNotFound: a user id of a known
// region that no shard holds.
var ErrUserNotFound = NewProblem(http.StatusNotFound, CodeUserNotFound, "no such user")

// accountProblem is the problem of an account status's refusal (platform/account),
// which any module may return; nil for any other error.
func accountProblem(err error) *Problem {
	switch {
	case errors.Is(err, account.ErrFrozen):
		return NewProblem(http.StatusUnprocessableEntity, "account_frozen", "the account is frozen: it takes credits but no debits until it is unfrozen")
	case errors.Is(err, account.ErrClosed):
		return NewProblem(http.StatusUnprocessableEntity, "account_closed", "the account is closed")
	case errors.Is(err, account.ErrNotEmpty):
		return NewProblem(http.StatusUnprocessableEntity, "account_not_empty", "an account is closed only with every balance, in every currency, zero and nothing frozen (no transfer out pending)")
	}
	return nil
}

// WriteError sends err as a problem. A *Problem anywhere in err's chain (each module's
// edge maps its own errors to problems before calling this) is sent as it is;
// shard.ErrUserNotFound is ErrUserNotFound. An error that reports Unavailable() true
// (pgdb.UnavailableError: a shard that could not be reached, dropped the connection or
// could not serve right now) is 503 shard_unavailable: a write's outcome is unknown,
// and the client retries with the same key. A client that went away is recorded as 499
// and logged as such. Anything else is a bug, logged with the request id and answered
// 500 without leaking its message.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if p, ok := AsProblem(err); ok {
		WriteProblem(w, r, p)
		return
	}
	if errors.Is(err, shard.ErrUserNotFound) {
		WriteProblem(w, r, ErrUserNotFound)
		return
	}
	if p := accountProblem(err); p != nil {
		WriteProblem(w, r, p)
		return
	}
	if errors.Is(r.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled) {
		ClientGone(w)
		return
	}
	var unavailable interface{ Unavailable() bool }
	if errors.As(err, &unavailable) && unavailable.Unavailable() {
		// The shard did not answer, or dropped the connection at COMMIT: a write may or
		// may not have happened, so this is never reported as success or as a refusal.
		slog.WarnContext(r.Context(), "shard unavailable", "error", err.Error(), "request_id", RequestID(r.Context()))
		WriteProblem(w, r, NewProblem(http.StatusServiceUnavailable, CodeShardUnavailable, "a shard could not be reached or could not serve the request now; the outcome of a write is unknown: retry it (with the same Idempotency-Key, when it has one)"))
		return
	}
	slog.ErrorContext(r.Context(), "unhandled error", "error", err.Error(), "request_id", RequestID(r.Context()))
	WriteProblem(w, r, NewProblem(http.StatusInternalServerError, CodeInternal, "the request failed; quote request_id when reporting it"))
}

// ClientGone records that the client of the request went away before its answer.
func ClientGone(w http.ResponseWriter) {
	w.WriteHeader(StatusClientClosedRequest)
}

// AsProblem finds a *Problem in err's tree (errors.As: wrapped errors and
// errors.Join included).
func AsProblem(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}

// WriteJSON sends v as application/json with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unmarshalable type) gets here.
		panic(err)
	}
	WriteRawJSON(w, status, body)
}

// WriteRawJSON sends an already encoded JSON body, as stored for idempotent replays.
func WriteRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
