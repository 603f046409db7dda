// Package currency is the region's catalogue of units of account: every ISO 4217
// currency with minor units, and the assets an operator configures (loyalty points,
// a stablecoin, gold by the gram). Amounts everywhere in the wallet are integers in a
// unit's minor units; the exponent says how many of them make one major unit (2 for
// EUR: 1050 is 10.50 EUR; 0 for JPY; 3 for KWD).
//
// Nothing converts between units: the wallet keeps money in the unit it arrived in.
package currency

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Kinds of unit.
const (
	KindISO4217 = "iso4217" // a currency of the ISO 4217 list
	KindAsset   = "asset"   // a unit the operator configured
)

// MaxExponent bounds an asset's exponent: 10^18 minor units per major unit is finer
// than any unit in use, and keeps a major unit within the ledger's 78 digits.
const MaxExponent = 18

// Currency is one unit of account.
type Currency struct {
	Code     string // ISO 4217 code, or an asset's code: [A-Z][A-Z0-9]{2,11}
	Exponent int    // minor units per major unit, as a power of ten
	Name     string
	Kind     string // KindISO4217 or KindAsset
}

var codeRe = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,11}$`)

// ValidCode reports whether code has the form of a unit's code: an upper-case letter,
// then 2 to 11 upper-case letters or digits.
func ValidCode(code string) bool { return codeRe.MatchString(code) }

// Catalogue is the units a region knows and its default one. It is immutable.
type Catalogue struct {
	byCode map[string]Currency
	all    []Currency // by code
	dflt   Currency
}

// NewCatalogue builds a region's catalogue: the ISO 4217 list plus assets, with
// defaultCode (a code of either) as the region's default unit. An asset's code must be
// well formed and not an ISO 4217 code, and its exponent 0 to MaxExponent.
func NewCatalogue(defaultCode string, assets []Currency) (*Catalogue, error) {
	c := &Catalogue{byCode: make(map[string]Currency, len(iso4217)+len(assets))}
	for _, cur := range iso4217 {
		c.byCode[cur.Code] = cur
	}
	for _, a := range assets {
		if !ValidCode(a.Code) {
			return nil, fmt.Errorf("asset %q: a code is an upper-case letter then 2 to 11 upper-case letters or digits", a.Code)
		}
		if _, iso := c.byCode[a.Code]; iso {
			return nil, fmt.Errorf("asset %s: %s is an ISO 4217 currency already", a.Code, a.Code)
		}
		if a.Exponent < 0 || a.Exponent > MaxExponent {
			return nil, fmt.Errorf("asset %s: exponent must be 0 to %d", a.Code, MaxExponent)
		}
		if strings.TrimSpace(a.Name) == "" {
			a.Name = a.Code
		}
		a.Kind = KindAsset
		c.byCode[a.Code] = a
	}
	dflt, ok := c.byCode[defaultCode]
	if !ok {
		return nil, fmt.Errorf("default currency %q is neither an ISO 4217 currency with minor units nor a configured asset", defaultCode)
	}
	c.dflt = dflt
	for _, cur := range c.byCode {
		c.all = append(c.all, cur)
	}
	sort.Slice(c.all, func(i, j int) bool { return c.all[i].Code < c.all[j].Code })
	return c, nil
}

// Lookup returns the unit with code, if the region knows it.
func (c *Catalogue) Lookup(code string) (Currency, bool) {
	cur, ok := c.byCode[code]
	return cur, ok
}

// Default is the region's default unit: what a user created in the region holds, and
// what a request that names no currency means.
func (c *Catalogue) Default() Currency { return c.dflt }

// All lists every unit the region knows, by code.
func (c *Catalogue) All() []Currency { return c.all }
