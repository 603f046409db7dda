package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// refundedTransfer is a transfer with what refunds add to it.
type refundedTransfer struct {
	transfer
	RefundOf       string `json:"refund_of"`
	RefundedAmount string `json:"refunded_amount"`
	Refunds        []struct {
		ID     string `json:"id"`
		Amount string `json:"amount"`
	} `json:"refunds"`
}

// refund asks via for a refund of transfer id (amount "" for the remainder), waiting
// up to 20 s for it to be final.
func refund(t *testing.T, via *Region, id, amount, key string) (Response, refundedTransfer) {
	t.Helper()
	body := map[string]any{}
	if amount != "" {
		body["amount"] = amount
	}
	resp := via.Do(t, Call{Method: "POST", Path: "/v1/transfers/" + id + "/refunds", Body: body,
		Headers: map[string]string{"Idempotency-Key": key, "Prefer": "wait=20"}})
	var tr refundedTransfer
	if resp.Status == 201 || resp.Status == 202 {
		resp.JSON(t, &tr)
	}
	return resp, tr
}

// TestRefundsAcrossRegions refunds a transfer from eu to us through both regions: the
// money comes back from the receiver in us to the sender in eu, the original shows
// its refunds, refunds racing through both regions never add up to more than the
// original, and the event streams announce each refund with the transfer it refunds.
func TestRefundsAcrossRegions(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	alice, bob := fund(t, s, "eu", "100"), createUser(t, s.US, "us").ID
	_, paid := send(t, s.US, alice, bob, "100", "pay", "Prefer", "wait=20")
	if paid.Status != "completed" {
		t.Fatalf("the transfer = %+v", paid)
	}

	// Through the receiver's region (forwarded to eu, which reads the receiver and
	// relays to us) and through the sender's (relayed to us).
	var refunds []string
	for i, via := range []*Region{s.US, s.EU} {
		resp, r := refund(t, via, paid.ID, "30", fmt.Sprint("back-", i))
		if resp.Status != 201 || r.Status != "completed" || r.RefundOf != paid.ID || r.FromUserID != bob || r.ToUserID != alice ||
			r.Amount != "30" || !strings.HasPrefix(r.ID, "us_") || resp.Header.Get("Location") != "/v1/transfers/"+r.ID {
			t.Fatalf("refund through %s = %d %s", via.Name, resp.Status, resp.Body)
		}
		refunds = append(refunds, r.ID)
		// A replay through the other region answers the same refund.
		other := s.EU
		if via == s.EU {
			other = s.US
		}
		if again, r2 := refund(t, other, paid.ID, "30", fmt.Sprint("back-", i)); again.Status != 201 || r2.ID != r.ID {
			t.Fatalf("replay through %s = %d %s", other.Name, again.Status, again.Body)
		}
	}
	assertBalance(t, s, alice, "60", "0")
	assertBalance(t, s, bob, "40", "0")

	// 16 refunds of 7 race through both regions for the 40 left: five go through.
	const racers = 16
	statuses := make([]Response, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			via := []*Region{s.EU, s.US}[i%2]
			statuses[i], _ = refund(t, via, paid.ID, "7", fmt.Sprint("race-", i))
		}()
	}
	wg.Wait()
	var ok int
	for _, r := range statuses {
		switch {
		case r.Status == 201:
			ok++
			var tr refundedTransfer
			r.JSON(t, &tr)
			refunds = append(refunds, tr.ID)
		case r.Status == 422 && r.Code() == "refund_exceeds_remainder":
		default:
			t.Fatalf("a racing refund = %d %s", r.Status, r.Body)
		}
	}
	if ok != 5 {
		t.Fatalf("%d racing refunds of 7 went through for the 40 left, want 5", ok)
	}
	assertBalance(t, s, alice, "95", "0")
	assertBalance(t, s, bob, "5", "0")
	if resp, _ := refund(t, s.EU, paid.ID, "6", "too-much"); resp.Status != 422 || resp.Code() != "refund_exceeds_remainder" {
		t.Fatalf("6 of the 5 left = %d %s", resp.Status, resp.Body)
	}

	var original refundedTransfer
	s.US.Do(t, Call{Method: "GET", Path: "/v1/transfers/" + paid.ID}).JSON(t, &original)
	var shown []string
	for _, r := range original.Refunds {
		shown = append(shown, r.ID)
	}
	if original.RefundedAmount != "95" || len(original.Refunds) != 7 || !sameIDs(shown, refunds) {
		t.Fatalf("the original shows %s refunded by %v, want 95 by %v", original.RefundedAmount, shown, refunds)
	}

	// A refund is not refunded, and neither is a transfer that never completed.
	if resp, _ := refund(t, s.EU, refunds[0], "", "r-of-r"); resp.Status != 422 || resp.Code() != "transfer_not_refundable" {
		t.Fatalf("a refund of a refund = %d %s", resp.Status, resp.Body)
	}
	nobody := strings.Replace(bob, bob[3:9], "000000", 1)
	_, cancelled := send(t, s.EU, alice, nobody, "5", "lost", "Prefer", "wait=20")
	if resp, _ := refund(t, s.US, cancelled.ID, "", "r-of-c"); cancelled.Status != "cancelled" || resp.Status != 422 || resp.Code() != "transfer_not_refundable" {
		t.Fatalf("a refund of a cancelled transfer (%s) = %d %s", cancelled.Status, resp.Status, resp.Body)
	}

	// Each refund is on the receiver's stream as a transfer that names the original,
	// after the credit of the original; and on the sender's, credited back.
	us := readEvents(t, s, "us", 2+2*len(refunds))
	if us[bob][1].Type != "wallet.transfer.credited" || us[bob][1].Subject != paid.ID {
		t.Fatalf("bob's stream begins %+v", us[bob][:2])
	}
	for _, e := range us[bob][2:] {
		var d struct {
			RefundOf string `json:"refund_of"`
		}
		_ = json.Unmarshal(e.Data, &d)
		if d.RefundOf != paid.ID || (e.Type != "wallet.transfer.created" && e.Type != "wallet.transfer.completed") {
			t.Fatalf("a refund's event on bob's stream: %s %s", e.Type, e.Data)
		}
	}
	eu := readEvents(t, s, "eu", 4+len(refunds)+2)
	credited := 0
	for _, e := range eu[alice] {
		var d struct {
			RefundOf string `json:"refund_of"`
		}
		_ = json.Unmarshal(e.Data, &d)
		if e.Type == "wallet.transfer.credited" && d.RefundOf == paid.ID {
			credited++
		}
	}
	if credited != len(refunds) {
		t.Fatalf("alice's stream announces %d refunds credited, want %d", credited, len(refunds))
	}
	s.VerifyLedgers(t)
	s.Audit(t)
}

// sameIDs reports whether a and b hold the same ids, in any order.
func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
