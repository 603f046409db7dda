package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitingOf is the waiting object of a pending transfer's answer (absent: nil).
type waitingOf struct {
	Waiting *struct {
		For               string `json:"for"`
		Since             string `json:"since"`
		Attempts          int    `json:"attempts"`
		NextAttemptAt     string `json:"next_attempt_at"`
		ExpiresAt         string `json:"expires_at"`
		CancelRequestedAt string `json:"cancel_requested_at"`
	} `json:"waiting"`
}

// TestPendingTransferSaysWhatItWaitsFor follows a transfer whose credits are all lost
// and whose cancel is held back in the outbox: GET /v1/transfers/{id}, asked through
// the receiver's region, says it waits for the credit's answer and counts the resends,
// then, past the TTL, that it waits for the cancel's answer since its request; once
// cancelled, it waits for nothing. The pending-transfer metrics count it meanwhile.
// Every answer is checked against the OpenAPI
// document by the harness.
func TestPendingTransferSaysWhatItWaitsFor(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__TTL=3s", "WALLET_TRANSFERS__RESEND_AFTER=300ms", "WALLET_TRANSFERS__RESEND_MAX=1s",
		"WALLET_TESTING__RELAY_DROP__CREDIT=1000", "WALLET_TESTING__RELAY_HOLD__CANCEL=2s")
	// Once the consumer runs, the dead-letter counter is there at 0 before any dead
	// letter, so the alert's increase() sees the first one.
	eventually(t, 20*time.Second, "a zero dead-letter counter for eu's topic", func() bool {
		return strings.Contains(s.EU.metricsText(t), "\nwallet_dlq_messages_total{topic=\""+s.TopicPrefix+".eu.tcc\"} 0\n")
	})
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	resp, tr := send(t, s.EU, from, to, "30", "stuck")
	if resp.Status != 202 {
		t.Fatalf("create = %d %s", resp.Status, resp.Body)
	}
	var fresh waitingOf
	resp.JSON(t, &fresh)
	w := fresh.Waiting
	if w == nil || w.For != "credit" || w.Attempts != 0 || w.Since == "" || w.NextAttemptAt == "" || w.CancelRequestedAt != "" {
		t.Fatalf("fresh answer's waiting = %+v in %s", w, resp.Body)
	}
	created, expires := mustTime(t, w.Since), mustTime(t, w.ExpiresAt)
	if got := expires.Sub(created); got != 3*time.Second {
		t.Fatalf("expires_at - since = %s, want the 3s TTL", got)
	}

	read := func() (transfer, waitingOf) {
		t.Helper()
		r := s.US.Do(t, Call{Method: "GET", Path: "/v1/transfers/" + tr.ID})
		if r.Status != 200 {
			t.Fatalf("GET = %d %s", r.Status, r.Body)
		}
		var got transfer
		var w waitingOf
		r.JSON(t, &got)
		r.JSON(t, &w)
		return got, w
	}
	eventually(t, 10*time.Second, "the credit was sent again", func() bool {
		got, w := read()
		return got.Status == "pending" && w.Waiting != nil && w.Waiting.For == "credit" && w.Waiting.Attempts >= 1 &&
			hasStep(got, "credit_resent") && w.Waiting.Since == fresh.Waiting.Since
	})
	var cancel waitingOf
	eventually(t, 10*time.Second, "the transfer waits for the cancel's answer", func() bool {
		got, w := read()
		if got.Status != "pending" || w.Waiting == nil || w.Waiting.For != "cancel_reply" {
			return false
		}
		cancel = w
		return true
	})
	cw := cancel.Waiting
	requested := mustTime(t, cw.CancelRequestedAt)
	if cw.Since != cw.CancelRequestedAt || requested.Before(expires) || cw.ExpiresAt != fresh.Waiting.ExpiresAt || cw.Attempts < 2 ||
		!mustTime(t, cw.NextAttemptAt).After(requested) {
		t.Fatalf("waiting for the cancel = %+v (created %s, expires %s)", cw, created, expires)
	}

	// The metrics see it too: one pending transfer in the sender's region, as old as
	// its wait, against the 3s TTL.
	if n := s.EU.Metric(t, "wallet_transfers_pending", `age="`); n != 1 {
		t.Errorf("wallet_transfers_pending in eu = %v, want 1", n)
	}
	if ttl := s.EU.Metric(t, "wallet_transfers_ttl_seconds"); ttl != 3 {
		t.Errorf("wallet_transfers_ttl_seconds = %v, want 3", ttl)
	}
	if oldest := s.EU.Metric(t, "wallet_transfers_pending_oldest_seconds"); oldest < 3 {
		t.Errorf("wallet_transfers_pending_oldest_seconds = %v, want past the TTL", oldest)
	}

	final := awaitFinal(t, s.EU, tr.ID, 30*time.Second)
	if final.Status != "cancelled" || final.Reason != "expired" {
		t.Fatalf("final = %+v", final)
	}
	if _, w := read(); w.Waiting != nil {
		t.Fatalf("a final transfer still waits: %+v", w.Waiting)
	}
	assertBalance(t, s, from, "100", "0")
	s.VerifyLedgers(t)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return at
}

// metricsText is the region's /metrics text.
func (r *Region) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(r.AdminURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", r.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
