//go:build dashboard

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/kafkabus"
)

// TestDashboardUnderLoad is not part of the suite (the build tag dashboard keeps it
// out): it produces the data behind the dashboard picture in docs/operations.md.
// scripts/dashboard-png.sh runs it with -tags dashboard, WALLET_DASHBOARD_OUT naming a
// directory and WALLET_PROMETHEUS a prometheus binary. It runs regions eu and us under a mixed load for WALLET_DASHBOARD_LOAD (3m):
// deposits, withdrawals, reads, same-shard, cross-shard and cross-region transfers,
// refusals (insufficient funds, bad amounts), the first credits of each region lost
// (the sweep sends them again) and a few poison messages (dead letters), while a real
// Prometheus scrapes both every 2s, labelled namespace wallet-eu and wallet-us as the
// chart's ServiceMonitor would. Then it evaluates every query of the chart's dashboard
// with Prometheus over the run and writes them, with the panels' layout, to
// dashboard.json for the renderer.
func TestDashboardUnderLoad(t *testing.T) {
	out, promBin := os.Getenv("WALLET_DASHBOARD_OUT"), os.Getenv("WALLET_PROMETHEUS")
	if out == "" || promBin == "" {
		t.Fatal("WALLET_DASHBOARD_OUT and WALLET_PROMETHEUS are not set: run scripts/dashboard-png.sh")
	}
	load := 3 * time.Minute
	if d, err := time.ParseDuration(os.Getenv("WALLET_DASHBOARD_LOAD")); err == nil {
		load = d
	}
	s := StartStack(t, "WALLET_TESTING__RELAY_DROP__CREDIT=15")
	promURL := startPrometheus(t, promBin, s)

	// Users: ten per region, funded.
	users := map[string][]string{}
	for _, region := range []string{"eu", "us"} {
		for range 10 {
			users[region] = append(users[region], fund(t, s, region, "1000000"))
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), load)
	defer cancel()
	var wg sync.WaitGroup
	var keys sync.Mutex
	n := 0
	key := func() string {
		keys.Lock()
		defer keys.Unlock()
		n++
		return "load-" + strconv.Itoa(n)
	}
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				region := []string{"eu", "us"}[rng.IntN(2)]
				via := s.Region(region)
				from := users[region][rng.IntN(10)]
				other := []string{"eu", "us"}[rng.IntN(2)]
				to := users[other][rng.IntN(10)]
				amount := strconv.Itoa(1 + rng.IntN(500))
				switch p := rng.IntN(100); {
				case p < 20:
					move(t, via, from, "deposits", amount, key())
				case p < 30:
					move(t, via, from, "withdrawals", amount, key())
				case p < 50:
					getBalance(t, via, from)
				case p < 85:
					if from != to {
						send(t, via, from, to, amount, key())
					}
				case p < 93:
					// More than anyone holds: 422 insufficient_funds.
					if from != to {
						send(t, via, from, to, "999999999999", key())
					}
				default:
					// A malformed amount: 400 invalid_amount.
					move(t, via, from, "deposits", "1.5", key())
				}
				time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond)
			}
		})
	}
	// Half-way, a few poison messages on eu's topic: dead letters.
	time.Sleep(load / 2)
	w := kafkabus.NewWriter([]string{brokers(t)})
	for i := range 3 {
		if err := w.WriteMessages(context.Background(), kafka.Message{Topic: s.TopicPrefix + ".eu.tcc", Key: []byte(fmt.Sprint("poison-", i)), Value: []byte("not json")}); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Close()
	wg.Wait()
	loadEnd := time.Now()
	// Let the last transfers finish and be scraped.
	time.Sleep(15 * time.Second)
	end := time.Now()

	writeDashboardData(t, promURL, start, loadEnd, end, filepath.Join(out, "dashboard.json"))
	s.VerifyLedgers(t)
}

// startPrometheus runs Prometheus scraping both regions' admin listeners every 2s and
// returns its URL once it is ready.
func startPrometheus(t *testing.T, bin string, s *Stack) string {
	t.Helper()
	dir := t.TempDir()
	target := func(r *Region) string { return strings.TrimPrefix(r.AdminURL, "http://") }
	cfg := fmt.Sprintf(`global: {scrape_interval: 2s, evaluation_interval: 2s}
scrape_configs:
  - job_name: wallet
    static_configs:
      - targets: [%q]
        labels: {namespace: wallet-eu}
      - targets: [%q]
        labels: {namespace: wallet-us}
`, target(s.EU), target(s.US))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
	})
	promURL := "http://" + addr
	eventually(t, 60*time.Second, "prometheus ready", func() bool {
		resp, err := http.Get(promURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return promURL
}

// writeDashboardData evaluates every target of the chart's dashboard over [start, end]
// with Grafana's variables set as a viewer of both regions would have them, and writes
// the panels with their series, and when the load ended, to path.
func writeDashboardData(t *testing.T, promURL string, start, loadEnd, end time.Time, path string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "helm", "wallet", "dashboards", "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var board struct {
		Title  string           `json:"title"`
		Panels []map[string]any `json:"panels"`
	}
	if err := json.Unmarshal(raw, &board); err != nil {
		t.Fatal(err)
	}
	// $__rate_interval is at least four scrape intervals; the step draws one point
	// every 5s.
	vars := strings.NewReplacer("$__rate_interval", "20s", "$namespace", ".*")
	for _, p := range board.Panels {
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			target := tg.(map[string]any)
			q := url.Values{"query": {vars.Replace(target["expr"].(string))}, "start": {strconv.FormatInt(start.Unix(), 10)},
				"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {"5"}}
			resp, err := http.Get(promURL + "/api/v1/query_range?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var result struct {
				Status string          `json:"status"`
				Error  string          `json:"error"`
				Data   json.RawMessage `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&result)
			resp.Body.Close()
			if err != nil || result.Status != "success" {
				t.Fatalf("query %s: %v %s", target["expr"], err, result.Error)
			}
			target["data"] = result.Data
		}
	}
	b, err := json.MarshalIndent(map[string]any{"title": board.Title, "start": start.Unix(), "load_end": loadEnd.Unix(), "end": end.Unix(), "panels": board.Panels}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
