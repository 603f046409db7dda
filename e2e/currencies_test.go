package e2e

import "testing"

// TestEachRegionPublishesItsCurrencies: GET /v1/currencies lists the ISO 4217
// currencies with their exponents and the assets the operator configured, and the
// region's default (EUR in both local regions: every region holds one unit until
// balances are kept per currency).
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
