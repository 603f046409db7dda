package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// results is bench/results/latest.json.
type results struct {
	StartedAt time.Time                 `json:"started_at"`
	Machine   machine                   `json:"machine"`
	Config    runConfig                 `json:"config"`
	Baselines baselines                 `json:"baselines"`
	Workloads map[string]workloadResult `json:"workloads"`
	Ratios    map[string]float64        `json:"ratios"`
	Notes     []string                  `json:"notes,omitempty"`
}

type machine struct {
	Hostname   string `json:"hostname"`
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemoryGiB  int    `json:"memory_gib"`
	OS         string `json:"os"`
	GoVersion  string `json:"go_version"`
	PostgreSQL string `json:"postgresql"`
}

type runConfig struct {
	Clients      int     `json:"clients"`
	DurationS    float64 `json:"duration_s"`
	WarmupS      float64 `json:"warmup_s"`
	Rate         float64 `json:"open_loop_rate"`
	LargeHistory int     `json:"large_history_entries"`
	StackStarted bool    `json:"stack_started_by_bench"`
}

// workloadResult is one workload's line in latest.json.
type workloadResult struct {
	What       string         `json:"what"`
	OpsPerS    float64        `json:"ops_per_s"`
	P50Ms      float64        `json:"p50_ms"`
	P90Ms      float64        `json:"p90_ms"`
	P99Ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Requests   int            `json:"requests"`
	// Throttled counts requests the wallet refused with back-pressure (503
	// transfers_backlogged): neither successes nor errors.
	Throttled int `json:"throttled,omitempty"`
	Clients   int `json:"clients"`
	// AcceptedPerS and DrainS are set for asynchronous transfers: how fast the API
	// accepted them, and how long after the run the last one became final.
	AcceptedPerS *float64 `json:"accepted_per_s,omitempty"`
	DrainS       *float64 `json:"drain_s,omitempty"`
	// LatencyCurveMs is the latency at each of Percentiles, for charts.
	LatencyCurveMs []float64 `json:"latency_curve_ms"`
	Percentiles    []float64 `json:"percentiles"`
}

func (r *workloadResult) fill(s summary, opsPerS float64) {
	r.OpsPerS = round(opsPerS, 1)
	r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs = round(s.p50, 3), round(s.p90, 3), round(s.p99, 3), round(s.maxMs, 3)
	for _, v := range s.curve {
		r.LatencyCurveMs = append(r.LatencyCurveMs, round(v, 3))
	}
	r.Percentiles = curvePercentiles
}

func (r workloadResult) summary() string {
	s := fmt.Sprintf("%9.1f ops/s  p50 %8.2f ms  p99 %8.2f ms  errors %d", r.OpsPerS, r.P50Ms, r.P99Ms, r.Errors)
	if r.AcceptedPerS != nil {
		s += fmt.Sprintf("  (accepted %.0f/s, drained %.1f s after the run)", *r.AcceptedPerS, *r.DrainS)
	}
	return s
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// computeRatios names every ratio the issue tracks. A ratio whose workload did not
// run, or whose denominator is zero, is left out; a zero numerator is a measurement
// (no transfer completed within the run) and is kept.
func computeRatios(res *results) map[string]float64 {
	out := map[string]float64{}
	w := res.Workloads
	put := func(name, workload string, num func(workloadResult) float64, den float64) {
		r, ran := w[workload]
		if ran && den > 0 {
			out[name] = round(num(r)/den, 3)
		}
	}
	ops := func(r workloadResult) float64 { return r.OpsPerS }
	p50 := func(r workloadResult) float64 { return r.P50Ms }
	tps := res.Baselines.PgbenchTPS
	put("deposit_vs_pgbench", "deposit", ops, tps)
	put("withdrawal_vs_pgbench", "withdrawal", ops, tps)
	put("same_shard_vs_pgbench", "transfer_same_shard", ops, tps)
	put("cross_shard_vs_pgbench", "transfer_cross_shard", ops, tps)
	put("cross_region_vs_pgbench", "transfer_cross_region", ops, tps)
	put("cross_shard_p50_vs_kafka_floor", "transfer_cross_shard_1client", p50, res.Baselines.KafkaRoundTripP50Ms)
	put("balance_large_vs_small", "balance_large", p50, w["balance_small"].P50Ms)
	put("hot_account_vs_deposit", "hot_account", ops, w["deposit"].OpsPerS)
	put("hot_account_vs_hot_row", "hot_account", ops, res.Baselines.HotRowTPS)
	put("replay_vs_deposit", "idempotent_replay", ops, w["deposit"].OpsPerS)
	put("batch_deposit_vs_deposit", "batch_deposit", ops, w["deposit"].OpsPerS)
	return out
}

// ratioTargets are the targets, printed next to each ratio (≥ unless marked).
var ratioTargets = map[string]string{
	"deposit_vs_pgbench":             ">= 1.0",
	"same_shard_vs_pgbench":          ">= 0.5",
	"cross_shard_vs_pgbench":         ">= 0.3",
	"cross_region_vs_pgbench":        ">= 0.3",
	"cross_shard_p50_vs_kafka_floor": "<= 1.5",
	"balance_large_vs_small":         "<= 1.2",
	"hot_account_vs_deposit":         ">= 1.0",
	"hot_account_vs_hot_row":         ">= 0.3",
	"batch_deposit_vs_deposit":       ">= 3.0",
}

func printTable(w io.Writer, res *results) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "\nwalletbench %s  (%d clients, %gs per workload, %d CPUs: %s)\n\n",
		res.StartedAt.Format(time.RFC3339), res.Config.Clients, res.Config.DurationS, res.Machine.CPUs, res.Machine.CPUModel)
	fmt.Fprintf(bw, "baselines: pgbench TPC-B %.0f tps | hot-row UPDATE %.0f/s | Kafka round trip p50 %.2f ms, p99 %.2f ms\n\n",
		res.Baselines.PgbenchTPS, res.Baselines.HotRowTPS, res.Baselines.KafkaRoundTripP50Ms, res.Baselines.KafkaRoundTripP99Ms)
	fmt.Fprintf(bw, "%-30s %10s %9s %9s %9s %7s\n", "workload", "ops/s", "p50 ms", "p99 ms", "max ms", "errors")
	for _, name := range workloadNames() {
		r, ok := res.Workloads[name]
		if !ok {
			continue
		}
		fmt.Fprintf(bw, "%-30s %10.1f %9.2f %9.2f %9.2f %7d\n", name, r.OpsPerS, r.P50Ms, r.P99Ms, r.MaxMs, r.Errors)
		if r.AcceptedPerS != nil {
			fmt.Fprintf(bw, "%-30s accepted %.0f/s, last completed %.1f s after the run\n", "", *r.AcceptedPerS, *r.DrainS)
		}
		if r.Throttled > 0 {
			fmt.Fprintf(bw, "%-30s %d requests pushed back (transfers_backlogged)\n", "", r.Throttled)
		}
		for kind, n := range r.ErrorKinds {
			fmt.Fprintf(bw, "%-30s   %d × %s\n", "", n, kind)
		}
	}
	fmt.Fprintf(bw, "\n%-32s %8s %8s\n", "ratio", "value", "target")
	names := make([]string, 0, len(res.Ratios))
	for name := range res.Ratios {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(bw, "%-32s %8.3f %8s\n", name, res.Ratios[name], ratioTargets[name])
	}
	for _, n := range res.Notes {
		fmt.Fprintf(bw, "\nnote: %s\n", n)
	}
}

func writeResults(dir string, res *results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "latest.svg"), []byte(chart(res)), 0o644)
}

// chart draws throughput bars (with the baselines as reference lines) and latency
// curves by percentile, as one SVG with no dependencies.
func chart(res *results) string {
	const width, height, barH = 1100, 760, 22
	var names []string
	for _, n := range workloadNames() {
		if _, ok := res.Workloads[n]; ok {
			names = append(names, n)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&sb, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&sb, `<text x="20" y="24" font-size="16">walletbench %s: %d clients, %gs per workload, %d CPUs</text>`+"\n",
		res.StartedAt.Format("2006-01-02 15:04"), res.Config.Clients, res.Config.DurationS, res.Machine.CPUs)

	// Throughput, with pgbench and the hot row as vertical reference lines.
	x0, y0, plotW := 230.0, 50.0, 820.0
	maxOps := math.Max(res.Baselines.PgbenchTPS, res.Baselines.HotRowTPS)
	for _, n := range names {
		maxOps = math.Max(maxOps, res.Workloads[n].OpsPerS)
	}
	if maxOps == 0 {
		maxOps = 1
	}
	maxOps *= 1.12 // room for the labels of the longest bar and reference line
	fmt.Fprintf(&sb, `<text x="20" y="%.0f" font-weight="bold">throughput (ops/s; async transfers: completed/s)</text>`+"\n", y0)
	for i, n := range names {
		y := y0 + 12 + float64(i)*(barH+4)
		wv := res.Workloads[n].OpsPerS / maxOps * plotW
		fmt.Fprintf(&sb, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, x0-6, y+15, n)
		fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="%.1f" height="%d" fill="%s"/>`, x0, y, wv, barH, color(i))
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f">%.0f</text>`+"\n", x0+wv+4, y+15, res.Workloads[n].OpsPerS)
	}
	barsEnd := y0 + 12 + float64(len(names))*(barH+4)
	for _, ref := range []struct {
		label string
		v     float64
	}{{"pgbench TPC-B", res.Baselines.PgbenchTPS}, {"hot-row UPDATE", res.Baselines.HotRowTPS}} {
		x := x0 + ref.v/maxOps*plotW
		fmt.Fprintf(&sb, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="black" stroke-dasharray="4 3"/>`, x, y0+8, x, barsEnd)
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" text-anchor="middle">%s %.0f</text>`+"\n", x, barsEnd+14, html.EscapeString(ref.label), ref.v)
	}

	// Latency by percentile, log scale.
	ly0, lh := barsEnd+50, float64(height)-barsEnd-110
	fmt.Fprintf(&sb, `<text x="20" y="%.0f" font-weight="bold">latency by percentile (ms, log scale; async transfers: until completed)</text>`+"\n", ly0)
	minMs, maxMs := math.Inf(1), 0.0
	for _, n := range names {
		for _, v := range res.Workloads[n].LatencyCurveMs {
			if v > 0 {
				minMs, maxMs = math.Min(minMs, v), math.Max(maxMs, v)
			}
		}
	}
	if maxMs == 0 {
		return sb.String() + "</svg>\n"
	}
	lo, hi := math.Floor(math.Log10(minMs)), math.Ceil(math.Log10(maxMs))
	if hi == lo {
		hi++
	}
	px0, pw := 80.0, 700.0
	py := func(v float64) float64 { return ly0 + 10 + lh - (math.Log10(math.Max(v, minMs))-lo)/(hi-lo)*lh }
	pxAt := func(i int) float64 { return px0 + float64(i)/float64(len(curvePercentiles)-1)*pw }
	for d := lo; d <= hi; d++ {
		y := py(math.Pow(10, d))
		fmt.Fprintf(&sb, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g</text>`+"\n", px0, y, px0+pw, y, px0-6, y+4, math.Pow(10, d))
	}
	for i, p := range curvePercentiles {
		fmt.Fprintf(&sb, `<text x="%.1f" y="%.0f" text-anchor="middle">p%g</text>`, pxAt(i), ly0+lh+30, p)
	}
	for i, n := range names {
		curve := res.Workloads[n].LatencyCurveMs
		if len(curve) != len(curvePercentiles) {
			continue
		}
		var pts []string
		for j, v := range curve {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", pxAt(j), py(v)))
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color(i), strings.Join(pts, " "))
		fmt.Fprintf(&sb, `<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			px0+pw+30, ly0+10+float64(i)*18, color(i), px0+pw+48, ly0+21+float64(i)*18, n)
	}
	return sb.String() + "</svg>\n"
}

func color(i int) string {
	palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	return palette[i%len(palette)]
}

func describeMachine(ctx context.Context, s *stack) machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	m.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = int(math.Round(float64(kb) / (1 << 20)))
		}
	}
	if conn, err := pgx.Connect(ctx, s.pgURL); err == nil {
		_ = conn.QueryRow(ctx, `SHOW server_version`).Scan(&m.PostgreSQL)
		conn.Close(ctx)
	}
	return m
}

// withDatabase returns the server URL with its database replaced by db.
func withDatabase(serverURL, db string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Path = "/" + db
	return u.String()
}
