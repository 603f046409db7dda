package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"example.com/wallet/platform/currency"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/money"
)

// The request shapes every module's edge shares: amounts, metadata, page limits and
// cursors. Each returns a 400 problem worded for the client.

// CodeInvalidAmount is the code of an amount that is missing, malformed or not
// positive.
const CodeInvalidAmount = "invalid_amount"

// AmountField turns the JSON "amount" (a string of decimal digits) into a positive
// amount, or a 400 invalid_amount problem.
func AmountField(s *string) (money.Amount, error) {
	if s == nil {
		return money.Amount{}, NewProblem(http.StatusBadRequest, CodeInvalidAmount, "amount: is required, as a string of decimal digits")
	}
	a, err := money.ParsePositive(*s)
	if err != nil {
		return money.Amount{}, NewProblem(http.StatusBadRequest, CodeInvalidAmount, "amount: %s", strings.TrimPrefix(err.Error(), "invalid amount: "))
	}
	return a, nil
}

// CodeUnknownCurrency is the code of a currency the region does not know: neither an
// ISO 4217 currency with minor units nor one of its configured assets.
const CodeUnknownCurrency = "unknown_currency"

// CurrencyField reads the JSON "currency": "" when absent (the user's default
// currency), else a code units knows, or a 422 unknown_currency problem.
func CurrencyField(units *currency.Catalogue, code *string) (string, error) {
	if code == nil {
		return "", nil
	}
	return knownCurrency(units, "currency", *code)
}

// CurrencyParam reads ?currency= as CurrencyField reads the JSON field: "" when
// absent; present but empty is unknown.
func CurrencyParam(r *http.Request, units *currency.Catalogue) (string, error) {
	q := r.URL.Query()
	if !q.Has("currency") {
		return "", nil
	}
	return knownCurrency(units, "currency", q.Get("currency"))
}

func knownCurrency(units *currency.Catalogue, name, code string) (string, error) {
	if _, ok := units.Lookup(code); !ok {
		if len(code) > 16 {
			code = code[:16] + "..." // a detail quotes the input, never all of it
		}
		return "", NewProblem(http.StatusUnprocessableEntity, CodeUnknownCurrency,
			"%s: %q is not a currency of this region (GET /v1/currencies lists them)", name, code)
	}
	return code, nil
}

// MetadataField checks the JSON "metadata" against metadata.Validate, or is a 400
// invalid_request problem naming the offending key.
func MetadataField(md map[string]string) error {
	if err := metadata.Validate(md); err != nil {
		return NewProblem(http.StatusBadRequest, CodeInvalidRequest, "%s", err.Error())
	}
	return nil
}

// Page sizes of every list.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// PageLimit reads ?limit= (1 to MaxPageLimit, DefaultPageLimit when absent; present but
// empty is not an integer).
func PageLimit(r *http.Request) (int, error) {
	q := r.URL.Query()
	if !q.Has("limit") {
		return DefaultPageLimit, nil
	}
	raw := q.Get("limit")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxPageLimit || strconv.Itoa(n) != raw {
		return 0, NewProblem(http.StatusBadRequest, CodeInvalidRequest, "limit: must be an integer from 1 to %d", MaxPageLimit)
	}
	return n, nil
}

// EncodeCursor makes the opaque cursor of a list of kind ("seq", "tr") continuing at
// position: base64url of "<kind>:<position>", so a cursor of one list is refused by
// another.
func EncodeCursor(kind, position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + position))
}

// CursorParam reads ?cursor= for a list of kind: the position EncodeCursor put in it,
// "" when the parameter is absent, or a 400 problem for anything this API did not
// return (present but empty included). valid judges the position.
func CursorParam(r *http.Request, kind string, valid func(position string) bool) (string, error) {
	q := r.URL.Query()
	if !q.Has("cursor") {
		return "", nil
	}
	c := q.Get("cursor")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	position, ok := strings.CutPrefix(string(raw), kind+":")
	if err != nil || !ok || !valid(position) || EncodeCursor(kind, position) != c {
		return "", NewProblem(http.StatusBadRequest, CodeInvalidRequest, "cursor: is not a cursor this API returned")
	}
	return position, nil
}

// TimeParam reads the query parameter name as an RFC 3339 date-time ("" absent gives
// the zero time), or is a 400 invalid_request problem. Lower-case 't' and 'z', which
// RFC 3339 allows, are accepted.
func TimeParam(r *http.Request, name string) (time.Time, error) {
	q := r.URL.Query()
	if !q.Has(name) {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(q.Get(name)))
	if err != nil || t.Year() < 1 || t.Year() > 9998 {
		return time.Time{}, NewProblem(http.StatusBadRequest, CodeInvalidRequest, "%s: must be an RFC 3339 date-time such as 2026-11-27T10:00:00Z", name)
	}
	return t.UTC(), nil
}

// OptionalTime is t as responses write times (RFC 3339 with nanoseconds), or "" for
// the zero time, so that a field tagged omitempty is left out.
func OptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}
