package currency

import (
	"strings"
	"testing"
)

func TestISO4217Exponents(t *testing.T) {
	c, err := NewCatalogue("EUR", nil)
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]int{"EUR": 2, "USD": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3, "CLF": 4, "GBP": 2, "CHF": 2} {
		if cur, ok := c.Lookup(code); !ok || cur.Exponent != want || cur.Kind != KindISO4217 {
			t.Errorf("%s = %+v, %v; want exponent %d", code, cur, ok, want)
		}
	}
	// Units without minor units are not currencies to hold here.
	for _, code := range []string{"XXX", "XTS", "XAU", "XDR", "eur", "EURO"} {
		if _, ok := c.Lookup(code); ok {
			t.Errorf("%s is in the catalogue", code)
		}
	}
	if c.Default().Code != "EUR" {
		t.Fatalf("default = %+v", c.Default())
	}
	all := c.All()
	if len(all) < 150 || all[0].Code > all[1].Code {
		t.Fatalf("All lists %d units, first %v", len(all), all[:2])
	}
}

func TestAssets(t *testing.T) {
	c, err := NewCatalogue("POINTS", []Currency{{Code: "POINTS", Exponent: 0, Name: "Loyalty points"}, {Code: "XAUG", Exponent: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.Lookup("POINTS"); p.Kind != KindAsset || p.Exponent != 0 || c.Default().Code != "POINTS" {
		t.Fatalf("POINTS = %+v, default %+v", p, c.Default())
	}
	if g, _ := c.Lookup("XAUG"); g.Name != "XAUG" {
		t.Fatalf("an asset without a name is named by its code: %+v", g)
	}
	refused := map[string][]Currency{
		"is an ISO 4217 currency":        {{Code: "EUR", Exponent: 2}},
		"upper-case letter":              {{Code: "points", Exponent: 0}},
		"exponent must be 0 to 18":       {{Code: "FINE", Exponent: 19}},
		"exponent must be 0 to 18 (neg)": {{Code: "NEG", Exponent: -1}},
	}
	for want, assets := range refused {
		if _, err := NewCatalogue("EUR", assets); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(want, " (neg)")) {
			t.Errorf("%v = %v, want %q", assets, err, want)
		}
	}
	if _, err := NewCatalogue("XXX", nil); err == nil {
		t.Fatal("a default that is no unit of the catalogue must be refused")
	}
}

func TestValidCode(t *testing.T) {
	for code, want := range map[string]bool{"EUR": true, "USDC": true, "A1B2C3D4E5F6": true, "A1B2C3D4E5F6G": false, "EU": false, "1EU": false, "eur": false, "E-R": false, "": false} {
		if ValidCode(code) != want {
			t.Errorf("ValidCode(%q) = %v", code, !want)
		}
	}
}
