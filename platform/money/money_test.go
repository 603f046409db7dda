package money

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePositive(t *testing.T) {
	sixty := strings.Repeat("9", 60)
	max := strings.Repeat("9", MaxDigits)
	cases := []struct {
		in   string
		want string // empty: must fail
	}{
		{"1", "1"},
		{"10", "10"},
		{"12345678901234567890123", "12345678901234567890123"},
		{sixty, sixty},
		{max, max},
		{"", ""},
		{"0", ""},
		{"00", ""},
		{"01", ""},
		{"-1", ""},
		{"+1", ""},
		{"1.0", ""},
		{"1.5", ""},
		{"1e3", ""},
		{"1E3", ""},
		{" 1", ""},
		{"1 ", ""},
		{"1_000", ""},
		{"0x10", ""},
		{"١", ""}, // an Arabic-Indic digit is not a decimal digit here
		{max + "9", ""},
	}
	for _, c := range cases {
		got, err := ParsePositive(c.in)
		if c.want == "" {
			var ae *AmountError
			if !errors.As(err, &ae) {
				t.Errorf("ParsePositive(%q) = %v, %v; want an AmountError", c.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("ParsePositive(%q) = %q, %v; want %q", c.in, got.String(), err, c.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	a := MustParse("100000000000000000000000000000")
	b := MustParse("1")
	if got := a.Add(b).String(); got != "100000000000000000000000000001" {
		t.Fatalf("Add = %s", got)
	}
	if got, ok := a.Sub(b); !ok || got.String() != "99999999999999999999999999999" {
		t.Fatalf("Sub = %s %v", got, ok)
	}
	if _, ok := b.Sub(a); ok {
		t.Fatal("Sub below zero must fail")
	}
	if a.Cmp(b) != 1 || b.Cmp(a) != -1 || a.Cmp(a) != 0 {
		t.Fatal("Cmp")
	}
	j, _ := a.MarshalJSON()
	if string(j) != `"100000000000000000000000000000"` {
		t.Fatalf("MarshalJSON = %s", j)
	}
}

// FuzzParsePositive checks that whatever is accepted round-trips exactly and is made
// of digits only, and that nothing panics.
func FuzzParsePositive(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "1.5", "1e9", " 7", "007", strings.Repeat("9", 79)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParsePositive(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("accepted %q but formats as %q", s, a.String())
		}
		if a.IsZero() || len(s) > MaxDigits {
			t.Fatalf("accepted %q", s)
		}
	})
}
