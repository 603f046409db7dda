// Package pgtest gives tests their own real PostgreSQL databases, cloned from a
// migrated template (CREATE DATABASE ... TEMPLATE takes milliseconds), so tests run in
// parallel without seeing each other's rows.
//
// The server is named by WALLET_TEST_PG_URL, which `make test` sets after
// `scripts/postgres.sh up`.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/sql/schema"
)

// ServerURL is the test server's URL; the test fails when it is not configured.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("WALLET_TEST_PG_URL")
	if u == "" {
		t.Fatal("WALLET_TEST_PG_URL is not set: run the tests with `make test` (or scripts/postgres.sh up and export WALLET_TEST_PG_URL=$(scripts/postgres.sh url))")
	}
	return u
}

// NewDatabase creates a fresh, fully migrated database and returns its URL. It is
// dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	template, err := ensureTemplate(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: template: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "wallet_test_" + hex.EncodeToString(b[:])
	if err := withAdmin(ctx, server, func(conn *pgx.Conn) error {
		// Clones are serialized: CREATE DATABASE refuses a template that another
		// session is connected to, and a concurrent clone counts as one.
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7152)`); err != nil {
			return err
		}
		defer unlock(ctx, conn)
		_, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, template))
		return err
	}); err != nil {
		t.Fatalf("pgtest: create %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = withAdmin(ctx, server, func(conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
			return err
		})
	})
	return WithDatabase(server, name)
}

// NewShards opens one fresh database per shard name, as a region's shard pools.
func NewShards(t testing.TB, names ...string) (map[string]*pgdb.Shard, []config.ShardSpec) {
	t.Helper()
	specs := make([]config.ShardSpec, len(names))
	per := 256 / len(names)
	for i, n := range names {
		last := (i+1)*per - 1
		if i == len(names)-1 {
			last = 255
		}
		specs[i] = config.ShardSpec{Name: n, FirstBucket: i * per, LastBucket: last, DSN: NewDatabase(t), MaxConns: 20}
	}
	shards, err := pgdb.Open(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgdb.Close(shards) })
	return shards, specs
}

// AppRole is the application role scripts/postgres.sh creates: what the server
// connects as (it may read and append to the ledger, not rewrite it).
const AppRole = "wallet_app"

// DefaultCurrency is the default currency the test databases are migrated with, the
// one the local regions and the tests' configurations name.
const DefaultCurrency = "EUR"

// AppDSN is dsn (a database of NewDatabase) as the application role, which the
// migrated template granted what the server needs. The test fails when the server
// has no such role.
func AppDSN(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(AppRole, AppRole)
	app := u.String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, app)
	if err != nil {
		t.Fatalf("pgtest: the application role %s cannot connect (scripts/postgres.sh up creates it): %v", AppRole, err)
	}
	conn.Close(ctx)
	return app
}

// WithDatabase returns server's URL with its database replaced by name.
func WithDatabase(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// ensureTemplate creates (once per schema content) a migrated template database and
// returns its name. The name carries a hash of the migrations, so a schema change gets
// a new template instead of a stale one.
func ensureTemplate(ctx context.Context, server string) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	err = withAdmin(ctx, server, func(conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7152)`); err != nil {
			return err
		}
		defer unlock(ctx, conn)
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		building := name + "_building"
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, building)); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE DATABASE %s`, building)); err != nil {
			return err
		}
		m, err := pgdb.NewMigrator(WithDatabase(server, building), DefaultCurrency)
		if err != nil {
			return err
		}
		err = m.Up()
		m.Close()
		if err != nil {
			return err
		}
		// The application role's privileges, as `wallet migrate up` grants them; clones
		// inherit them.
		var appRole bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, AppRole).Scan(&appRole); err != nil {
			return err
		}
		if appRole {
			if err := pgdb.GrantApplication(ctx, WithDatabase(server, building), AppRole); err != nil {
				return err
			}
		}
		// Renamed only once complete, so a crash mid-migration never leaves a template
		// that looks finished.
		_, err = conn.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s RENAME TO %s`, building, name))
		return err
	})
	return name, err
}

func templateName() (string, error) {
	entries, err := fs.ReadDir(schema.Migrations, ".")
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "%q\x00", pgdb.ApplicationPrivileges)
	for _, n := range names {
		b, err := fs.ReadFile(schema.Migrations, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", n, b)
	}
	return "wallet_template_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

func withAdmin(ctx context.Context, server string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

// unlock releases the clone lock; the session ends right after, which would release
// it too, so a failure here changes nothing.
func unlock(ctx context.Context, conn *pgx.Conn) {
	_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7152)`)
}
