package e2e

import (
	"testing"
	"time"
)

// control freezes, unfreezes or closes userID's account through via.
func control(t *testing.T, via *Region, userID, action string) Response {
	t.Helper()
	return via.Do(t, Call{Method: "POST", Path: "/v1/users/" + userID + "/" + action})
}

func wantUserStatus(t *testing.T, r Response, status string) {
	t.Helper()
	var u user
	r.JSON(t, &u)
	if r.Status != 200 || u.Status != status {
		t.Fatalf("= %d %s, want 200 and status %s", r.Status, r.Body, status)
	}
}

// TestAccountControls: an operator freezes an account (debits refused, credits
// accepted), unfreezes it, and closes it only empty; a closed account refuses
// everything and a transfer to it is cancelled with its sender's money released. Each
// control works through either region and is idempotent; each is an event of the
// user's ledger; the ledgers verify and the audit is clean.
func TestAccountControls(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u, payer := fund(t, s, "eu", "100"), fund(t, s, "us", "50")

	wantUserStatus(t, control(t, s.US, u, "freeze"), "frozen") // forwarded to eu
	wantUserStatus(t, control(t, s.EU, u, "freeze"), "frozen") // again: no change
	r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u})
	wantUserStatus(t, r, "frozen")
	if r := move(t, s.EU, u, "withdrawals", "1", "w-frozen"); r.Status != 422 || r.Code() != "account_frozen" {
		t.Fatalf("withdrawal from a frozen account = %d %s", r.Status, r.Body)
	}
	if r, _ := send(t, s.EU, u, payer, "1", "t-frozen"); r.Status != 422 || r.Code() != "account_frozen" {
		t.Fatalf("transfer from a frozen account = %d %s", r.Status, r.Body)
	}
	if r := move(t, s.EU, u, "deposits", "5", "d-frozen"); r.Status != 201 {
		t.Fatalf("deposit to a frozen account = %d %s", r.Status, r.Body)
	}
	if _, tr := send(t, s.US, payer, u, "20", "t-to-frozen", "Prefer", "wait=20"); tr.Status != "completed" {
		t.Fatalf("transfer to a frozen account = %+v", tr)
	}
	assertBalance(t, s, u, "125", "0")

	if r := control(t, s.EU, u, "close"); r.Status != 422 || r.Code() != "account_not_empty" {
		t.Fatalf("closing an account holding 125 = %d %s", r.Status, r.Body)
	}
	wantUserStatus(t, control(t, s.EU, u, "unfreeze"), "active")
	if r := move(t, s.EU, u, "withdrawals", "125", "w-all"); r.Status != 201 {
		t.Fatalf("withdrawing everything after unfreezing = %d %s", r.Status, r.Body)
	}
	wantUserStatus(t, control(t, s.US, u, "close"), "closed")
	wantUserStatus(t, control(t, s.EU, u, "close"), "closed")
	for _, c := range []Response{
		move(t, s.EU, u, "deposits", "1", "d-closed"),
		control(t, s.EU, u, "unfreeze"),
		control(t, s.EU, u, "freeze"),
	} {
		if c.Status != 422 || c.Code() != "account_closed" {
			t.Fatalf("an operation on a closed account = %d %s", c.Status, c.Body)
		}
	}
	// A transfer to the closed account: refused by its participant, money released.
	if _, tr := send(t, s.US, payer, u, "10", "t-to-closed", "Prefer", "wait=20"); tr.Status != "cancelled" || tr.Reason != "receiver_closed" {
		t.Fatalf("transfer to a closed account = %+v", tr)
	}
	assertBalance(t, s, payer, "30", "0")

	// The history says what happened, in order.
	resp := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/ledger"})
	var page struct {
		Entries []struct {
			Kind   string `json:"kind"`
			Amount string `json:"amount"`
		} `json:"entries"`
	}
	resp.JSON(t, &page)
	var kinds []string
	for _, e := range page.Entries {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"account_closed", "withdrawal", "account_unfrozen", "transfer_credit", "deposit", "account_frozen", "deposit"}
	if len(kinds) != len(want) || page.Entries[0].Amount != "0" {
		t.Fatalf("history = %v (%s), want %v", kinds, resp.Body, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("history = %v, want %v", kinds, want)
		}
	}
	s.VerifyLedgers(t)
}

// TestTransferToAnAccountClosedInFlight: a cross-region transfer whose credit is lost
// and sent again after its receiver's account was closed ends cancelled with reason
// receiver_closed, and its sender's hold is released.
func TestTransferToAnAccountClosedInFlight(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__RESEND_AFTER=2s", "WALLET_TRANSFERS__RESEND_MAX=3s", "WALLET_TESTING__RELAY_DROP__CREDIT=1")
	from, to := fund(t, s, "us", "100"), fund(t, s, "eu", "0")
	r, tr := send(t, s.US, from, to, "30", "in-flight")
	if r.Status != 202 {
		t.Fatalf("transfer = %d %s", r.Status, r.Body)
	}
	assertBalance(t, s, from, "100", "30")
	wantUserStatus(t, control(t, s.EU, to, "close"), "closed")
	final := awaitFinal(t, s.US, tr.ID, 20*time.Second)
	if final.Status != "cancelled" || final.Reason != "receiver_closed" || !hasStep(final, "credit_resent") {
		t.Fatalf("final = %+v", final)
	}
	assertBalance(t, s, from, "100", "0")
	assertBalance(t, s, to, "0", "0")
	s.VerifyLedgers(t)
}

// TestBalanceAtAnInstant: the balance as of an instant comes from the ledger, through
// either region, and a statement window selects the entries created in it.
func TestBalanceAtAnInstant(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u := createUser(t, s.EU, "eu").ID
	before := time.Now().UTC().Add(-time.Second)
	move(t, s.EU, u, "deposits", "100", "d1")
	move(t, s.EU, u, "withdrawals", "30", "w1")
	after := time.Now().UTC().Add(time.Second)
	for _, c := range []struct {
		at      time.Time
		balance string
		seq     int
	}{{before, "0", 0}, {after, "70", 2}} {
		for _, via := range []*Region{s.EU, s.US} {
			r := via.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/balance?at=" + c.at.Format(time.RFC3339Nano)})
			var got struct {
				Balance   string `json:"balance"`
				LedgerSeq int    `json:"ledger_seq"`
				At        string `json:"at"`
			}
			r.JSON(t, &got)
			if r.Status != 200 || got.Balance != c.balance || got.LedgerSeq != c.seq || got.At == "" {
				t.Fatalf("balance at %s through %s = %d %s", c.at, via.Name, r.Status, r.Body)
			}
		}
	}
	if r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/balance?at=yesterday"}); r.Status != 400 || r.Code() != "invalid_request" {
		t.Fatalf("a malformed instant = %d %s", r.Status, r.Body)
	}
	r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/ledger?from=" + after.Format(time.RFC3339) + "&to=" + after.Add(time.Hour).Format(time.RFC3339)})
	var page struct {
		Entries []any `json:"entries"`
	}
	r.JSON(t, &page)
	if r.Status != 200 || len(page.Entries) != 0 {
		t.Fatalf("entries of a window after both = %d %s", r.Status, r.Body)
	}
	r = s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/ledger?from=" + before.Format(time.RFC3339Nano) + "&to=" + after.Format(time.RFC3339Nano)})
	r.JSON(t, &page)
	if r.Status != 200 || len(page.Entries) != 2 {
		t.Fatalf("entries of a window around both = %d %s", r.Status, r.Body)
	}
	if r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + u + "/ledger?from=" + after.Format(time.RFC3339) + "&to=" + before.Format(time.RFC3339)}); r.Status != 400 {
		t.Fatalf("from after to = %d %s", r.Status, r.Body)
	}
}
