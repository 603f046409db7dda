// Package money is the wallet's amount type: a non-negative integer of unbounded size
// in the abstract unit, written in JSON and SQL as a string of decimal digits. There
// are no floats anywhere on the path from the request to the ledger.
package money

import (
	"database/sql/driver"
	"fmt"
	"math/big"
)

// MaxDigits is the most digits an amount or balance may have: the schema stores them as
// NUMERIC(78,0).
const MaxDigits = 78

// maxStored is the largest value with MaxDigits digits.
var maxStored = func() *big.Int {
	v := new(big.Int).Exp(big.NewInt(10), big.NewInt(MaxDigits), nil)
	return v.Sub(v, big.NewInt(1))
}()

// Amount is an exact non-negative integer. The zero value is 0.
type Amount struct {
	v big.Int
}

// AmountError says why a string is not a valid positive amount. Reason is stable
// English, fit for an API error's detail.
type AmountError struct {
	Input  string
	Reason string
}

func (e *AmountError) Error() string { return "invalid amount: " + e.Reason }

// ParsePositive parses a positive amount: one to MaxDigits decimal digits, no sign, no
// leading zero, no spaces, no decimal point, no exponent.
func ParsePositive(s string) (Amount, error) {
	a, err := parse(s)
	if err != nil {
		return Amount{}, err
	}
	if a.v.Sign() == 0 {
		return Amount{}, &AmountError{Input: s, Reason: "must be greater than zero"}
	}
	return a, nil
}

func parse(s string) (Amount, error) {
	switch {
	case s == "":
		return Amount{}, &AmountError{Input: s, Reason: "must not be empty"}
	case len(s) > MaxDigits:
		return Amount{}, &AmountError{Input: s, Reason: fmt.Sprintf("must have at most %d digits", MaxDigits)}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return Amount{}, &AmountError{Input: s, Reason: "must contain only the digits 0-9 (no sign, spaces, decimals or exponent)"}
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return Amount{}, &AmountError{Input: s, Reason: "must not have leading zeros"}
	}
	var a Amount
	a.v.SetString(s, 10)
	return a, nil
}

// MustParse parses a non-negative amount and panics on error; for constants and tests.
func MustParse(s string) Amount {
	a, err := parse(s)
	if err != nil {
		panic(err)
	}
	return a
}

// FromInt64 converts a non-negative int64.
func FromInt64(n int64) Amount {
	if n < 0 {
		panic("money: negative amount")
	}
	var a Amount
	a.v.SetInt64(n)
	return a
}

// String is the canonical decimal form, the same one ParsePositive accepts.
func (a Amount) String() string { return a.v.String() }

// Cmp compares a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int { return a.v.Cmp(&b.v) }

// Storable reports whether a has at most MaxDigits digits, so the schema can hold it.
func (a Amount) Storable() bool { return a.v.Cmp(maxStored) <= 0 }

// IsZero reports whether a is 0.
func (a Amount) IsZero() bool { return a.v.Sign() == 0 }

// Add returns a+b.
func (a Amount) Add(b Amount) Amount {
	var r Amount
	r.v.Add(&a.v, &b.v)
	return r
}

// Sub returns a-b and false when b > a (amounts are never negative).
func (a Amount) Sub(b Amount) (Amount, bool) {
	if a.v.Cmp(&b.v) < 0 {
		return Amount{}, false
	}
	var r Amount
	r.v.Sub(&a.v, &b.v)
	return r, true
}

// MarshalJSON writes the amount as a JSON string of digits.
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(`"` + a.v.String() + `"`), nil
}

// Value writes the amount to PostgreSQL NUMERIC as its decimal text.
func (a Amount) Value() (driver.Value, error) { return a.v.String(), nil }

// Scan reads a NUMERIC(…, 0) column. A fractional or negative value is an error:
// the schema never stores one.
func (a *Amount) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("money: cannot scan %T", src)
	}
	parsed, err := parse(s)
	if err != nil {
		return fmt.Errorf("money: column value %q: %w", s, err)
	}
	a.v.Set(&parsed.v)
	return nil
}

// UnmarshalJSON reads a JSON string of digits (zero allowed, as in balances).
func (a *Amount) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return &AmountError{Input: string(b), Reason: "must be a JSON string of decimal digits"}
	}
	parsed, err := parse(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	a.v.Set(&parsed.v)
	return nil
}
