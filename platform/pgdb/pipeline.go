package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pipelinedTx is the transaction InTx hands to its function. It sends statements in as
// few round trips as PostgreSQL's extended protocol allows: BEGIN travels with the
// first query, and every Exec waits for the next query or for the commit and travels
// with it. A money path that reads what it must lock and then writes entries, the
// snapshot, the idempotency record and its outbox messages costs three round trips
// (BEGIN and the first read; the other reads; the writes and COMMIT), however many
// statements it runs.
//
// What callers must know: Exec returns an empty command tag and a nil error at once;
// the statement's error, if any, is returned by the next Query, QueryRow or Commit, in
// the same transaction, always before anything commits. A statement whose row count
// matters must therefore be a query (RETURNING). Statements run in the order they were
// issued.
type pipelinedTx struct {
	conn   *pgx.Conn
	begin  string // the BEGIN statement, with the transaction's options
	queue  []queued
	begun  bool // BEGIN has been sent (perhaps in a batch that failed)
	closed bool
}

type queued struct {
	sql  string
	args []any
}

var errSavepoints = errors.New("pgdb: savepoints are not supported in a shard transaction")

// Exec queues a statement; see pipelinedTx.
func (t *pipelinedTx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.closed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	t.queue = append(t.queue, queued{sql: sql, args: args})
	return pgconn.CommandTag{}, nil
}

// Query sends the queued statements and this query in one round trip.
func (t *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := t.flush(ctx, &queued{sql: sql, args: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, results: br}, nil
}

// QueryRow is Query for one row; Scan reports pgx.ErrNoRows when there is none.
func (t *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := t.Query(ctx, sql, args...)
	return &batchRow{rows: rows, err: err}
}

// flush sends BEGIN (the first time), the queue and then last, and returns the open
// results positioned at last's. An error of any earlier statement is returned instead.
func (t *pipelinedTx) flush(ctx context.Context, last *queued) (pgx.BatchResults, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue(t.begin)
	}
	for _, q := range t.queue {
		b.Queue(q.sql, q.args...)
	}
	b.Queue(last.sql, last.args...)
	t.queue = t.queue[:0]
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	for range b.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// Commit sends what is queued and COMMIT in one round trip.
func (t *pipelinedTx) Commit(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	if !t.begun && len(t.queue) == 0 {
		t.closed = true
		return nil // nothing was ever sent: there is no transaction to end
	}
	br, err := t.flush(ctx, &queued{sql: "COMMIT"})
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return err
	}
	t.closed = true
	if tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// Rollback discards what is queued and ends the transaction, if one was begun.
func (t *pipelinedTx) Rollback(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	t.closed = true
	t.queue = nil
	if !t.begun {
		return nil
	}
	_, err := t.conn.Exec(ctx, "ROLLBACK")
	return err
}

// Begin would start a savepoint; the wallet's transactions never nest.
func (t *pipelinedTx) Begin(context.Context) (pgx.Tx, error) { return nil, errSavepoints }

// CopyFrom sends what is queued, then copies.
func (t *pipelinedTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.sync(ctx); err != nil {
		return 0, err
	}
	return t.conn.CopyFrom(ctx, table, columns, src)
}

// SendBatch sends what is queued, then b.
func (t *pipelinedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.sync(ctx); err != nil {
		return errBatchResults{err}
	}
	return t.conn.SendBatch(ctx, b)
}

// Prepare sends what is queued, then prepares.
func (t *pipelinedTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.sync(ctx); err != nil {
		return nil, err
	}
	return t.conn.Prepare(ctx, name, sql)
}

// LargeObjects are not used by the wallet.
func (t *pipelinedTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn is the underlying connection.
func (t *pipelinedTx) Conn() *pgx.Conn { return t.conn }

// sync sends BEGIN and the queue, so that what follows sees their effects.
func (t *pipelinedTx) sync(ctx context.Context) error {
	br, err := t.flush(ctx, &queued{sql: "SELECT 1"})
	if err != nil {
		return err
	}
	_, err = br.Exec()
	if closeErr := br.Close(); err == nil {
		err = closeErr
	}
	return err
}

// batchRows are a query's rows inside batch results, which close with them.
type batchRows struct {
	pgx.Rows
	results pgx.BatchResults
	err     error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.results != nil {
		r.err = r.results.Close()
		r.results = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is QueryRow's answer.
type batchRow struct {
	rows pgx.Rows
	err  error
}

func (r *batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		r.rows.Close()
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// errBatchResults answers every call with err.
type errBatchResults struct{ err error }

func (e errBatchResults) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, e.err }
func (e errBatchResults) Query() (pgx.Rows, error)         { return nil, e.err }
func (e errBatchResults) QueryRow() pgx.Row                { return &batchRow{err: e.err} }
func (e errBatchResults) Close() error                     { return e.err }
func (e errBatchResults) Tx() pgx.Tx                       { return nil }

var _ pgx.Tx = (*pipelinedTx)(nil)

// beginSQL is the BEGIN statement that opens a transaction with opts.
func beginSQL(opts pgx.TxOptions) string {
	sql := "BEGIN"
	if opts.IsoLevel != "" {
		sql += " ISOLATION LEVEL " + string(opts.IsoLevel)
	}
	if opts.AccessMode != "" {
		sql += " " + string(opts.AccessMode)
	}
	if opts.DeferrableMode != "" {
		sql += " " + string(opts.DeferrableMode)
	}
	return sql
}
