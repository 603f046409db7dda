package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"example.com/wallet/platform/shard"
)

type transfer struct {
	ID         string `json:"id"`
	FromUserID string `json:"from_user_id"`
	ToUserID   string `json:"to_user_id"`
	Currency   string `json:"currency"`
	Amount     string `json:"amount"`
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	Steps      []struct {
		Step string `json:"step"`
		At   string `json:"at"`
	} `json:"steps"`
}

func send(t *testing.T, via *Region, from, to, amount, key string, headers ...string) (Response, transfer) {
	t.Helper()
	h := map[string]string{"Idempotency-Key": key}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	resp := via.Do(t, Call{Method: "POST", Path: "/v1/transfers",
		Body: map[string]any{"from_user_id": from, "to_user_id": to, "amount": amount}, Headers: h})
	var tr transfer
	if resp.Status == 201 || resp.Status == 202 {
		resp.JSON(t, &tr)
	}
	return resp, tr
}

// awaitFinal polls GET /v1/transfers/{id} through via until the transfer is final.
func awaitFinal(t *testing.T, via *Region, id string, within time.Duration) transfer {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp := via.Do(t, Call{Method: "GET", Path: "/v1/transfers/" + id})
		var tr transfer
		resp.JSON(t, &tr)
		if resp.Status != 200 {
			t.Fatalf("GET transfer %s = %d %s", id, resp.Status, resp.Body)
		}
		if tr.Status != "pending" {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("transfer %s still pending after %s: %s", id, within, resp.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fund creates a user homed in region with amount deposited.
func fund(t *testing.T, s *Stack, region, amount string) string {
	t.Helper()
	u := createUser(t, s.Region(region), region)
	if amount != "0" {
		if r := move(t, s.Region(region), u.ID, "deposits", amount, "fund"); r.Status != 201 {
			t.Fatalf("fund = %d %s", r.Status, r.Body)
		}
	}
	return u.ID
}

// userOnShard creates users in region until one lands on the wanted shard.
func userOnShard(t *testing.T, s *Stack, region, shardName, amount string) string {
	t.Helper()
	for i := 0; i < 64; i++ {
		id := fund(t, s, region, amount)
		if shardOf(id) == shardName {
			return id
		}
	}
	t.Fatalf("no user landed on %s", shardName)
	return ""
}

func assertBalance(t *testing.T, s *Stack, userID, balance, frozen string) {
	t.Helper()
	b := getBalance(t, s.EU, userID)
	if b.Balance != balance || b.Frozen != frozen {
		t.Fatalf("%s: balance %s frozen %s, want %s and %s", userID, b.Balance, b.Frozen, balance, frozen)
	}
}

func TestTransfersEndCompletedWithTheRightMoney(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	cases := []struct {
		name                 string
		from, to             func() string
		wantStatus           int
		crossesShardOrRegion bool
	}{
		{"same shard", func() string { return userOnShard(t, s, "eu", "eu0", "100") }, func() string { return userOnShard(t, s, "eu", "eu0", "0") }, 201, false},
		{"across shards", func() string { return userOnShard(t, s, "eu", "eu0", "100") }, func() string { return userOnShard(t, s, "eu", "eu1", "0") }, 202, true},
		{"eu to us", func() string { return fund(t, s, "eu", "100") }, func() string { return fund(t, s, "us", "0") }, 202, true},
		{"us to eu", func() string { return fund(t, s, "us", "100") }, func() string { return fund(t, s, "eu", "0") }, 202, true},
	}
	for _, c := range cases {
		from, to := c.from(), c.to()
		resp, tr := send(t, s.US, from, to, "30", "t1")
		if resp.Status != c.wantStatus || resp.Header.Get("Location") != "/v1/transfers/"+tr.ID {
			t.Fatalf("%s: POST = %d %s (Location %q)", c.name, resp.Status, resp.Body, resp.Header.Get("Location"))
		}
		if c.crossesShardOrRegion {
			if tr.Status != "pending" {
				t.Fatalf("%s: %+v", c.name, tr)
			}
			assertBalance(t, s, from, "100", "30")
			if b := getBalance(t, s.US, from); b.Available != "70" {
				t.Fatalf("%s: available while pending = %s", c.name, b.Available)
			}
		}
		final := awaitFinal(t, s.EU, tr.ID, 20*time.Second)
		if final.Status != "completed" || final.Reason != "" {
			t.Fatalf("%s: final = %+v", c.name, final)
		}
		assertBalance(t, s, from, "70", "0")
		assertBalance(t, s, to, "30", "0")
		for _, who := range []struct{ user, kind string }{{from, "transfer_debit"}, {to, "transfer_credit"}} {
			r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + who.user + "/ledger?limit=1"})
			var page struct{ Entries []entry }
			r.JSON(t, &page)
			if len(page.Entries) != 1 || page.Entries[0].Kind != who.kind || page.Entries[0].TransferID != tr.ID || page.Entries[0].Amount != "30" {
				t.Fatalf("%s: latest entry of %s = %s", c.name, who.user, r.Body)
			}
		}
		// Both sides list it.
		out := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + from + "/transfers?direction=out"})
		in := s.US.Do(t, Call{Method: "GET", Path: "/v1/users/" + to + "/transfers?direction=in"})
		if !strings.Contains(string(out.Body), tr.ID) || !strings.Contains(string(in.Body), tr.ID) {
			t.Fatalf("%s: listings out=%s in=%s", c.name, out.Body, in.Body)
		}
	}
	// Across all four shards, each transfer has its one debit and its one credit.
	s.Audit(t)
}

func TestTransferToMissingReceiverIsCancelledAndReleased(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	from := fund(t, s, "eu", "100")
	for i, to := range []string{shard.NewUserID("us"), shard.NewUserID("eu"), shard.NewUserID("ap")} {
		resp, tr := send(t, s.EU, from, to, "40", fmt.Sprint("k", i))
		if resp.Status != 201 && resp.Status != 202 {
			t.Fatalf("POST = %d %s", resp.Status, resp.Body)
		}
		final := awaitFinal(t, s.US, tr.ID, 20*time.Second)
		if final.Status != "cancelled" || final.Reason != "receiver_not_found" {
			t.Fatalf("final = %+v", final)
		}
		b := getBalance(t, s.EU, from)
		if b.Balance != "100" || b.Available != "100" || b.Frozen != "0" {
			t.Fatalf("after cancel: %+v", b)
		}
	}
	// The cancelled transfers reconcile too: no credit anywhere, every hold released.
	s.Audit(t)
}

func TestTransferRefusals(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	from, to := fund(t, s, "eu", "10"), fund(t, s, "us", "0")
	if r, _ := send(t, s.US, from, to, "11", "k"); r.Status != 422 || r.Code() != "insufficient_funds" {
		t.Fatalf("overdraw = %d %s", r.Status, r.Body)
	}
	if r, _ := send(t, s.US, from, from, "1", "k"); r.Status != 400 || r.Code() != "invalid_request" {
		t.Fatalf("to self = %d %s", r.Status, r.Body)
	}
	if r, _ := send(t, s.US, shard.NewUserID("eu"), to, "1", "k"); r.Status != 404 || r.Code() != "user_not_found" {
		t.Fatalf("unknown sender = %d %s", r.Status, r.Body)
	}
	if r, _ := send(t, s.US, from, "nope", "1", "k"); r.Status != 400 || r.Code() != "invalid_request" {
		t.Fatalf("bad receiver id = %d %s", r.Status, r.Body)
	}
	if r, _ := send(t, s.US, from, to, "1.0", "k"); r.Status != 400 || r.Code() != "invalid_amount" {
		t.Fatalf("bad amount = %d %s", r.Status, r.Body)
	}
	if r := s.US.Do(t, Call{Method: "GET", Path: "/v1/transfers/" + shard.NewTransferID("eu", from, 256)}); r.Status != 404 || r.Code() != "transfer_not_found" {
		t.Fatalf("unknown transfer = %d %s", r.Status, r.Body)
	}
	assertBalance(t, s, from, "10", "0")

	// Prefer: wait holds the answer until the transfer is final.
	resp, tr := send(t, s.US, from, to, "4", "waited", "Prefer", "wait=20")
	if resp.Status != 201 || tr.Status != "completed" || resp.Header.Get("Preference-Applied") != "wait=20" {
		t.Fatalf("Prefer: wait = %d %v %s", resp.Status, resp.Header, resp.Body)
	}
	// A replay of the key answers with the transfer as it is now (completed, as the
	// waited answer said), never the pending state it was created in.
	again, _ := send(t, s.EU, from, to, "4", "waited")
	if again.Status != 201 || string(again.Body) != string(resp.Body) {
		t.Fatalf("replay = %d %s, want the waited answer %s", again.Status, again.Body, resp.Body)
	}
	assertBalance(t, s, from, "6", "0")
	assertBalance(t, s, to, "4", "0")
}
