package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// batchResult is one item's answer in a batch's response.
type batchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

func sendBatch(t *testing.T, via *Region, items []map[string]any) (Response, []batchResult) {
	t.Helper()
	r := via.Do(t, Call{Method: "POST", Path: "/v1/batches", Body: map[string]any{"items": items}})
	var out struct {
		Results []batchResult `json:"results"`
	}
	if r.Status == 200 {
		r.JSON(t, &out)
	}
	return r, out.Results
}

// TestBatchItemsAnswerAsAlone: a batch's items are applied independently and in order
// per user, each answering what its own request would have (the user in the other
// region included, refusals included), a batch sent again replays every key, and a
// malformed batch is refused whole.
func TestBatchItemsAnswerAsAlone(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	alice, bob, carol := createUser(t, s.EU, "eu").ID, createUser(t, s.EU, "eu").ID, createUser(t, s.US, "us").ID
	items := []map[string]any{
		{"kind": "deposit", "user_id": alice, "amount": "100", "idempotency_key": "b1"},
		{"kind": "deposit", "user_id": carol, "amount": "50", "currency": "USD", "idempotency_key": "b2"}, // homed in us
		{"kind": "withdrawal", "user_id": alice, "amount": "30", "idempotency_key": "b3"},                 // after b1: alice's order
		{"kind": "transfer", "from_user_id": alice, "to_user_id": bob, "amount": "20", "idempotency_key": "b4"},
		{"kind": "deposit", "user_id": alice, "amount": "12.5", "idempotency_key": "b5"},
		{"kind": "withdrawal", "user_id": bob, "amount": "1000", "idempotency_key": "b6"},
		{"kind": "deposit", "user_id": bob, "amount": "1"},
		{"kind": "deposit", "user_id": bob, "amount": "1", "currency": "XYZ", "idempotency_key": "b8"},
		{"kind": "transfer", "from_user_id": carol, "to_user_id": alice, "amount": "5", "currency": "USD", "idempotency_key": "b9"},
	}
	want := []struct {
		status int
		code   string
	}{{201, ""}, {201, ""}, {201, ""}, {0, ""}, {400, "invalid_amount"}, {422, "insufficient_funds"}, {400, "idempotency_key_missing"},
		{422, "unknown_currency"}, {202, ""}}
	r, results := sendBatch(t, s.EU, items)
	if r.Status != 200 || len(results) != len(items) {
		t.Fatalf("batch = %d %s", r.Status, r.Body)
	}
	for i, w := range want {
		got := results[i]
		var p struct{ Code string }
		_ = json.Unmarshal(got.Body, &p)
		if (w.status != 0 && got.Status != w.status) || p.Code != w.code {
			t.Errorf("item %d = %d %s, want %d %s", i, got.Status, got.Body, w.status, w.code)
		}
	}
	if results[3].Status != 201 && results[3].Status != 202 {
		t.Errorf("the transfer = %d %s", results[3].Status, results[3].Body)
	}
	var dep struct {
		Balance balance `json:"balance"`
	}
	_ = json.Unmarshal(results[2].Body, &dep)
	if dep.Balance.Balance != "70" {
		t.Fatalf("the withdrawal after the deposit left %s: %s", dep.Balance.Balance, results[2].Body)
	}

	// The same batch again, through the other region: every key replays its first
	// answer, and nothing moves twice.
	_, again := sendBatch(t, s.US, items)
	for _, i := range []int{0, 1, 2} {
		if again[i].Status != results[i].Status || string(again[i].Body) != string(results[i].Body) {
			t.Errorf("item %d replayed %d %s, first %d %s", i, again[i].Status, again[i].Body, results[i].Status, results[i].Body)
		}
	}
	var first, second transfer
	_ = json.Unmarshal(results[3].Body, &first)
	_ = json.Unmarshal(again[3].Body, &second)
	if first.ID == "" || second.ID != first.ID {
		t.Errorf("the transfer replayed as %s, first %s", again[3].Body, results[3].Body)
	}
	var carolsTransfer transfer
	_ = json.Unmarshal(results[8].Body, &carolsTransfer)
	awaitFinal(t, s.US, carolsTransfer.ID, 20*time.Second)
	if tr := awaitFinal(t, s.EU, first.ID, 20*time.Second); tr.Status != "completed" { // cross-shard when they do not share one
		t.Fatalf("alice's transfer to bob = %+v", tr)
	}
	assertBalance(t, s, alice, "50", "0")
	assertBalance(t, s, bob, "20", "0")
	for user, want := range map[string]map[string]string{alice: {"EUR": "50", "USD": "5"}, carol: {"EUR": "0", "USD": "45"}} {
		_, got := balancesOf(t, s.EU, user)
		for c, amount := range want {
			if got[c].Balance != amount {
				t.Errorf("%s's %s = %+v, want %s", user, c, got[c], amount)
			}
		}
	}

	// A malformed batch is refused whole, and applies nothing.
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"kind": "deposit", "user_id": bob, "amount": "1", "idempotency_key": fmt.Sprint("m", i)}
	}
	for name, bad := range map[string][]map[string]any{
		"no items":       {},
		"too many items": many,
		"unknown kind":   {{"kind": "deposit", "user_id": bob, "amount": "1", "idempotency_key": "x1"}, {"kind": "refund", "user_id": bob}},
		"no user":        {{"kind": "transfer", "to_user_id": bob, "amount": "1", "idempotency_key": "x2"}},
		"numeric key":    {{"kind": "deposit", "user_id": bob, "amount": "1", "idempotency_key": 7}},
	} {
		if r, _ := sendBatch(t, s.EU, bad); r.Status != 400 || r.Code() != "invalid_request" {
			t.Errorf("%s = %d %s", name, r.Status, r.Body)
		} else if name == "unknown kind" && !strings.Contains(string(r.Body), "items[1].kind") {
			t.Errorf("%s names no item: %s", name, r.Body)
		}
	}
	assertBalance(t, s, bob, "20", "0")
	s.VerifyLedgers(t)
}
