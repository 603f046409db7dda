// Package e2e tests the wallet as a gateway sees it: real `wallet` processes for
// regions eu and us, each with two fresh PostgreSQL shards, a real Kafka broker and
// per-run topic names, spoken to over HTTP.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"example.com/wallet/api/apitest"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/pgdb/pgtest"
)

// devToken is the development gateway token of regions/*/wallet.yaml.
const devToken = "dev-token"

var walletBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wallet-e2e-")
	if err != nil {
		panic(err)
	}
	walletBin = filepath.Join(dir, "wallet")
	build := exec.Command("go", "build", "-o", walletBin, "./cmd/wallet")
	build.Dir = repoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the wallet binary failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func brokers(t testing.TB) string {
	t.Helper()
	b := os.Getenv("KAFKA_BROKERS")
	if b == "" {
		t.Fatal("KAFKA_BROKERS is not set: run the tests with `make test`")
	}
	return b
}

// Region is one running (or stopped) wallet process.
type Region struct {
	Name     string
	URL      string
	AdminURL string

	// ShardDSN holds each shard's database URL, for tests that look behind the API.
	ShardDSN map[string]string

	t       testing.TB
	env     []string
	logPath string
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Stack is a two-region wallet.
type Stack struct {
	EU, US      *Region
	TopicPrefix string
}

// Region returns the stack's region by name.
func (s *Stack) Region(name string) *Region {
	if name == "eu" {
		return s.EU
	}
	return s.US
}

// e2ePairSecret is the secret regions eu and us share in the e2e suite.
const e2ePairSecret = "e2e-eu-us-pair-secret-for-the-e2e-suite"

// StartStack starts regions eu and us on free loopback ports against fresh shard
// databases and fresh topic names, and waits until both are ready. Everything is torn
// down when the test ends. extraEnv reaches both regions, except entries prefixed
// with a region's name and a colon ("us:WALLET_CURRENCIES__DEFAULT=USD"), which reach
// that region alone.
func StartStack(t testing.TB, extraEnv ...string) *Stack {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "e2e" + hex.EncodeToString(b[:])
	euPort, usPort := freePort(t), freePort(t)
	s := &Stack{TopicPrefix: prefix}
	t.Cleanup(func() {
		// Registered before the regions' own cleanups, so it runs after they stopped.
		_ = kafkabus.DeleteTopics(context.Background(), []string{brokers(t)},
			prefix+".eu.tcc", prefix+".eu.dlq", prefix+".eu.events", prefix+".us.tcc", prefix+".us.dlq", prefix+".us.events")
	})
	s.EU = newRegion(t, "eu", euPort, usPort, prefix, extraEnv)
	s.US = newRegion(t, "us", usPort, euPort, prefix, extraEnv)
	s.EU.Start()
	s.US.Start()
	s.EU.WaitReady()
	s.US.WaitReady()
	return s
}

func newRegion(t testing.TB, name string, port, peerPort int, prefix string, extraEnv []string) *Region {
	peer := map[string]string{"eu": "US", "us": "EU"}[name]
	r := &Region{
		Name:     name,
		URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
		AdminURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		t:        t,
		logPath:  filepath.Join(t.TempDir(), name+".log"),
	}
	r.env = append(os.Environ(),
		"WALLET_HTTP__ADDR="+strings.TrimPrefix(r.URL, "http://"),
		"WALLET_HTTP__ADMIN_ADDR="+strings.TrimPrefix(r.AdminURL, "http://"),
		"WALLET_KAFKA__BROKERS="+brokers(t),
		"WALLET_KAFKA__TOPIC_PREFIX="+prefix,
		fmt.Sprintf("WALLET_PEERS__%s__URL=http://127.0.0.1:%d", peer, peerPort),
		"WALLET_AUTH__REGION_SECRET=e2e-"+name+"-region-secret-for-the-e2e-suite",
		"WALLET_AUTH__LEDGER_SEAL_SECRET=e2e-"+name+"-ledger-seal-secret-for-the-e2e-suite",
		fmt.Sprintf("WALLET_PEERS__%s__SECRET=%s", peer, e2ePairSecret),
		"WALLET_LOG__LEVEL=debug",
	)
	r.ShardDSN = map[string]string{}
	for _, n := range []string{"0", "1"} {
		dsn := pgtest.NewDatabase(t)
		r.ShardDSN[name+n] = dsn
		// The regions connect as the application role, as in production: every e2e
		// test also proves the server needs no more than pgdb.ApplicationPrivileges.
		r.env = append(r.env, fmt.Sprintf("WALLET_SHARDS__%s%s__DSN=%s", strings.ToUpper(name), n, pgtest.AppDSN(t, dsn)),
			fmt.Sprintf("WALLET_SHARDS__%s%s__OWNER_DSN=%s", strings.ToUpper(name), n, dsn))
	}
	for _, kv := range extraEnv {
		region, scoped, ok := strings.Cut(kv, ":")
		switch {
		case !ok || strings.Contains(region, "="):
			r.env = append(r.env, kv)
		case region == name:
			r.env = append(r.env, scoped)
		}
	}
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			r.dumpLog()
		}
	})
	return r
}

// Start launches the process (again, after Kill9 or Stop) on the same ports and
// databases.
func (r *Region) Start() {
	r.t.Helper()
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(walletBin, "serve", "--region", r.Name, "--regions-dir", filepath.Join(repoRoot(), "regions"))
	cmd.Env = r.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()
}

// WaitReady polls /readyz until it answers 200, failing the test after 30 s or if the
// process exits.
func (r *Region) WaitReady() {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			r.dumpLog()
			r.t.Fatalf("region %s exited before becoming ready", r.Name)
		default:
		}
		resp, err := http.Get(r.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.dumpLog()
	r.t.Fatalf("region %s not ready after 30 s", r.Name)
}

// Kill9 ends the process abruptly, as a crash would.
func (r *Region) Kill9() {
	r.t.Helper()
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Stop sends SIGTERM and waits for a graceful exit (SIGKILL after 20 s).
func (r *Region) Stop() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

func (r *Region) dumpLog() {
	f, err := os.Open(r.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		// Request lines drown the protocol's own; the test's assertions cover requests.
		if !strings.Contains(sc.Text(), `"msg":"http request"`) {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	r.t.Logf("--- last lines of region %s's log ---\n%s", r.Name, strings.Join(lines, "\n"))
}

// freePort picks a port below the kernel's ephemeral range (32768 and up here), at
// random, that is free now. Ports the kernel hands out for :0 are the same ones it
// gives outgoing connections, so one closed and passed to a process can be taken by a
// connection before the process binds it; ports outside that range are not.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 20000 + mathrand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port found")
	return 0
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %d %s: %v", r.Status, r.Body, err)
	}
}

// Code returns the problem code of an error body ("" when there is none).
func (r Response) Code() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
}

// Call is one HTTP request to a region.
type Call struct {
	Method, Path string
	Body         any // string bodies are sent as they are; others are JSON-encoded
	Headers      map[string]string
	Token        string // default devToken; "-" sends none
	// OffSpec marks a request to a route the OpenAPI document does not describe; every
	// other answer is validated against the document.
	OffSpec bool
}

var (
	specOnce      sync.Once
	specValidator *apitest.Validator
	specErr       error
)

// Do sends c to the region and reads the whole answer.
func (r *Region) Do(t testing.TB, c Call) Response {
	t.Helper()
	var body io.Reader
	switch b := c.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, r.URL+c.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch c.Token {
	case "":
		req.Header.Set("Authorization", "Bearer "+devToken)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OffSpec {
		specOnce.Do(func() { specValidator, specErr = apitest.NewValidator() })
		if specErr != nil {
			t.Fatal(specErr)
		}
		if err := specValidator.Check(req, resp, b); err != nil {
			t.Errorf("%s %s answered %d %s, which the OpenAPI document does not allow: %v", c.Method, c.Path, resp.StatusCode, b, err)
		}
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// CLI runs a wallet command against this region's configuration and returns its
// exit code and output.
func (r *Region) CLI(t testing.TB, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, walletBin, append(args, "--region", r.Name, "--regions-dir", filepath.Join(repoRoot(), "regions"))...)
	cmd.Env = r.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode(), string(out)
		}
		t.Fatalf("wallet %v: %v", args, err)
	}
	return 0, string(out)
}

// Metric sums the samples of a Prometheus metric whose labels include every given
// label="value" pair, from the region's admin endpoint (0 when absent).
func (r *Region) Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(r.AdminURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", r.Name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		matches := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				matches = false
			}
		}
		if !matches {
			continue
		}
		var v float64
		fields := strings.Fields(line)
		if _, err := fmt.Sscan(fields[len(fields)-1], &v); err == nil {
			sum += v
		}
	}
	return sum
}

// eventually polls cond every 50 ms until it holds, failing the test with what after
// the bound.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// VerifyLedgers runs `wallet ledger verify` on every shard of both regions and fails
// the test on any drift, and unless every chain's seals were checked; then it audits
// both regions together (Audit).
func (s *Stack) VerifyLedgers(t testing.TB) {
	t.Helper()
	for _, r := range []*Region{s.EU, s.US} {
		if code, out := r.CLI(t, "ledger", "verify"); code != 0 || strings.Contains(out, "DRIFT") || strings.Contains(out, "not checked") {
			t.Fatalf("ledger verify of %s = exit %d:\n%s", r.Name, code, out)
		}
	}
	s.Audit(t)
}

// allZero reports whether money is conserved to the unit in every currency.
func allZero(conservation []struct{ Unexplained string }) bool {
	for _, c := range conservation {
		if c.Unexplained != "0" {
			return false
		}
	}
	return true
}

// Audit runs `wallet audit --json` over both regions at once, as an operator would
// (each region's file, one environment with every shard's DSN), and fails the test
// unless it exits 0 with a clean report: conservation exact across all four shards,
// every transfer reconciled between its sender and its receiver, every hold owned.
func (s *Stack) Audit(t testing.TB) {
	t.Helper()
	if problem := s.audit(); problem != "" {
		t.Fatal(problem)
	}
}

// audit is Audit's check, safe to call from any goroutine: it returns what was wrong,
// or "" for a clean audit.
func (s *Stack) audit() string {
	env := os.Environ()
	for _, r := range []*Region{s.EU, s.US} {
		for _, kv := range r.env {
			if strings.HasPrefix(kv, "WALLET_SHARDS__") && strings.Contains(kv, "__DSN=") && !strings.Contains(kv, "__OWNER_DSN=") {
				env = append(env, kv)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	regions := filepath.Join(repoRoot(), "regions")
	cmd := exec.CommandContext(ctx, walletBin, "audit", "--json",
		"--config", filepath.Join(regions, "eu", "wallet.yaml"), "--config", filepath.Join(regions, "us", "wallet.yaml"))
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var report struct {
		Clean         bool                           `json:"clean"`
		Regions       []string                       `json:"regions"`
		Shards        []json.RawMessage              `json:"shards"`
		Conservation  []struct{ Unexplained string } `json:"conservation"`
		Discrepancies []json.RawMessage              `json:"discrepancies"`
	}
	if jerr := json.Unmarshal(stdout.Bytes(), &report); err != nil || jerr != nil || !report.Clean || len(report.Discrepancies) != 0 ||
		len(report.Shards) != 4 || strings.Join(report.Regions, ",") != "eu,us" || !allZero(report.Conservation) {
		return fmt.Sprintf("wallet audit of eu and us = %v (json %v):\n%s\n%s", err, jerr, stdout.String(), stderr.String())
	}
	return ""
}
