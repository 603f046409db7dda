package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/audit"
	"example.com/wallet/platform/pgdb/pgtest"
)

// twoRegions writes the files of regions eu and us (two shards each, fresh databases)
// and returns the audit's flags and one environment holding the DSNs of all four
// shards and both regions' secrets, as an operator's shell would.
func twoRegions(t *testing.T) (flags, env []string, dsn map[string]string) {
	t.Helper()
	dir := t.TempDir()
	dsn = map[string]string{}
	for _, r := range []struct{ name, peer string }{{"eu", "us"}, {"us", "eu"}} {
		cfg := `
region: ` + r.name + `
profile: local
shards:
  ` + r.name + `0: {buckets: "0-127"}
  ` + r.name + `1: {buckets: "128-255"}
kafka: {brokers: ["127.0.0.1:1"]}
peers:
  ` + r.peer + `: {url: "http://127.0.0.1:1"}
auth:
  gateway_tokens: {dev: c91cbbedf8c712e8e2b7517ddeca8fe4fde839ebd8339e0b2001363002b37712}
currencies: {default: EUR}
`
		path := filepath.Join(dir, r.name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		flags = append(flags, "--config", path)
		for _, n := range []string{"0", "1"} {
			name := r.name + n
			dsn[name] = pgtest.NewDatabase(t)
			env = append(env, "WALLET_SHARDS__"+strings.ToUpper(name)+"__DSN="+dsn[name])
		}
		env = append(env, "WALLET_PEERS__"+strings.ToUpper(r.peer)+"__SECRET="+r.name+"-pair-secret-for-the-cmd-tests")
	}
	return flags, env, dsn
}

func TestAuditOfTwoRegions(t *testing.T) {
	t.Parallel()
	flags, env, dsn := twoRegions(t)

	code, stdout, stderr := runWallet(t, env, append([]string{"audit", "--json"}, flags...)...)
	var rep audit.Report
	if err := json.Unmarshal([]byte(stdout), &rep); code != 0 || err != nil || !rep.Clean || len(rep.Shards) != 4 ||
		strings.Join(rep.Regions, ",") != "eu,us" || len(rep.Conservation) != 0 {
		t.Fatalf("audit of empty regions = exit %d, %v, %q, %q", code, err, stdout, stderr)
	}
	code, stdout, _ = runWallet(t, env, append([]string{"audit"}, flags...)...)
	if code != 0 || !strings.Contains(stdout, "region us shard us1: 0 users") || !strings.Contains(stdout, "\naudit of eu, us: clean in ") {
		t.Fatalf("summary = exit %d, %q", code, stdout)
	}

	// A user whose snapshot holds money no entry gave: exit 1, named in both forms.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn["us1"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const user = "us_01JDX4ZZZZZZZZZZZZZZZZZZZZ"
	for _, sql := range []string{`INSERT INTO users (id, region) VALUES ($1, 'us')`, `INSERT INTO wallets (user_id, default_currency) VALUES ($1, 'EUR')`,
		`INSERT INTO balances (user_id, currency, balance) VALUES ($1, 'EUR', 5)`} {
		if _, err := conn.Exec(ctx, sql, user); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, _ = runWallet(t, env, append([]string{"audit"}, flags...)...)
	if code != 1 || !strings.Contains(stdout, "DISCREPANCY balance_drift region=us shard=us1 currency=EUR user="+user+": snapshot balance 5 EUR, entries sum to 0 EUR") ||
		!strings.Contains(stdout, "DISCREPANCY conservation currency=EUR: in EUR, balances 5") || !strings.Contains(stdout, "3 discrepancies") {
		t.Fatalf("audit of a changed balance = exit %d, %q", code, stdout)
	}
	code, stdout, _ = runWallet(t, env, append([]string{"audit", "--json"}, flags...)...)
	if err := json.Unmarshal([]byte(stdout), &rep); code != 1 || err != nil || rep.Clean || len(rep.Discrepancies) != 3 {
		t.Fatalf("json audit of a changed balance = exit %d, %v, %q", code, err, stdout)
	}
}

func TestAuditThatCannotTellExits2(t *testing.T) {
	t.Parallel()
	flags, env, _ := twoRegions(t)
	cases := map[string][]string{
		"no config":      {"audit"},
		"unknown flag":   append([]string{"audit", "--frobnicate"}, flags...),
		"bad duration":   append([]string{"audit", "--pending-older-than", "soon"}, flags...),
		"missing file":   {"audit", "--config", "/nonexistent/wallet.yaml"},
		"a region twice": append([]string{"audit", "--config", flags[1]}, flags...),
	}
	for name, args := range cases {
		if code, stdout, stderr := runWallet(t, env, args...); code != 2 || stdout != "" || !strings.HasPrefix(stderr, "wallet audit: ") {
			t.Errorf("%s: exit %d, %q, %q; want exit 2 and the reason on stderr", name, code, stdout, stderr)
		}
	}
	// A shard that does not answer.
	down := append([]string{}, env...)
	for i, kv := range down {
		if strings.HasPrefix(kv, "WALLET_SHARDS__US0__DSN=") {
			down[i] = "WALLET_SHARDS__US0__DSN=postgres://nobody:nothing@127.0.0.1:1/none?connect_timeout=1"
		}
	}
	code, stdout, stderr := runWallet(t, down, append([]string{"audit"}, flags...)...)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "region us shard us0") {
		t.Fatalf("unreachable shard = exit %d, %q, %q", code, stdout, stderr)
	}
}
