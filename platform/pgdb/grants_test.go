package pgdb_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"example.com/wallet/platform/pgdb/pgtest"
)

// The server's role appends to the ledger but cannot rewrite it by any means: no
// UPDATE, DELETE or TRUNCATE, and no disabling of the append-only trigger, which only
// the tables' owner could do.
func TestApplicationRoleCannotRewriteTheLedger(t *testing.T) {
	t.Parallel()
	owner := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.AppDSN(t, owner))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`INSERT INTO users (id, region) VALUES ('eu_app', 'eu')`,
		`INSERT INTO wallets (user_id, default_currency) VALUES ('eu_app', 'EUR')`,
		`INSERT INTO balances (user_id, currency) VALUES ('eu_app', 'EUR')`,
		`INSERT INTO ledger_entries (user_id, seq, kind, currency, amount, balance_after, created_at, prev_hash, hash, hash_version) VALUES ('eu_app', 1, 'deposit', 'EUR', 5, 5, now(), '\x00', '\x00', 2)`,
		`UPDATE balances SET balance = 5 WHERE user_id = 'eu_app'`,
		`UPDATE wallets SET status = 'frozen' WHERE user_id = 'eu_app'`,
		`SELECT count(*) FROM ledger_entries`,
		`INSERT INTO ledger_seals (user_id, seq, seal) VALUES ('eu_app', 1, '\x00')`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("the application role could not %s: %v", strings.Fields(sql)[0], err)
		}
	}
	for _, sql := range []string{
		`UPDATE ledger_entries SET amount = 500 WHERE user_id = 'eu_app'`,
		`DELETE FROM ledger_entries WHERE user_id = 'eu_app'`,
		`TRUNCATE ledger_entries`,
		`UPDATE ledger_seals SET seal = '\x01' WHERE user_id = 'eu_app'`,
		`DELETE FROM ledger_seals WHERE user_id = 'eu_app'`,
		`ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete`,
		`DROP TRIGGER ledger_entries_no_update_delete ON ledger_entries`,
		`DROP TABLE ledger_entries`,
		`DELETE FROM users WHERE id = 'eu_app'`,
		`UPDATE users SET region = 'us' WHERE id = 'eu_app'`,
		`UPDATE wallets SET user_id = 'eu_other' WHERE user_id = 'eu_app'`,
		`CREATE TABLE shadow (id int)`,
	} {
		_, err := conn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		refused := errors.As(err, &pgErr) && pgErr.Code == "42501" &&
			(strings.Contains(pgErr.Message, "permission denied") || strings.Contains(pgErr.Message, "must be owner"))
		if !refused {
			t.Errorf("%s as the application role: %v, want a refusal of privilege (not the trigger)", sql, err)
		}
	}
}
