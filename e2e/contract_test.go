package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/pgdb/pgtest"
)

// TestTransferReplayAnswersTheTransferAsItIsNow: a retried transfer create answers
// with the transfer as it is now, never an older state than an earlier answer,
// whether or not either call asked to wait.
func TestTransferReplayAnswersTheTransferAsItIsNow(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TESTING__RELAY_HOLD__CREDIT=2s")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")

	// First with Prefer: wait (201 completed), then the same key without it: still
	// completed, not the pending state of the moment it was created.
	first, tr := send(t, s.EU, from, to, "10", "waited-first", "Prefer", "wait=20")
	if first.Status != 201 || tr.Status != "completed" {
		t.Fatalf("first call = %d %s", first.Status, first.Body)
	}
	again, tr2 := send(t, s.US, from, to, "10", "waited-first")
	if again.Status != 201 || tr2.Status != "completed" || tr2.ID != tr.ID || string(again.Body) != string(first.Body) {
		t.Fatalf("replay after a waited answer = %d %s, want the completed transfer %s", again.Status, again.Body, first.Body)
	}

	// First without Prefer (202 pending); a replay while pending is 202, one after it
	// completed is 201 completed, and a replay with Prefer waits for the end.
	pending, tr3 := send(t, s.EU, from, to, "5", "pending-first")
	if pending.Status != 202 || tr3.Status != "pending" {
		t.Fatalf("first call = %d %s", pending.Status, pending.Body)
	}
	if r, tr := send(t, s.EU, from, to, "5", "pending-first"); r.Status != 202 || tr.Status != "pending" || tr.ID != tr3.ID {
		t.Fatalf("replay while pending = %d %s", r.Status, r.Body)
	}
	if r, tr := send(t, s.EU, from, to, "5", "pending-first", "Prefer", "wait=20"); r.Status != 201 || tr.Status != "completed" || tr.ID != tr3.ID {
		t.Fatalf("replay with Prefer: wait = %d %s", r.Status, r.Body)
	}
	if r, tr := send(t, s.EU, from, to, "5", "pending-first"); r.Status != 201 || tr.Status != "completed" {
		t.Fatalf("replay after completion = %d %s", r.Status, r.Body)
	}
	assertBalance(t, s, from, "85", "0")
	assertBalance(t, s, to, "15", "0")
}

// TestConnectionLossIsNeverA500 ends the shard's connections again and again while
// deposits run: every answer is 201 or a 503 whose outcome is unknown, never a 500;
// retrying each unknown one with its key settles it, and the balance is exactly the
// sum of the deposits acknowledged in the end.
func TestConnectionLossIsNeverA500(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_LIMITS__RATE_PER_SECOND=100000", "WALLET_LIMITS__RATE_BURST=100000")
	u := createUser(t, s.EU, "eu")
	dsn := s.EU.ShardDSN[shardOf(u.ID)]
	stop := make(chan struct{})
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			terminateConnections(t, dsn)
		}
	}()
	const n = 300
	statuses := make([]int, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			statuses[i] = move(t, s.EU, u.ID, "deposits", "1", fmt.Sprint("d-", i)).Status
		}()
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	unknown := 0
	for i, st := range statuses {
		switch st {
		case 201:
		case 503:
			unknown++
			// The outcome is unknown: the same key settles it, once.
			deadline := time.Now().Add(20 * time.Second)
			for {
				r := move(t, s.EU, u.ID, "deposits", "1", fmt.Sprint("d-", i))
				if r.Status == 201 {
					break
				}
				if r.Status != 503 || time.Now().After(deadline) {
					t.Fatalf("retrying deposit %d = %d %s", i, r.Status, r.Body)
				}
				time.Sleep(50 * time.Millisecond)
			}
		default:
			t.Fatalf("deposit %d answered %d while connections were being cut", i, st)
		}
	}
	t.Logf("%d of %d deposits answered 503 (outcome unknown) and were settled by their keys", unknown, n)
	if b := getBalance(t, s.EU, u.ID); b.Balance != fmt.Sprint(n) {
		t.Fatalf("balance %s after %d acknowledged deposits of 1", b.Balance, n)
	}
	if n := s.EU.Metric(t, "wallet_http_requests_total", `status="500"`); n != 0 {
		t.Fatalf("%v answers were 500", n)
	}
	s.VerifyLedgers(t)
}

// terminateConnections ends the regions' connections to the database of dsn (the
// owner's DSN). The regions connect as the application role, and only a role itself
// (or a superuser) may end its own sessions, so this connects as that role.
func terminateConnections(t *testing.T, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.AppDSN(t, dsn))
	if err != nil {
		return // the database is busy restarting connections: next round
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'wallet'`)
}

// TestClientThatLeavesIsA499 gives up on a request that waits for a transfer: the
// region records a 499 at INFO, not a 500.
func TestClientThatLeavesIsA499(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TESTING__RELAY_HOLD__CREDIT=3s")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	body := fmt.Sprintf(`{"from_user_id":%q,"to_user_id":%q,"amount":"1"}`, from, to)
	req, _ := http.NewRequestWithContext(ctx, "POST", s.EU.URL+"/v1/transfers", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+devToken)
	req.Header.Set("Idempotency-Key", "leaves")
	req.Header.Set("Prefer", "wait=20")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered (%d) before the client left", resp.StatusCode)
	}
	eventually(t, 10*time.Second, "a 499 recorded", func() bool {
		return s.EU.Metric(t, "wallet_http_requests_total", `status="499"`) == 1
	})
	if n := s.EU.Metric(t, "wallet_http_requests_total", `status="500"`); n != 0 {
		t.Fatalf("%v answers were 500", n)
	}
}
