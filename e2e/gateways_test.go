package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// partnerToken is a second gateway's token, configured by startTwoGatewayStack.
const partnerToken = "partner-token-for-the-e2e-suite"

// startTwoGatewayStack starts a stack whose regions both know the development gateway
// ("dev") and a second one ("partner").
func startTwoGatewayStack(t *testing.T, extraEnv ...string) *Stack {
	sum := sha256.Sum256([]byte(partnerToken))
	return StartStack(t, append(extraEnv, "WALLET_AUTH__GATEWAY_TOKENS__PARTNER="+hex.EncodeToString(sum[:]))...)
}

// TestIdempotencyKeysBelongToTheirGateway: a key is scoped by (gateway, user), as the
// API documents, in every region: the same key from two gateways makes two requests,
// a gateway's retry through the other region is still its own replay, and each
// gateway sees only its own keys in the ledger.
func TestIdempotencyKeysBelongToTheirGateway(t *testing.T) {
	t.Parallel()
	s := startTwoGatewayStack(t)
	u := createUser(t, s.EU, "eu").ID
	deposit := func(via *Region, token, amount string) Response {
		return via.Do(t, Call{Method: "POST", Path: "/v1/users/" + u + "/deposits", Token: token,
			Body: map[string]any{"amount": amount}, Headers: map[string]string{"Idempotency-Key": "shared-key"}})
	}

	first := deposit(s.EU, devToken, "5")
	// The partner's request enters through the other region and is forwarded.
	second := deposit(s.US, partnerToken, "7")
	if first.Status != 201 || second.Status != 201 {
		t.Fatalf("deposits = %d %s, %d %s", first.Status, first.Body, second.Status, second.Body)
	}
	var a, b movement
	first.JSON(t, &a)
	second.JSON(t, &b)
	if a.Entry.Seq == b.Entry.Seq || b.Balance.Balance != "12" {
		t.Fatalf("the partner's request was answered as the dev gateway's: %s then %s", first.Body, second.Body)
	}

	// Each gateway's retry, through either region, is its own replay.
	if r := deposit(s.US, devToken, "5"); r.Status != 201 || string(r.Body) != string(first.Body) {
		t.Errorf("dev retry = %d %s, want its first answer %s", r.Status, r.Body, first.Body)
	}
	if r := deposit(s.EU, partnerToken, "7"); r.Status != 201 || string(r.Body) != string(second.Body) {
		t.Errorf("partner retry = %d %s, want its first answer %s", r.Status, r.Body, second.Body)
	}
	// And a different request under the partner's key is the partner's reuse only.
	if r := deposit(s.EU, partnerToken, "5"); r.Status != 422 || r.Code() != "idempotency_key_reused" {
		t.Errorf("partner reusing its key = %d %s, want 422 idempotency_key_reused", r.Status, r.Body)
	}
	if bal := getBalance(t, s.EU, u); bal.Balance != "12" {
		t.Fatalf("balance = %s, want 12", bal.Balance)
	}

	// Each gateway sees its own key in the history, and not the other's.
	for _, tc := range []struct{ token, ownAmount string }{{devToken, "5"}, {partnerToken, "7"}} {
		resp := s.US.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/ledger", Token: tc.token})
		var page struct{ Entries []entry }
		resp.JSON(t, &page)
		if resp.Status != 200 || len(page.Entries) != 2 {
			t.Fatalf("ledger = %d %s", resp.Status, resp.Body)
		}
		for _, e := range page.Entries {
			want := ""
			if e.Amount == tc.ownAmount {
				want = "shared-key"
			}
			if e.IdempotencyKey != want {
				t.Errorf("entry %d (amount %s) shows key %q to the gateway whose amount is %s, want %q", e.Seq, e.Amount, e.IdempotencyKey, tc.ownAmount, want)
			}
		}
	}

	// Transfers too: the same key from the other gateway is another transfer.
	v := createUser(t, s.US, "us").ID
	sendAs := func(token string) Response {
		return s.EU.Do(t, Call{Method: "POST", Path: "/v1/transfers", Token: token,
			Body:    map[string]any{"from_user_id": u, "to_user_id": v, "amount": "1"},
			Headers: map[string]string{"Idempotency-Key": "shared-transfer-key"}})
	}
	t1, t2 := sendAs(devToken), sendAs(partnerToken)
	var x, y transfer
	t1.JSON(t, &x)
	t2.JSON(t, &y)
	if t1.Status != 202 || t2.Status != 202 || x.ID == "" || x.ID == y.ID {
		t.Fatalf("transfers = %d %s, %d %s: want two pending transfers", t1.Status, t1.Body, t2.Status, t2.Body)
	}
	s.VerifyLedgers(t)
}
