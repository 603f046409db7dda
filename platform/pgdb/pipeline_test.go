package pgdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
)

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	// One connection: a transaction that left it dirty would show in the next step.
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Statements run in the order they were issued: a query sees the writes queued
// before it, and they commit together.
func TestPipelinedWritesAreSeenByLaterQueriesAndCommitTogether(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	ctx := context.Background()
	err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		for i := range 3 {
			if _, err := tx.Exec(ctx, `INSERT INTO t VALUES ($1, 'x')`, i); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			return err
		}
		if n != 3 {
			t.Errorf("inside the transaction a query saw %d rows, want 3", n)
		}
		_, err := tx.Exec(ctx, `INSERT INTO t VALUES (9, 'last')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool); n != 4 {
		t.Fatalf("committed %d rows, want 4", n)
	}
}

// A failing write is reported by the next query, nothing of the transaction commits,
// and the pooled connection comes back clean.
func TestPipelinedWriteErrorSurfacesAtTheNextQuery(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	ctx := context.Background()
	var queryErr error
	err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		_, _ = tx.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`)
		_, _ = tx.Exec(ctx, `INSERT INTO t VALUES (1, 'duplicate')`)
		_, queryErr = tx.Query(ctx, `SELECT 1`)
		return queryErr
	})
	var pgErr *pgconn.PgError
	if !errors.As(queryErr, &pgErr) || pgErr.Code != "23505" || !errors.Is(err, queryErr) {
		t.Fatalf("query after a duplicate insert: %v (InTx: %v), want the unique violation", queryErr, err)
	}
	if n := count(t, pool); n != 0 {
		t.Fatalf("%d rows committed after the failure, want 0", n)
	}
}

// A failing write queued last is reported by Commit, and nothing commits.
func TestPipelinedWriteErrorSurfacesAtCommit(t *testing.T) {
	t.Parallel()
	pool := newPool(t)
	ctx := context.Background()
	err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		_, _ = tx.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`)
		_, err := tx.Exec(ctx, `INSERT INTO t VALUES (2, NULL)`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23502" {
		t.Fatalf("InTx = %v, want the not-null violation at commit", err)
	}
	var unavailable *pgdb.UnavailableError
	if errors.As(err, &unavailable) {
		t.Fatalf("a refused statement is not an unknown outcome: %v", err)
	}
	if n := count(t, pool); n != 0 {
		t.Fatalf("%d rows committed, want 0", n)
	}
	if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error { return nil }); err != nil {
		t.Fatalf("an empty transaction: %v", err)
	}
}

// TestTransactionOptionsReachTheServer: InTxWith opens the transaction it is asked
// for: a read-only one refuses a write, and the isolation level is the one named.
func TestTransactionOptionsReachTheServer(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	var level string
	err := pgdb.InTxWith(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&level); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO t VALUES (1, 'a')`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "25006" || level != "repeatable read" {
		t.Fatalf("read-only repeatable read = %v at %q, want 25006 read_only_sql_transaction at repeatable read", err, level)
	}
	if n := count(t, pool); n != 0 {
		t.Fatalf("%d rows after a refused write", n)
	}
}
