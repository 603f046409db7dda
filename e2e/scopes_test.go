package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestTokensDoOnlyWhatTheirScopesAllow: a gateway whose token carries only the read
// scope reads balances in every region, and is refused 403 insufficient_scope when it
// moves money or creates a user, in the region it enters through as in the home region;
// nothing changes. The development token, with every scope, is not affected.
func TestTokensDoOnlyWhatTheirScopesAllow(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("reader-token"))
	s := StartStack(t, "WALLET_AUTH__GATEWAY_TOKENS__READER="+hex.EncodeToString(sum[:]), "WALLET_AUTH__GATEWAY_SCOPES__READER=read")
	u := fund(t, s, "eu", "10")
	for _, via := range []*Region{s.EU, s.US} {
		r := via.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/balance", Token: "reader-token"})
		if r.Status != 200 {
			t.Fatalf("a read through %s = %d %s", via.Name, r.Status, r.Body)
		}
		refused := []Call{
			{Method: "POST", Path: "/v1/users/" + u + "/deposits", Body: map[string]any{"amount": "5"}, Headers: map[string]string{"Idempotency-Key": "r1"}},
			{Method: "POST", Path: "/v1/users/" + u + "/withdrawals", Body: map[string]any{"amount": "5"}, Headers: map[string]string{"Idempotency-Key": "r2"}},
			{Method: "POST", Path: "/v1/transfers", Body: map[string]any{"from_user_id": u, "to_user_id": fund(t, s, "us", "0"), "amount": "5"}, Headers: map[string]string{"Idempotency-Key": "r3"}},
			{Method: "POST", Path: "/v1/users", Body: map[string]any{}},
		}
		for _, c := range refused {
			c.Token = "reader-token"
			r := via.Do(t, c)
			if r.Status != 403 || r.Code() != "insufficient_scope" ||
				r.Header.Get("WWW-Authenticate") != `Bearer realm="wallet", error="insufficient_scope", scope="payments"` {
				t.Errorf("%s %s through %s = %d %s %q", c.Method, c.Path, via.Name, r.Status, r.Body, r.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if b := getBalance(t, s.EU, u); b.Balance != "10" || b.LedgerSeq != 1 {
		t.Fatalf("refused requests changed the balance: %+v", b)
	}
}
