package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestEachRegionPublishesItsCurrencies: GET /v1/currencies lists the ISO 4217
// currencies with their exponents and the assets the operator configured, and the
// region's default (EUR in both local regions, so that transfers naming no currency
// move the same one both ways).
func TestEachRegionPublishesItsCurrencies(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_CURRENCIES__ASSETS__POINTS__EXPONENT=0", "WALLET_CURRENCIES__ASSETS__POINTS__NAME=Loyalty points")
	for region, want := range map[*Region]string{s.EU: "EUR", s.US: "EUR"} {
		resp := region.Do(t, Call{Method: "GET", Path: "/v1/currencies"})
		var got struct {
			Default    string
			Currencies []struct {
				Code, Name, Kind string
				Exponent         int
			}
		}
		resp.JSON(t, &got)
		if resp.Status != 200 || got.Default != want {
			t.Fatalf("%s: %d, default %q, want %s", region.Name, resp.Status, got.Default, want)
		}
		byCode := map[string]int{}
		kinds := map[string]string{}
		for i, c := range got.Currencies {
			if i > 0 && got.Currencies[i-1].Code >= c.Code {
				t.Fatalf("%s: currencies are not ordered by code at %s", region.Name, c.Code)
			}
			byCode[c.Code], kinds[c.Code] = c.Exponent, c.Kind
		}
		for code, exp := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KWD": 3, "POINTS": 0} {
			if e, ok := byCode[code]; !ok || e != exp {
				t.Errorf("%s: %s exponent %d (listed %v), want %d", region.Name, code, e, ok, exp)
			}
		}
		if kinds["POINTS"] != "asset" || kinds["EUR"] != "iso4217" {
			t.Errorf("%s: kinds %s and %s", region.Name, kinds["POINTS"], kinds["EUR"])
		}
	}
	if r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/currencies", Token: "-"}); r.Status != 401 {
		t.Fatalf("without a token = %d", r.Status)
	}
}

// balancesOf reads every balance of userID through via, by currency.
func balancesOf(t *testing.T, via *Region, userID string) (defaultCurrency string, byCurrency map[string]balance) {
	t.Helper()
	r := via.Do(t, Call{Method: "GET", Path: "/v1/users/" + userID + "/balances"})
	var got struct {
		UserID          string    `json:"user_id"`
		DefaultCurrency string    `json:"default_currency"`
		LedgerSeq       int64     `json:"ledger_seq"`
		Balances        []balance `json:"balances"`
	}
	r.JSON(t, &got)
	if r.Status != 200 || got.UserID != userID {
		t.Fatalf("balances of %s via %s = %d %s", userID, via.Name, r.Status, r.Body)
	}
	byCurrency = map[string]balance{}
	for i, b := range got.Balances {
		if i > 0 && got.Balances[i-1].Currency >= b.Currency {
			t.Fatalf("balances are not ordered by currency: %s", r.Body)
		}
		byCurrency[b.Currency] = b
	}
	return got.DefaultCurrency, byCurrency
}

// moveIn deposits or withdraws amount of currency through via.
func moveIn(t *testing.T, via *Region, userID, kind, currency, amount, key string) Response {
	t.Helper()
	return via.Do(t, Call{Method: "POST", Path: "/v1/users/" + userID + "/" + kind,
		Body: map[string]any{"amount": amount, "currency": currency}, Headers: map[string]string{"Idempotency-Key": key}})
}

// sendIn transfers amount of currency through via, waiting for the transfer to end.
func sendIn(t *testing.T, via *Region, from, to, currency, amount, key string) (Response, transfer) {
	t.Helper()
	resp := via.Do(t, Call{Method: "POST", Path: "/v1/transfers",
		Body:    map[string]any{"from_user_id": from, "to_user_id": to, "amount": amount, "currency": currency},
		Headers: map[string]string{"Idempotency-Key": key, "Prefer": "wait=20"}})
	var tr transfer
	if resp.Status == 201 || resp.Status == 202 {
		resp.JSON(t, &tr)
	}
	return resp, tr
}

// TestMoneyInTwoCurrenciesAcrossRegions: users of eu hold euros and users of us
// dollars by default, and either may hold both. Deposits and transfers move the
// currency they name, through either region, between shards and regions; nothing
// converts, so a transfer in one currency is refused when only another would cover
// it; every balance, statement and instant is per currency; and the ledgers verify
// and the audit balances every currency to the unit.
func TestMoneyInTwoCurrenciesAcrossRegions(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "us:WALLET_CURRENCIES__DEFAULT=USD")
	alice := createUser(t, s.EU, "eu")
	bob := createUser(t, s.US, "us")
	if alice.DefaultCurrency != "EUR" || bob.DefaultCurrency != "USD" {
		t.Fatalf("default currencies %s and %s, want EUR for eu and USD for us", alice.DefaultCurrency, bob.DefaultCurrency)
	}
	for _, r := range []Response{
		move(t, s.EU, alice.ID, "deposits", "1000", "eur"),          // her default: euros
		moveIn(t, s.US, alice.ID, "deposits", "USD", "500", "usd"),  // dollars, through the other region
		moveIn(t, s.US, bob.ID, "deposits", "EUR", "70", "bob-eur"), // euros for a us user
	} {
		if r.Status != 201 {
			t.Fatalf("deposit = %d %s", r.Status, r.Body)
		}
	}
	var entry struct {
		Entry struct {
			Currency string `json:"currency"`
		} `json:"entry"`
		Balance balance `json:"balance"`
	}
	moveIn(t, s.EU, alice.ID, "deposits", "USD", "500", "usd").JSON(t, &entry) // the replay
	if entry.Entry.Currency != "USD" || entry.Balance.Currency != "USD" || entry.Balance.Balance != "500" {
		t.Fatalf("the dollar deposit's answer = %+v", entry)
	}
	dflt, got := balancesOf(t, s.US, alice.ID)
	if dflt != "EUR" || len(got) != 2 || got["EUR"].Balance != "1000" || got["USD"].Balance != "500" {
		t.Fatalf("alice's balances = %s %+v", dflt, got)
	}

	// Dollars from eu to us and back, each credited in dollars.
	r, tr := sendIn(t, s.EU, alice.ID, bob.ID, "USD", "200", "a-to-b")
	if r.Status != 201 && r.Status != 202 || tr.Status != "completed" || tr.Currency != "USD" {
		t.Fatalf("200 USD from eu to us = %d %s", r.Status, r.Body)
	}
	r, tr = sendIn(t, s.EU, bob.ID, alice.ID, "USD", "50", "b-to-a") // sent through eu, run in us
	if tr.Status != "completed" || tr.Currency != "USD" {
		t.Fatalf("50 USD from us to eu = %d %s", r.Status, r.Body)
	}
	// Euros from a us user, who names them.
	if _, tr := sendIn(t, s.US, bob.ID, alice.ID, "EUR", "20", "b-to-a-eur"); tr.Status != "completed" || tr.Currency != "EUR" {
		t.Fatalf("20 EUR from us to eu = %+v", tr)
	}
	wantBalances := func(user string, want map[string]string) {
		t.Helper()
		for _, via := range []*Region{s.EU, s.US} {
			_, got := balancesOf(t, via, user)
			if len(got) != len(want) {
				t.Fatalf("%s's balances via %s = %+v, want %v", user, via.Name, got, want)
			}
			for c, amount := range want {
				if got[c].Balance != amount || got[c].Frozen != "0" || got[c].Available != amount {
					t.Fatalf("%s's %s via %s = %+v, want %s", user, c, via.Name, got[c], amount)
				}
				one := via.Do(t, Call{Method: "GET", Path: "/v1/users/" + user + "/balance?currency=" + c})
				var b balance
				one.JSON(t, &b)
				if one.Status != 200 || b.Currency != c || b.Balance != amount {
					t.Fatalf("%s's balance?currency=%s = %d %s", user, c, one.Status, one.Body)
				}
			}
		}
	}
	wantBalances(alice.ID, map[string]string{"EUR": "1020", "USD": "350"})
	wantBalances(bob.ID, map[string]string{"EUR": "50", "USD": "150"})
	// Without a currency, a balance is the user's default.
	if b := getBalance(t, s.EU, bob.ID); b.Currency != "USD" || b.Balance != "150" {
		t.Fatalf("bob's default balance = %+v", b)
	}

	// No conversion: 1020 EUR do not pay for 400 USD, and nothing moves.
	if r, _ := sendIn(t, s.EU, alice.ID, bob.ID, "USD", "400", "too-many-dollars"); r.Status != 422 || r.Code() != "insufficient_funds" {
		t.Fatalf("400 USD from 350 USD and 1020 EUR = %d %s", r.Status, r.Body)
	}
	// A key names one request: the same key in another currency is refused.
	if r, _ := sendIn(t, s.EU, alice.ID, bob.ID, "EUR", "200", "a-to-b"); r.Status != 422 || r.Code() != "idempotency_key_reused" {
		t.Fatalf("the key of a USD transfer in EUR = %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"XYZ", "usd", "", "EURO"} {
		if r := moveIn(t, s.EU, alice.ID, "deposits", bad, "1", "bad-"+bad); r.Status != 422 || r.Code() != "unknown_currency" {
			t.Fatalf("a deposit in %q = %d %s", bad, r.Status, r.Body)
		}
		if r, _ := sendIn(t, s.US, bob.ID, alice.ID, bad, "1", "bad-"+bad); r.Status != 422 || r.Code() != "unknown_currency" {
			t.Fatalf("a transfer in %q = %d %s", bad, r.Status, r.Body)
		}
	}
	if r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + alice.ID + "/balance?currency=XYZ"}); r.Status != 422 || r.Code() != "unknown_currency" {
		t.Fatalf("a balance in XYZ = %d %s", r.Status, r.Body)
	}
	wantBalances(alice.ID, map[string]string{"EUR": "1020", "USD": "350"})

	// A statement per currency, and a balance per currency at an instant.
	between := time.Now().UTC()
	if r := moveIn(t, s.EU, alice.ID, "withdrawals", "USD", "100", "usd-out"); r.Status != 201 {
		t.Fatalf("withdrawal = %d %s", r.Status, r.Body)
	}
	page := s.US.Do(t, Call{Method: "GET", Path: "/v1/users/" + alice.ID + "/ledger?currency=USD"})
	var statement struct {
		Entries []struct {
			Kind         string `json:"kind"`
			Currency     string `json:"currency"`
			BalanceAfter string `json:"balance_after"`
		} `json:"entries"`
	}
	page.JSON(t, &statement)
	var kinds []string
	for _, e := range statement.Entries {
		if e.Currency != "USD" {
			t.Fatalf("a USD statement lists %s", page.Body)
		}
		kinds = append(kinds, e.Kind)
	}
	if fmt.Sprint(kinds) != "[withdrawal transfer_credit transfer_debit deposit]" || statement.Entries[0].BalanceAfter != "250" {
		t.Fatalf("alice's USD statement = %v (%s)", kinds, page.Body)
	}
	for currency, want := range map[string]string{"USD": "350", "EUR": "1020"} {
		r := s.EU.Do(t, Call{Method: "GET", Path: "/v1/users/" + alice.ID + "/balance?currency=" + currency + "&at=" + between.Format(time.RFC3339Nano)})
		var at struct {
			Currency string `json:"currency"`
			Balance  string `json:"balance"`
		}
		r.JSON(t, &at)
		if r.Status != 200 || at.Currency != currency || at.Balance != want {
			t.Fatalf("alice's %s before the withdrawal = %d %s, want %s", currency, r.Status, r.Body, want)
		}
	}
	s.VerifyLedgers(t)
}
