package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/shard"
)

type user struct {
	ID              string `json:"id"`
	Region          string `json:"region"`
	Status          string `json:"status"`
	CreatedAt       string `json:"created_at"`
	DefaultCurrency string `json:"default_currency"`
}

type balance struct {
	UserID    string `json:"user_id"`
	Balance   string `json:"balance"`
	Frozen    string `json:"frozen"`
	Available string `json:"available"`
	LedgerSeq int64  `json:"ledger_seq"`
	Currency  string `json:"currency"`
}

type entry struct {
	Seq            int64             `json:"seq"`
	Kind           string            `json:"kind"`
	Amount         string            `json:"amount"`
	BalanceAfter   string            `json:"balance_after"`
	TransferID     string            `json:"transfer_id"`
	IdempotencyKey string            `json:"idempotency_key"`
	Metadata       map[string]string `json:"metadata"`
	Hash           string            `json:"hash"`
}

type movement struct {
	Entry   entry   `json:"entry"`
	Balance balance `json:"balance"`
}

// createUser makes a user homed in region, asking through the region `via`.
func createUser(t *testing.T, via *Region, region string) user {
	t.Helper()
	resp := via.Do(t, Call{Method: "POST", Path: "/v1/users", Body: map[string]string{"region": region}})
	var u user
	resp.JSON(t, &u)
	if resp.Status != 201 || u.Region != region || u.Status != "active" || !strings.HasPrefix(u.ID, region+"_") {
		t.Fatalf("create user in %s via %s = %d %s", region, via.Name, resp.Status, resp.Body)
	}
	return u
}

func move(t *testing.T, via *Region, userID, kind, amount, key string) Response {
	t.Helper()
	return via.Do(t, Call{
		Method:  "POST",
		Path:    "/v1/users/" + userID + "/" + kind,
		Body:    map[string]any{"amount": amount},
		Headers: map[string]string{"Idempotency-Key": key},
	})
}

func getBalance(t *testing.T, via *Region, userID string) balance {
	t.Helper()
	resp := via.Do(t, Call{Method: "GET", Path: "/v1/users/" + userID + "/balance"})
	if resp.Status != 200 {
		t.Fatalf("balance of %s via %s = %d %s", userID, via.Name, resp.Status, resp.Body)
	}
	var b balance
	resp.JSON(t, &b)
	return b
}

func TestUsersAndMoneyFromAnyRegion(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	sixty := "123456789012345678901234567890123456789012345678901234567890"
	for _, home := range []string{"eu", "us"} {
		for _, via := range []*Region{s.EU, s.US} {
			u := createUser(t, via, home)
			// The same user, read through both regions, is the same bytes.
			a := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u.ID})
			b := s.US.Do(t, Call{Method: "GET", Path: "/v1/users/" + u.ID})
			if a.Status != 200 || string(a.Body) != string(b.Body) {
				t.Fatalf("GET user through eu and us: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
			}
			if r := move(t, via, u.ID, "deposits", "1", "one"); r.Status != 201 {
				t.Fatalf("deposit 1 = %d %s", r.Status, r.Body)
			}
			r := move(t, s.EU, u.ID, "deposits", sixty, "sixty")
			var m movement
			r.JSON(t, &m)
			want := sixty[:59] + "1"
			if r.Status != 201 || m.Entry.Amount != sixty || m.Entry.Seq != 2 || m.Balance.Balance != want || m.Balance.LedgerSeq != 2 {
				t.Fatalf("deposit of 60 digits = %d %s", r.Status, r.Body)
			}
			if got := getBalance(t, s.US, u.ID); got.Balance != want || got.Available != want || got.Frozen != "0" {
				t.Fatalf("balance read back = %+v, want %s", got, want)
			}
		}
	}
}

func TestLedgerHistoryPages(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u := createUser(t, s.US, "eu")
	for i := 1; i <= 5; i++ {
		resp := s.US.Do(t, Call{Method: "POST", Path: "/v1/users/" + u.ID + "/deposits",
			Body:    map[string]any{"amount": fmt.Sprint(i), "metadata": map[string]string{"n": fmt.Sprint(i)}},
			Headers: map[string]string{"Idempotency-Key": fmt.Sprint("k", i)}})
		if resp.Status != 201 {
			t.Fatalf("deposit %d = %d %s", i, resp.Status, resp.Body)
		}
	}
	var seqs []int64
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/v1/users/" + u.ID + "/ledger?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		resp := s.US.Do(t, Call{Method: "GET", Path: path})
		var page struct {
			Entries    []entry `json:"entries"`
			NextCursor *string `json:"next_cursor"`
		}
		resp.JSON(t, &page)
		if resp.Status != 200 || pages > 3 {
			t.Fatalf("page %d = %d %s", pages, resp.Status, resp.Body)
		}
		for _, e := range page.Entries {
			seqs = append(seqs, e.Seq)
			if e.Kind != "deposit" || e.Amount != fmt.Sprint(e.Seq) || e.Metadata["n"] != fmt.Sprint(e.Seq) || e.IdempotencyKey != fmt.Sprint("k", e.Seq) || len(e.Hash) != 64 {
				t.Fatalf("entry = %+v", e)
			}
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if fmt.Sprint(seqs) != "[5 4 3 2 1]" {
		t.Fatalf("history = %v, want newest first 5..1", seqs)
	}
	// A cursor that is present but empty is not one this API returned.
	for _, path := range []string{"/v1/users/" + u.ID + "/ledger?cursor=", "/v1/users/" + u.ID + "/transfers?cursor="} {
		if r := s.EU.Do(t, Call{Method: "GET", Path: path}); r.Status != 400 || r.Code() != "invalid_request" {
			t.Fatalf("GET %s = %d %s", path, r.Status, r.Body)
		}
	}
}

func TestIdempotencyAcrossRegions(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u, other := createUser(t, s.EU, "us"), createUser(t, s.EU, "us")

	first := move(t, s.US, u.ID, "deposits", "40", "key-1")
	if first.Status != 201 {
		t.Fatalf("first = %d %s", first.Status, first.Body)
	}
	for _, via := range []*Region{s.US, s.EU, s.US} {
		again := move(t, via, u.ID, "deposits", "40", "key-1")
		if again.Status != first.Status || string(again.Body) != string(first.Body) {
			t.Fatalf("replay through %s = %d %s, want the stored %d %s", via.Name, again.Status, again.Body, first.Status, first.Body)
		}
	}
	if r := move(t, s.EU, u.ID, "deposits", "41", "key-1"); r.Status != 422 || r.Code() != "idempotency_key_reused" {
		t.Fatalf("same key, other body = %d %s", r.Status, r.Body)
	}
	if r := move(t, s.EU, other.ID, "deposits", "40", "key-1"); r.Status != 201 {
		t.Fatalf("the same key for another user = %d %s", r.Status, r.Body)
	}

	// 20 concurrent requests with one key, through both regions: one effect, and every
	// answer is either the stored 201 or 409 in-use.
	var wg sync.WaitGroup
	results := make([]Response, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = move(t, []*Region{s.EU, s.US}[i%2], u.ID, "withdrawals", "3", "burst")
		}()
	}
	wg.Wait()
	stored := ""
	for i, r := range results {
		switch {
		case r.Status == 409 && r.Code() == "idempotency_key_in_use":
		case r.Status == 201 && (stored == "" || stored == string(r.Body)):
			stored = string(r.Body)
		default:
			t.Fatalf("request %d = %d %s", i, r.Status, r.Body)
		}
	}
	if stored == "" {
		t.Fatal("no request succeeded")
	}
	if b := getBalance(t, s.EU, u.ID); b.Balance != "37" || b.LedgerSeq != 2 {
		t.Fatalf("balance = %+v, want 40 - 3 in two entries", b)
	}

	// Creating a user with an idempotency key, retried through the other region.
	create := func(via *Region) Response {
		return via.Do(t, Call{Method: "POST", Path: "/v1/users", Body: map[string]string{"region": "eu"}, Headers: map[string]string{"Idempotency-Key": "signup-7"}})
	}
	c1, c2 := create(s.EU), create(s.US)
	if c1.Status != 201 || string(c1.Body) != string(c2.Body) {
		t.Fatalf("retried create = %s / %s", c1.Body, c2.Body)
	}
}

func TestConcurrentWithdrawalsThroughHTTP(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u := createUser(t, s.EU, "eu")
	if r := move(t, s.EU, u.ID, "deposits", "50", "seed"); r.Status != 201 {
		t.Fatal(r.Status)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := move(t, []*Region{s.EU, s.US}[i%2], u.ID, "withdrawals", "1", fmt.Sprint("w", i))
			mu.Lock()
			codes[fmt.Sprint(r.Status, r.Code())]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes["201"] != 50 || codes["422insufficient_funds"] != 50 || len(codes) != 2 {
		t.Fatalf("outcomes = %v, want 50 successes and 50 insufficient_funds", codes)
	}
	if b := getBalance(t, s.US, u.ID); b.Balance != "0" || b.Available != "0" || b.LedgerSeq != 51 {
		t.Fatalf("balance = %+v", b)
	}
}

// TestEveryRefusalIsAProblem produces each error code of the API and checks that the
// refusal changed nothing.
func TestEveryRefusalIsAProblem(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_LIMITS__RATE_BURST=30", "WALLET_LIMITS__RATE_PER_SECOND=0.01")
	u := createUser(t, s.EU, "eu")
	if r := move(t, s.EU, u.ID, "deposits", "10", "seed"); r.Status != 201 {
		t.Fatal(r.Status)
	}
	dep := "/v1/users/" + u.ID + "/deposits"
	key := map[string]string{"Idempotency-Key": "k"}
	cases := []struct {
		name   string
		call   Call
		status int
		code   string
	}{
		{"no token", Call{Method: "GET", Path: "/v1/users/" + u.ID, Token: "-"}, 401, "unauthorized"},
		{"wrong token", Call{Method: "GET", Path: "/v1/users/" + u.ID, Token: "nope"}, 401, "unauthorized"},
		{"unknown user", Call{Method: "GET", Path: "/v1/users/" + shard.NewUserID("eu")}, 404, "user_not_found"},
		{"unknown user elsewhere", Call{Method: "GET", Path: "/v1/users/" + shard.NewUserID("us") + "/balance"}, 404, "user_not_found"},
		{"unknown region", Call{Method: "GET", Path: "/v1/users/" + shard.NewUserID("ap")}, 404, "user_not_found"},
		{"bad id", Call{Method: "GET", Path: "/v1/users/not-an-id/balance"}, 400, "invalid_request"},
		{"bad limit", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/ledger?limit=0"}, 400, "invalid_request"},
		{"big limit", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/ledger?limit=201"}, 400, "invalid_request"},
		{"bad cursor", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/ledger?cursor=xyz"}, 400, "invalid_request"},
		// Present but empty is not the default (schemathesis found these answered 200).
		{"empty limit", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/ledger?limit="}, 400, "invalid_request"},
		{"empty direction", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/transfers?direction="}, 400, "invalid_request"},
		{"empty status", Call{Method: "GET", Path: "/v1/users/" + u.ID + "/transfers?status="}, 400, "invalid_request"},
		{"no key", Call{Method: "POST", Path: dep, Body: map[string]any{"amount": "1"}}, 400, "idempotency_key_missing"},
		{"long key", Call{Method: "POST", Path: dep, Body: map[string]any{"amount": "1"}, Headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 400, "idempotency_key_missing"},
		{"malformed json", Call{Method: "POST", Path: dep, Body: `{"amount":`, Headers: key}, 400, "invalid_request"},
		{"unknown field", Call{Method: "POST", Path: dep, Body: `{"amount":"1","memo":"lunch"}`, Headers: key}, 400, "invalid_request"},
		{"duplicate key", Call{Method: "POST", Path: dep, Body: `{"amount":"1","amount":"2"}`, Headers: key}, 400, "invalid_request"},
		{"trailing data", Call{Method: "POST", Path: dep, Body: `{"amount":"1"}{}`, Headers: key}, 400, "invalid_request"},
		{"wrong type", Call{Method: "POST", Path: dep, Body: `{"amount":1}`, Headers: key}, 400, "invalid_request"},
		{"bad metadata", Call{Method: "POST", Path: dep, Body: `{"amount":"1","metadata":{"a b":"c"}}`, Headers: key}, 400, "invalid_request"},
		{"unknown region on create", Call{Method: "POST", Path: "/v1/users", Body: `{"region":"ap"}`}, 400, "invalid_request"},
		// No field is nullable (schemathesis found null taken for "absent").
		{"null region", Call{Method: "POST", Path: "/v1/users", Body: `{"region":null}`}, 400, "invalid_request"},
		{"null metadata", Call{Method: "POST", Path: dep, Body: `{"amount":"1","metadata":null}`, Headers: key}, 400, "invalid_request"},
		{"null amount", Call{Method: "POST", Path: dep, Body: `{"amount":null}`, Headers: key}, 400, "invalid_request"},
		{"control character in metadata", Call{Method: "POST", Path: dep, Body: `{"amount":"1","metadata":{"a":"\u0006"}}`, Headers: key}, 400, "invalid_request"},
		{"no amount", Call{Method: "POST", Path: dep, Body: `{}`, Headers: key}, 400, "invalid_amount"},
		{"overdraw", Call{Method: "POST", Path: "/v1/users/" + u.ID + "/withdrawals", Body: `{"amount":"11"}`, Headers: key}, 422, "insufficient_funds"},
	}
	for _, amount := range []string{"", "0", "-1", "+1", "1.5", "1e3", " 1", "1 ", "01", "abc", strings.Repeat("9", 79)} {
		cases = append(cases, struct {
			name   string
			call   Call
			status int
			code   string
		}{"amount " + amount, Call{Method: "POST", Path: dep, Body: map[string]any{"amount": amount}, Headers: key}, 400, "invalid_amount"})
	}
	for _, c := range cases {
		for _, via := range []*Region{s.EU, s.US} {
			r := via.Do(t, c.call)
			if r.Status != c.status || r.Code() != c.code || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s via %s = %d %s %s, want %d %s", c.name, via.Name, r.Status, r.Header.Get("Content-Type"), r.Body, c.status, c.code)
			}
		}
	}
	if b := getBalance(t, s.EU, u.ID); b.Balance != "10" || b.LedgerSeq != 1 {
		t.Fatalf("refusals changed the balance: %+v", b)
	}

	// 409: the key's first request is still in flight. A transaction holding the key's
	// lock on the user's shard stands in for it: the lock is the (gateway, user, key)
	// triple of platform/idempotency, and the harness's token is gateway "dev".
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.EU.ShardDSN[shardOf(u.ID)])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 7151))`, fmt.Sprintf("%d:%s:%d:%s:%s", len("dev"), "dev", len(u.ID), u.ID, "busy")); err != nil {
		t.Fatal(err)
	}
	if r := move(t, s.US, u.ID, "deposits", "1", "busy"); r.Status != 409 || r.Code() != "idempotency_key_in_use" {
		t.Errorf("in-flight key = %d %s", r.Status, r.Body)
	}
	_ = tx.Rollback(ctx)
	if r := move(t, s.US, u.ID, "deposits", "1", "busy"); r.Status != 201 {
		t.Errorf("the key once free = %d %s", r.Status, r.Body)
	}

	// 429: the stack allows a burst of 30 money-moving requests per user.
	limited := false
	for i := 0; i < 40 && !limited; i++ {
		r := move(t, s.EU, u.ID, "deposits", "1", fmt.Sprint("rl", i))
		if r.Status == 429 {
			limited = r.Code() == "rate_limited" && r.Header.Get("Retry-After") != ""
			if !limited {
				t.Fatalf("429 without code or Retry-After: %v %s", r.Header, r.Body)
			}
		}
	}
	if !limited {
		t.Fatal("40 deposits in a row were never rate limited")
	}

	// 503: the home region is down; the outcome of a write is unknown to the caller.
	v := createUser(t, s.EU, "us")
	s.US.Stop()
	if r := move(t, s.EU, v.ID, "deposits", "1", "k"); r.Status != 503 || r.Code() != "region_unavailable" {
		t.Fatalf("home region down = %d %s", r.Status, r.Body)
	}
}

func shardOf(userID string) string {
	region, _ := shard.UserRegion(userID)
	if shard.Bucket(userID, 256) < 128 {
		return region + "0"
	}
	return region + "1"
}
