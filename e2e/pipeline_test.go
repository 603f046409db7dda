package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/pgdb/pgtest"
)

// TestLostCancelStillEndsCancelled loses every credit and the first cancel between
// the sender's outbox and the broker. Nobody replays anything: the coordinator's
// recovery sweep sends the cancel again, the participant honours it, and the transfer
// ends cancelled with the sender's hold released.
func TestLostCancelStillEndsCancelled(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__TTL=1s", "WALLET_TRANSFERS__RESEND_AFTER=300ms", "WALLET_TRANSFERS__RESEND_MAX=1s",
		"WALLET_TESTING__RELAY_DROP__CREDIT=1000", "WALLET_TESTING__RELAY_DROP__CANCEL=1")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	_, tr := send(t, s.EU, from, to, "30", "lost")
	final := awaitFinal(t, s.EU, tr.ID, 30*time.Second)
	if final.Status != "cancelled" || final.Reason != "expired" || !hasStep(final, "cancel_requested") || !hasStep(final, "cancel_resent") {
		t.Fatalf("final = %+v", final)
	}
	assertBalance(t, s, from, "100", "0")
	assertBalance(t, s, to, "0", "0")
	s.VerifyLedgers(t)
}

// TestLostCreditIsSentAgain loses a transfer's first credit; the sweep sends it again
// long before the TTL, and the transfer completes.
func TestLostCreditIsSentAgain(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__RESEND_AFTER=300ms", "WALLET_TRANSFERS__RESEND_MAX=1s", "WALLET_TESTING__RELAY_DROP__CREDIT=1")
	from, to := fund(t, s, "us", "100"), fund(t, s, "eu", "0")
	_, tr := send(t, s.US, from, to, "30", "lost-credit")
	final := awaitFinal(t, s.US, tr.ID, 15*time.Second)
	if final.Status != "completed" || !hasStep(final, "credit_resent") || hasStep(final, "cancel_requested") {
		t.Fatalf("final = %+v", final)
	}
	assertBalance(t, s, from, "70", "0")
	assertBalance(t, s, to, "30", "0")
	s.VerifyLedgers(t)
}

// TestCreditPastTheBalanceLimitIsRefused sends 1 to a receiver whose balance already
// has the most digits the ledger holds: the participant refuses at once
// (receiver_balance_limit) and the sender's hold is released, instead of the credit
// failing inside an aborted transaction until the TTL.
func TestCreditPastTheBalanceLimitIsRefused(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	full := strings.Repeat("9", 78)
	from, to := fund(t, s, "eu", "10"), fund(t, s, "us", full)
	resp, tr := send(t, s.EU, from, to, "1", "too-much", "Prefer", "wait=20")
	if resp.Status != 201 || tr.Status != "cancelled" || tr.Reason != "receiver_balance_limit" {
		t.Fatalf("transfer to a full wallet = %d %s", resp.Status, resp.Body)
	}
	assertBalance(t, s, from, "10", "0")
	assertBalance(t, s, to, full, "0")
	if n := s.EU.Metric(t, "wallet_dlq_messages_total") + s.US.Metric(t, "wallet_dlq_messages_total"); n != 0 {
		t.Fatalf("%v messages dead-lettered", n)
	}
	s.VerifyLedgers(t)
}

// TestShardDownHoldsBackOnlyItsOwnTransfers makes shard eu1 refuse connections while
// transfers flow: transfers between eu0 and region us keep completing, transfers to
// users of eu1 wait, and all of them complete once eu1 is back.
func TestShardDownHoldsBackOnlyItsOwnTransfers(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	eu0 := userOnShard(t, s, "eu", "eu0", "1000")
	eu1 := userOnShard(t, s, "eu", "eu1", "0")
	us := fund(t, s, "us", "1000")

	setShardDown(t, s.EU.ShardDSN["eu1"], true)
	shardUp := false
	t.Cleanup(func() {
		if !shardUp {
			setShardDown(t, s.EU.ShardDSN["eu1"], false)
		}
	})

	// Transfers into the shard that is down: accepted by their senders, then waiting.
	var waiting []string
	for i := range 3 {
		resp, tr := send(t, s.US, us, eu1, "7", fmt.Sprint("to-down-", i))
		if resp.Status != 202 {
			t.Fatalf("transfer to a user of the shard that is down = %d %s", resp.Status, resp.Body)
		}
		waiting = append(waiting, tr.ID)
	}
	// Transfers that do not touch eu1 keep completing meanwhile, in both directions.
	for i := range 3 {
		for _, p := range [][2]string{{eu0, us}, {us, eu0}} {
			via := s.EU
			if p[0] == us {
				via = s.US
			}
			resp, tr := send(t, via, p[0], p[1], "5", fmt.Sprint("healthy-", i))
			if resp.Status != 202 {
				t.Fatalf("transfer between healthy shards = %d %s", resp.Status, resp.Body)
			}
			if final := awaitFinal(t, via, tr.ID, 20*time.Second); final.Status != "completed" {
				t.Fatalf("a transfer between healthy shards while eu1 is down = %+v", final)
			}
		}
	}
	for _, id := range waiting {
		resp := s.US.Do(t, Call{Method: "GET", Path: "/v1/transfers/" + id})
		var tr transfer
		resp.JSON(t, &tr)
		if tr.Status != "pending" {
			t.Fatalf("a transfer to the shard that is down ended while it was down: %+v", tr)
		}
	}

	setShardDown(t, s.EU.ShardDSN["eu1"], false)
	shardUp = true
	for _, id := range waiting {
		if final := awaitFinal(t, s.US, id, 60*time.Second); final.Status != "completed" {
			t.Fatalf("after eu1 came back: %+v", final)
		}
	}
	assertBalance(t, s, eu1, "21", "0")
	assertBalance(t, s, eu0, "1000", "0")
	assertBalance(t, s, us, "979", "0")
	s.VerifyLedgers(t)
}

// setShardDown makes a shard's database refuse new connections and ends the open
// ones (down), or accept them again (up), as the database's owner may.
func setShardDown(t *testing.T, dsn string, down bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Database
	cfg.Database = "postgres"
	// The regions' sessions are the application role's: only it may end them, from
	// another database once this one refuses connections. AppDSN proves the role can
	// log in to the shard, so it is asked before the shard goes down, and only then.
	var appCfg *pgx.ConnConfig
	if down {
		if appCfg, err = pgx.ParseConfig(pgtest.AppDSN(t, dsn)); err != nil {
			t.Fatal(err)
		}
		appCfg.Database = "postgres"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", pgx.Identifier{db}.Sanitize(), !down)); err != nil {
		t.Fatal(err)
	}
	if down {
		app, err := pgx.ConnectConfig(ctx, appCfg)
		if err != nil {
			t.Fatal(err)
		}
		defer app.Close(ctx)
		var ended int
		if err := app.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&ended); err != nil {
			t.Fatal(err)
		}
		if ended == 0 {
			t.Fatal("no session of the shard was ended")
		}
	}
}

// TestManyWaitersCostNoPolling holds many transfers open with Prefer: wait while their
// credits are held back: the requests are answered when their transfers complete,
// and in between the region runs no query per waiting request.
func TestManyWaitersCostNoPolling(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TESTING__RELAY_HOLD__CREDIT=3s")
	from, to := fund(t, s, "eu", "1000"), fund(t, s, "us", "0")
	const n = 40
	var wg sync.WaitGroup
	results := make([]Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = send(t, s.EU, from, to, "1", fmt.Sprint("wait-", i), "Prefer", "wait=30")
		}()
	}
	// While the credits are held, count the reads the waiting requests cost.
	eventually(t, 10*time.Second, "every request waiting", func() bool {
		return s.EU.Metric(t, "wallet_transfer_wait_reads_total") >= n
	})
	before := s.EU.Metric(t, "wallet_transfer_wait_reads_total")
	time.Sleep(1500 * time.Millisecond)
	reads := s.EU.Metric(t, "wallet_transfer_wait_reads_total") - before
	wg.Wait()
	for i, r := range results {
		var tr transfer
		r.JSON(t, &tr)
		if r.Status != 201 || tr.Status != "completed" {
			t.Fatalf("waiting request %d = %d %s", i, r.Status, r.Body)
		}
	}
	// Polling every 20 ms would have read the transfers about 40 × 75 times; waking
	// on notifications reads none until the credits are released.
	if reads != 0 {
		t.Fatalf("%v reads of waiting transfers in 1.5 s while %d requests waited for held credits", reads, n)
	}
	assertBalance(t, s, from, "960", "0")
}

// TestBackloggedShardRefusesNewCrossShardTransfers holds one shard's credits in its
// outbox past the back-pressure bound: new transfers from that shard to other shards
// are refused with 503 transfers_backlogged and Retry-After, while its same-shard
// transfers and deposits, and the other shard's cross-shard transfers, go through;
// once the backlog drains, cross-shard transfers are accepted again.
func TestBackloggedShardRefusesNewCrossShardTransfers(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__MAX_OUTBOX_AGE=1s", "WALLET_TESTING__RELAY_HOLD__CREDIT=5s")
	a := userOnShard(t, s, "eu", "eu0", "1000")
	b := userOnShard(t, s, "eu", "eu0", "0")
	other := userOnShard(t, s, "eu", "eu1", "1000")
	remote := fund(t, s, "us", "0")

	if resp, _ := send(t, s.EU, a, remote, "1", "first"); resp.Status != 202 {
		t.Fatalf("first cross-region transfer = %d %s", resp.Status, resp.Body)
	}
	var refused Response
	eventually(t, 10*time.Second, "eu0 refusing cross-shard transfers", func() bool {
		refused, _ = send(t, s.EU, a, remote, "1", fmt.Sprint("probe-", time.Now().UnixNano()))
		return refused.Status == 503
	})
	if refused.Code() != "transfers_backlogged" || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal = %d %v %s", refused.Status, refused.Header, refused.Body)
	}
	if resp, tr := send(t, s.EU, a, b, "5", "same-shard"); resp.Status != 201 || tr.Status != "completed" {
		t.Fatalf("a same-shard transfer on the backlogged shard = %d %s", resp.Status, resp.Body)
	}
	if r := move(t, s.EU, a, "deposits", "5", "deposit-while-backlogged"); r.Status != 201 {
		t.Fatalf("a deposit on the backlogged shard = %d %s", r.Status, r.Body)
	}
	if resp, _ := send(t, s.EU, other, remote, "1", "other-shard"); resp.Status != 202 {
		t.Fatalf("a cross-shard transfer from the other shard = %d %s", resp.Status, resp.Body)
	}
	eventually(t, 30*time.Second, "eu0 accepting cross-shard transfers again", func() bool {
		resp, _ := send(t, s.EU, a, remote, "1", fmt.Sprint("again-", time.Now().UnixNano()))
		return resp.Status == 202
	})
}

// TestWaitersAreCapped: past transfers.max_waiters, requests with Prefer: wait are
// answered at once (202, no Preference-Applied) instead of held open.
func TestWaitersAreCapped(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TESTING__RELAY_HOLD__CREDIT=3s", "WALLET_TRANSFERS__MAX_WAITERS=2")
	from, to := fund(t, s, "eu", "100"), fund(t, s, "us", "0")
	const n = 5
	var wg sync.WaitGroup
	results := make([]Response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], _ = send(t, s.EU, from, to, "1", fmt.Sprint("capped-", i), "Prefer", "wait=20")
		}()
	}
	wg.Wait()
	waited, immediate := 0, 0
	for i, r := range results {
		switch {
		case r.Status == 201 && r.Header.Get("Preference-Applied") == "wait=20":
			waited++
		case r.Status == 202 && r.Header.Get("Preference-Applied") == "":
			immediate++
		default:
			t.Fatalf("request %d = %d %v %s", i, r.Status, r.Header, r.Body)
		}
	}
	if waited != 2 || immediate != 3 {
		t.Fatalf("%d waited and %d were answered at once, want 2 and 3", waited, immediate)
	}
}
