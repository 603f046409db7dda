package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/wallet/platform/shard"
)

// outage stands for pgdb.UnavailableError: the edge recognises it by its behaviour.
type outage struct{ unavailable bool }

func (o outage) Error() string     { return "connection reset" }
func (o outage) Unavailable() bool { return o.unavailable }

func TestWriteErrorMapsByMeaning(t *testing.T) {
	refusal := NewProblem(http.StatusUnprocessableEntity, "insufficient_funds", "too little")
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"a problem", refusal, 422, "insufficient_funds"},
		{"a wrapped problem", fmt.Errorf("moving: %w", refusal), 422, "insufficient_funds"},
		{"a problem joined with others", errors.Join(errors.New("x"), refusal), 422, "insufficient_funds"},
		{"an unknown user", fmt.Errorf("balance: %w", shard.ErrUserNotFound), 404, CodeUserNotFound},
		{"a shard that could not serve", fmt.Errorf("commit: %w", outage{unavailable: true}), 503, CodeShardUnavailable},
		{"an error that says it is available", outage{unavailable: false}, 500, CodeInternal},
		{"anything else", errors.New("bug"), 500, CodeInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest("GET", "/v1/x", nil), c.err)
			var body struct{ Code string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if w.Code != c.status || body.Code != c.code || w.Header().Get("Content-Type") != ProblemContentType {
				t.Fatalf("= %d %s %s, want %d %s", w.Code, w.Header().Get("Content-Type"), w.Body, c.status, c.code)
			}
		})
	}
}

func TestWriteErrorRecordsAGoneClient(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("GET", "/v1/x", nil).WithContext(ctx), fmt.Errorf("query: %w", context.Canceled))
	if w.Code != StatusClientClosedRequest || w.Body.Len() != 0 {
		t.Fatalf("= %d %q, want %d and no body", w.Code, w.Body, StatusClientClosedRequest)
	}
}
