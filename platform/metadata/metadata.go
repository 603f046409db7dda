// Package metadata is the client metadata a deposit, a withdrawal or a transfer may
// carry: a flat object of short strings, stored with the ledger entry or the transfer,
// hashed into the ledger's chain and fingerprinted with the idempotency key. It owns
// the limits that keep a row small and the one canonical encoding that is stored,
// hashed and compared.
package metadata

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits: at most MaxKeys keys of 1 to 64 characters, values of at most MaxValue
// characters.
const (
	MaxKeys  = 16
	MaxValue = 256
)

var keyRe = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)

// Validate checks client metadata against the limits; the error names the offending
// key and is worded for the client.
func Validate(md map[string]string) error {
	if len(md) > MaxKeys {
		return fmt.Errorf("metadata: at most %d keys", MaxKeys)
	}
	for k, v := range md {
		if !keyRe.MatchString(k) {
			return fmt.Errorf("metadata: key %q must be 1 to 64 letters, digits, '_', '.' or '-'", k)
		}
		// Characters, as the API document's maxLength counts them: a limit in bytes
		// refused values of 256 accented letters that the document promises to accept.
		if utf8.RuneCountInString(v) > MaxValue {
			return fmt.Errorf("metadata.%s: at most %d characters", k, MaxValue)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f || r == utf8.RuneError }) {
			// PostgreSQL's jsonb refuses NUL outright; the others would reach gateways'
			// logs and screens as they are.
			return fmt.Errorf("metadata.%s: must not contain control characters or invalid UTF-8", k)
		}
	}
	return nil
}

// Canonical is the metadata's JSON with sorted keys (encoding/json sorts map keys), or
// nil when there is none: the one encoding that is stored, hashed and fingerprinted.
func Canonical(md map[string]string) []byte {
	if len(md) == 0 {
		return nil
	}
	b, _ := json.Marshal(md) // a map of strings always encodes
	return b
}

// Decode reads stored metadata back (Canonical's inverse); nil or empty is none.
func Decode(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var md map[string]string
	if err := json.Unmarshal(b, &md); err != nil {
		return nil, fmt.Errorf("metadata: stored value is not a string map: %w", err)
	}
	return md, nil
}
