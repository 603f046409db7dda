package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/wallet/sql/schema"
)

// LatestVersion is the highest migration version embedded in the binary.
func LatestVersion() (uint, error) {
	entries, err := fs.ReadDir(schema.Migrations, ".")
	if err != nil {
		return 0, err
	}
	var latest uint
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		v, err := strconv.ParseUint(prefix, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		latest = max(latest, uint(v))
	}
	return latest, nil
}

// Migrator applies the embedded migrations to one shard.
type Migrator struct {
	m *migrate.Migrate
}

// NewMigrator prepares migrations for the database at dsn (a postgres:// URL or a
// key=value DSN is accepted). defaultCurrency is the region's default currency
// (currencies.default): the migration to balances per currency moves existing money
// to it, reading it from the session setting wallet.default_currency.
func NewMigrator(dsn, defaultCurrency string) (*Migrator, error) {
	src, err := iofs.New(schema.Migrations, ".")
	if err != nil {
		return nil, err
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, withDefaultCurrency(migrateURL(dsn), defaultCurrency))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", redact(err))
	}
	return &Migrator{m: m}, nil
}

// Up applies every pending migration; it is a no-op when the schema is current.
func (mg *Migrator) Up() error {
	if err := mg.m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}

// To migrates up or down to version exactly; it is a no-op at that version. Tests
// use it to fill a database with an older schema's data before migrating it forward.
func (mg *Migrator) To(version uint) error {
	if err := mg.m.Migrate(version); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}

// Down reverts every migration.
func (mg *Migrator) Down() error {
	if err := mg.m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}

// Version reports the applied version (0 when none) and whether it is dirty.
func (mg *Migrator) Version() (uint, bool, error) {
	v, dirty, err := mg.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	return v, dirty, err
}

// Close releases the migrator's connection.
func (mg *Migrator) Close() {
	_, _ = mg.m.Close()
}

// SchemaVersion reads the applied migration version of a shard through its pool,
// without taking golang-migrate's lock, for the start-up check.
func SchemaVersion(ctx context.Context, pool *pgxpool.Pool) (version uint, dirty bool, err error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, false, err
	}
	if !exists {
		return 0, false, nil
	}
	var v int64
	err = pool.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return uint(v), dirty, err
}

// migrateURL turns a postgres:// URL into golang-migrate's pgx5:// form.
func migrateURL(dsn string) string {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if strings.HasPrefix(dsn, scheme) {
			return "pgx5://" + strings.TrimPrefix(dsn, scheme)
		}
	}
	// A key=value DSN: build a URL from it.
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return dsn
	}
	u := url.URL{Scheme: "pgx5", Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	return u.String()
}

// withDefaultCurrency adds the session setting wallet.default_currency to a pgx5://
// URL: pgx sends parameters it does not know in the start-up message, where
// PostgreSQL takes them as settings of the session.
func withDefaultCurrency(migrateURL, code string) string {
	u, err := url.Parse(migrateURL)
	if err != nil {
		return migrateURL
	}
	q := u.Query()
	q.Set("wallet.default_currency", code)
	u.RawQuery = q.Encode()
	return u.String()
}

// redact keeps passwords out of errors that quote the URL.
func redact(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if at := strings.Index(msg[i:], "@"); at > 0 {
			msg = msg[:i+3] + "***" + msg[i+at:]
		}
	}
	return errors.New(msg)
}
