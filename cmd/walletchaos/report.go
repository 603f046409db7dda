package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// summary is chaos/results/latest.json.
type summary struct {
	Seed          uint64         `json:"seed"`
	Profile       string         `json:"profile"`
	StartedAt     time.Time      `json:"started_at"`
	Operations    map[string]int `json:"operations"` // "<op> <outcome>" -> count
	Faults        []faultJSON    `json:"faults"`
	Unknown       int            `json:"unknown_settled"`
	QuiescenceS   float64        `json:"quiescence_s"`
	LongestTransf string         `json:"longest_transfer"`
	Checks        []check        `json:"checks"`
	Passed        bool           `json:"passed"`
}

type faultJSON struct {
	Kind   string  `json:"kind"`
	Target string  `json:"target"`
	AtS    float64 `json:"at_s"`
	ForS   float64 `json:"for_s"`
	Error  string  `json:"error,omitempty"`
}

func outcomeOf(c *call) string {
	switch {
	case c.status == 0:
		return "no answer"
	case c.status >= 200 && c.status < 300:
		return "ok"
	case c.status >= 500:
		return fmt.Sprintf("%d", c.status)
	default:
		return "refused " + c.code
	}
}

func (w *workload) summarise(seed uint64, p profile, faults []fault, unknown int, quiet time.Duration, longest string, checks []check) summary {
	s := summary{Seed: seed, Profile: p.name, StartedAt: w.t0.UTC(), Operations: map[string]int{}, Unknown: unknown,
		QuiescenceS: math.Round(quiet.Seconds()*10) / 10, LongestTransf: longest, Checks: checks, Passed: true}
	for _, c := range w.allCalls() {
		s.Operations[c.op+" "+outcomeOf(c)]++
	}
	for _, f := range faults {
		s.Faults = append(s.Faults, faultJSON{Kind: f.kind, Target: f.target, AtS: f.at.Seconds(), ForS: f.lasted.Seconds(), Error: f.err})
	}
	for _, c := range checks {
		s.Passed = s.Passed && c.Passed
	}
	return s
}

func printSummary(out io.Writer, s summary) {
	fmt.Fprintf(out, "\nwalletchaos: profile %s, seed %d (replay: --seed %d --profile %s)\n\n", s.Profile, s.Seed, s.Seed, s.Profile)
	fmt.Fprintf(out, "%-40s %8s\n", "operation", "count")
	keys := make([]string, 0, len(s.Operations))
	for k := range s.Operations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "%-40s %8d\n", k, s.Operations[k])
	}
	byKind := map[string]int{}
	for _, f := range s.Faults {
		byKind[f.Kind]++
	}
	fmt.Fprintf(out, "\nfaults:")
	for _, k := range []string{"kill9", "freeze", "broker", "pgcrash", "pglink", "regionlink", "expiry", "poison"} {
		fmt.Fprintf(out, " %s %d", k, byKind[k])
	}
	fmt.Fprintf(out, "\nunknown outcomes settled by retrying their keys: %d\n", s.Unknown)
	fmt.Fprintf(out, "quiescence after the last fault: %.1f s; longest transfer: %s\n\n", s.QuiescenceS, s.LongestTransf)
	for _, c := range s.Checks {
		mark := "PASS"
		if !c.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(out, "%s  %-38s %s\n", mark, c.Name, c.Detail)
	}
}

func writeResults(dir string, s summary, w *workload) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "latest.svg"), []byte(timeline(s, w)), 0o644)
}

// timeline draws requests per second by outcome, with the faults marked.
func timeline(s summary, w *workload) string {
	const width, height = 1100, 420
	x0, y0, pw, ph := 60.0, 40.0, 1000.0, 300.0
	type bucket struct{ ok, refused, unknown, e500 int }
	var buckets []bucket
	for _, c := range w.allCalls() {
		i := int(c.start.Seconds())
		for len(buckets) <= i {
			buckets = append(buckets, bucket{})
		}
		switch o := outcomeOf(c); {
		case o == "ok":
			buckets[i].ok++
		case o == "500":
			buckets[i].e500++
		case strings.HasPrefix(o, "refused"):
			buckets[i].refused++
		default:
			buckets[i].unknown++
		}
	}
	maxN := 1
	for _, b := range buckets {
		maxN = max(maxN, b.ok+b.refused+b.unknown+b.e500)
	}
	secs := max(1, len(buckets))
	px := func(t float64) float64 { return x0 + t/float64(secs)*pw }
	py := func(n int) float64 { return y0 + ph - float64(n)/float64(maxN)*ph }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/><text x="20" y="24" font-size="16">walletchaos %s, seed %d: requests per second by outcome, faults shaded</text>`+"\n", s.Profile, s.Seed)
	for i, f := range s.Faults {
		x, wd := px(f.AtS), math.Max(2, px(f.AtS+math.Max(f.ForS, 0.5))-px(f.AtS))
		fmt.Fprintf(&sb, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#f4b6b6" opacity="0.5"/>`, x, y0, wd, ph)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" font-size="10" transform="rotate(-90 %.1f %.0f)">%s %s</text>`+"\n", x+10, y0+ph-4-float64(i%2)*0, x+10, y0+ph-4, f.Kind, f.Target)
	}
	series := []struct {
		name  string
		color string
		get   func(bucket) int
	}{
		{"ok", "#2ca02c", func(b bucket) int { return b.ok }},
		{"refused (4xx)", "#1f77b4", func(b bucket) int { return b.refused }},
		{"unknown (no answer, 503)", "#ff7f0e", func(b bucket) int { return b.unknown }},
		{"500", "#d62728", func(b bucket) int { return b.e500 }},
	}
	for si, se := range series {
		var pts []string
		for i, b := range buckets {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(i)+0.5), py(se.get(b))))
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", se.color, strings.Join(pts, " "))
		fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			x0+float64(si)*220, y0+ph+30, se.color, x0+float64(si)*220+16, y0+ph+41, se.name)
	}
	fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`, x0, y0+ph, x0+pw, y0+ph)
	for t := 0; t <= secs; t += max(10, secs/10/10*10) {
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" text-anchor="middle">%ds</text>`, px(float64(t)), y0+ph+15, t)
	}
	fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" text-anchor="end">%d/s</text>`+"\n", x0-4, y0+8, maxN)
	return sb.String() + "</svg>\n"
}
