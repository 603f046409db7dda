package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
)

func runWallet(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, environ, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestBadConfigExitsWithOneLine(t *testing.T) {
	cases := [][]string{
		{"serve", "--region", "zz", "--regions-dir", "../../regions"},
		{"migrate", "up", "--region", "eu", "--regions-dir", "../../regions"}, // no DSNs in the environment
	}
	for _, args := range cases {
		code, _, stderr := runWallet(t, nil, args...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "wallet: ") {
			t.Errorf("wallet %v = exit %d, stderr %q; want exit 1 and one line", args, code, stderr)
		}
	}
	if code, _, _ := runWallet(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command exit = %d, want 2", code)
	}
}

// region writes a two-shard region "eu" over the given databases and returns the
// flags and environment that select it.
func region(t *testing.T, dsn0, dsn1 string) ([]string, []string) {
	dir := t.TempDir()
	cfg := `
region: eu
http: {addr: "127.0.0.1:0", admin_addr: "127.0.0.1:0"}
shards:
  eu0: {buckets: "0-127"}
  eu1: {buckets: "128-255"}
kafka: {brokers: ["127.0.0.1:1"]}
auth:
  gateway_tokens: {dev: c91cbbedf8c712e8e2b7517ddeca8fe4fde839ebd8339e0b2001363002b37712}
currencies: {default: EUR}
`
	path := filepath.Join(dir, "wallet.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--config", path}, []string{"WALLET_SHARDS__EU0__DSN=" + dsn0, "WALLET_SHARDS__EU1__DSN=" + dsn1,
		"WALLET_AUTH__REGION_SECRET=eu-region-secret-for-the-cmd-tests",
		"WALLET_AUTH__LEDGER_SEAL_SECRET=eu-ledger-seal-secret-for-the-cmd-tests"}
}

func TestMigrateUpDownUpAndServeRefusesABehindShard(t *testing.T) {
	t.Parallel()
	dsn0, dsn1 := pgtest.NewDatabase(t), pgtest.NewDatabase(t) // both migrated
	flags, env := region(t, dsn0, dsn1)
	latest, err := pgdb.LatestVersion()
	if err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		action  string
		version uint
	}{{"down", 0}, {"up", latest}, {"version", latest}, {"down", 0}} {
		code, stdout, stderr := runWallet(t, env, append([]string{"migrate", step.action}, flags...)...)
		want := fmt.Sprintf("shard eu1: version %d of %d", step.version, latest)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("migrate %s = exit %d, %q %q; want %q", step.action, code, stdout, stderr, want)
		}
	}

	// Both shards are now empty: serve refuses and names the first shard behind.
	code, _, stderr := runWallet(t, env, append([]string{"serve"}, flags...)...)
	if code != 1 || !strings.Contains(stderr, "shard eu0: schema version 0") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("serve on unmigrated shards = exit %d, %q", code, stderr)
	}

	// Only eu1 behind: the message names eu1.
	if code, _, stderr := runWallet(t, env, append([]string{"migrate", "up"}, flags...)...); code != 0 {
		t.Fatal(stderr)
	}
	m, err := pgdb.NewMigrator(dsn1, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	code, _, stderr = runWallet(t, env, append([]string{"serve"}, flags...)...)
	if code != 1 || !strings.Contains(stderr, "shard eu1: schema version 0") {
		t.Fatalf("serve with eu1 behind = exit %d, %q", code, stderr)
	}
}
