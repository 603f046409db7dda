package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Schemathesis's budget in make test: examples per operation and per phase, and a seed
// so that a failure replays. A few hundred examples per operation (and other seeds)
// is the longer run to make after changing the document or a handler:
//
//	WALLET_SCHEMATHESIS_EXAMPLES=300 WALLET_SCHEMATHESIS_SEED=7 go test ./e2e/ -run TestSchemathesis
const (
	schemathesisExamples = "100"
	schemathesisSeed     = "1"
)

// TestSchemathesis runs schemathesis (scripts/schemathesis.sh installs the pinned
// version; WALLET_SCHEMATHESIS names it) against region eu of a fresh stack, with every
// check and every phase, the stateful one included: no answer may be a server error,
// no request the document calls malformed may be accepted, and no response may break
// the document. api/schemathesis.toml lists the refusals of well-formed requests that
// the document describes in words (an unknown region, a transfer to oneself, a
// cursor the API did not return, what depends on the balance or on an earlier key).
//
// It is not parallel: it runs alone, before the parallel tests (one of which stops the
// broker) start, so a 503 it sees is the wallet's own.
func TestSchemathesis(t *testing.T) {
	bin := os.Getenv("WALLET_SCHEMATHESIS")
	if bin == "" {
		t.Skip("WALLET_SCHEMATHESIS is not set: run `make test`, or export WALLET_SCHEMATHESIS=$(scripts/schemathesis.sh path)")
	}
	examples, seed := schemathesisExamples, schemathesisSeed
	if v := os.Getenv("WALLET_SCHEMATHESIS_EXAMPLES"); v != "" {
		examples = v
	}
	if v := os.Getenv("WALLET_SCHEMATHESIS_SEED"); v != "" {
		seed = v
	}
	// Per-user rate limits lifted: schemathesis sends many money-moving requests for one
	// user, and a 429 would only hide what the request would have done.
	s := StartStack(t, "WALLET_LIMITS__RATE_PER_SECOND=100000", "WALLET_LIMITS__RATE_BURST=100000")

	root := repoRoot()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--config-file", filepath.Join(root, "api", "schemathesis.toml"),
		"run", filepath.Join(root, "api", "openapi.yaml"),
		"--url", s.EU.URL,
		"--header", "Authorization: Bearer "+devToken,
		"--checks", "all",
		"--max-examples", examples,
		"--seed", seed,
		// One worker: the generator is not safe to share between threads (with four,
		// hypothesis failed inside Python's ast module), and one replays a seed exactly.
		"--workers", "1",
		"--no-color",
	)
	// Anything it writes stays out of the checkout.
	cmd.Dir = t.TempDir()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("schemathesis --max-examples %s --seed %s: %s, %s", examples, seed, time.Since(start).Round(time.Second), schemathesisSummary(out))
	if err != nil {
		t.Fatalf("schemathesis failed (%v); replay with WALLET_SCHEMATHESIS_SEED=%s:\n%s", err, seed, schemathesisFailures(out))
	}
}

// schemathesisSummary is schemathesis's closing line ("... passed ... in 41.2s").
func schemathesisSummary(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Trim(lines[len(lines)-1], "= ")
}

// schemathesisFailures is the part of schemathesis's output from its first FAILURES or ERRORS
// section on, at most 20,000 characters.
func schemathesisFailures(out []byte) string {
	s := string(out)
	for _, mark := range []string{"= FAILURES =", "= ERRORS ="} {
		if i := strings.Index(s, mark); i >= 0 {
			s = s[strings.LastIndex(s[:i], "\n")+1:]
			break
		}
	}
	if len(s) > 20000 {
		s = s[:20000] + fmt.Sprintf("\n... (%d more characters)", len(s)-20000)
	}
	return s
}
