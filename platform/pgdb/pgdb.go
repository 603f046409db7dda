// Package pgdb opens the region's shard pools and runs shard transactions.
//
// Every change to money happens inside InTx: one PostgreSQL transaction on one shard,
// retried on serialization failures and deadlocks, rolled back even when the caller's
// context is already cancelled.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/tracing"
)

// Shard is one open shard: its name and its connection pool.
type Shard struct {
	Name string
	Pool *pgxpool.Pool
}

// Open builds a pool for every shard of the region without connecting yet, so a shard
// that is down at start-up is reported by readiness instead of stopping the region.
func Open(ctx context.Context, specs []config.ShardSpec) (map[string]*Shard, error) {
	shards := make(map[string]*Shard, len(specs))
	for _, spec := range specs {
		pcfg, err := pgxpool.ParseConfig(spec.DSN)
		if err != nil {
			// Never echo the DSN: it carries the password.
			return nil, fmt.Errorf("shard %s: DSN does not parse", spec.Name)
		}
		pcfg.MaxConns = spec.MaxConns
		pcfg.ConnConfig.ConnectTimeout = 5 * time.Second
		pcfg.ConnConfig.RuntimeParams["application_name"] = "wallet"
		// Every statement is prepared once per connection (pgx caches them). By default
		// PostgreSQL plans a prepared statement afresh for each execution until it
		// trusts a generic plan, and for the batch statements over arrays it never does:
		// planning cost more than executing (docs/performance.md). The wallet's queries
		// are key lookups whose best plan does not depend on the values.
		pcfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
		// A statement or a lock wait that hangs fails instead, as unavailable
		// (IsUnavailable): the request answers 503, a consumer retries.
		if spec.StatementTimeout > 0 {
			pcfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(spec.StatementTimeout.Milliseconds(), 10)
		}
		if spec.LockTimeout > 0 {
			pcfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(spec.LockTimeout.Milliseconds(), 10)
		}
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", spec.Name, err)
		}
		shards[spec.Name] = &Shard{Name: spec.Name, Pool: pool}
	}
	return shards, nil
}

// Close closes every pool.
func Close(shards map[string]*Shard) {
	for _, s := range shards {
		s.Pool.Close()
	}
}

// SpanTransaction is the name of a shard transaction's span.
const SpanTransaction = "db transaction"

var dbSystem = trace.WithAttributes(attribute.String("db.system.name", "postgresql"))

// maxTxAttempts bounds retries of a transaction that lost a serialization race or a
// deadlock; both are decided by PostgreSQL before anything commits, so retrying is safe.
const maxTxAttempts = 5

// InTx runs fn in one transaction on pool and commits it. fn may run more than once
// (see maxTxAttempts), so it must not have effects outside the transaction. The
// rollback uses a context detached from cancellation, so a cancelled request never
// leaves a transaction open on a pooled connection.
//
// The transaction is pipelined (see pipelinedTx): an Exec is sent with the next query
// or with COMMIT, and reports its error there.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(tx pgx.Tx) error) error {
	return InTxWith(ctx, pool, pgx.TxOptions{}, fn)
}

// InTxWith is InTx for a transaction with opts (an isolation level, read only), with
// the same retries.
//
// A transaction inside a trace (ctx carries a span) gets a span of its own
// (SpanTransaction) covering every attempt, with an event per retry. One outside any
// trace (the recovery sweep finding nothing due, a CLI) gets none: a trace of one
// idle transaction a second per shard would bury the ones that matter.
func InTxWith(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(tx pgx.Tx) error) (err error) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		var span trace.Span
		ctx, span = tracing.Start(ctx, SpanTransaction, trace.WithSpanKind(trace.SpanKindClient), dbSystem)
		defer func() { tracing.End(span, err) }()
	}
	begin := beginSQL(opts)
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = inTxOnce(ctx, pool, begin, fn)
		if err == nil || !isRetryable(err) {
			return err
		}
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", attempt), attribute.String("error", err.Error())))
		}
		// A short, growing pause lets the competing transaction finish.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
	return err
}

func inTxOnce(ctx context.Context, pool *pgxpool.Pool, begin string, fn func(tx pgx.Tx) error) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return &UnavailableError{Err: err}
	}
	defer conn.Release()
	tx := &pipelinedTx{conn: conn.Conn(), begin: begin}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		// A COMMIT that failed on the wire may or may not have happened.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && !errors.Is(err, pgx.ErrTxCommitRollback) {
			return &UnavailableError{Err: err, OutcomeUnknown: true}
		}
		return err
	}
	return nil
}

// racedConstraints holds the unique constraints registered with RetryOnConflict.
var racedConstraints sync.Map

// RetryOnConflict declares that a unique violation of constraint means the
// transaction raced a twin that committed first (two requests with one idempotency
// key, say): InTx rolls it back and runs it again, and the rerun sees the twin. The
// owner of the constraint registers it once, at start-up.
func RetryOnConflict(constraint string) { racedConstraints.Store(constraint, true) }

func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	if pgErr.Code == "23505" {
		_, raced := racedConstraints.Load(pgErr.ConstraintName)
		return raced
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01"
}

// UnavailableError says a shard could not be reached or dropped the connection.
// OutcomeUnknown is set when the failure came at COMMIT, so the write may have
// happened: callers must answer 5xx and let the client retry with its idempotency key.
type UnavailableError struct {
	Err            error
	OutcomeUnknown bool
}

func (e *UnavailableError) Error() string { return "shard unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable reports true: it is how code that does not know this package (the HTTP
// edge, which answers 503) recognises the error, by its behaviour rather than its type.
func (e *UnavailableError) Unavailable() bool { return true }

// InterpretError puts what the driver said in a service's words: pgx.ErrNoRows is
// missing (the caller knows what it looked for; nil leaves ErrNoRows an error), a shard
// that could not serve is an *UnavailableError whatever form the driver's error took
// (IsUnavailable), and anything else (nil included) passes unchanged. Services return
// what a shard said through it.
func InterpretError(err, missing error) error {
	if missing != nil && errors.Is(err, pgx.ErrNoRows) {
		return missing
	}
	var ue *UnavailableError
	if err == nil || errors.As(err, &ue) || !IsUnavailable(err) {
		return err
	}
	return &UnavailableError{Err: err}
}

// IsUnavailable reports whether err means the shard could not be reached, dropped
// the connection, or could not serve the statement right now (shutting down,
// starting, read-only during a failover, out of connections, a lock or statement
// timeout), as opposed to PostgreSQL refusing the statement for what it is. Every
// form a lost connection takes in the driver counts: EOF in the middle of a
// response, a reset, a closed pool or connection, a network timeout. A write that
// failed this way may or may not have happened: answer 503 and let the client retry
// with its idempotency key, never 500 and never a refusal.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ue *UnavailableError
	if errors.As(err, &ue) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53": // insufficient resources: too many connections, disk full, out of memory
			return true
		}
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin shutdown, crash shutdown, cannot connect now
			"57014", // query canceled: statement_timeout
			"55P03", // lock_not_available: lock_timeout
			"25006": // read_only_sql_transaction: a replica or a failover in progress
			return true
		}
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &netErr), errors.As(err, &connectErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, puddle.ErrClosedPool), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	// pgx reports a connection it closed after an error as "conn closed", and a
	// statement that failed before reaching the server as safe to retry.
	return pgconn.SafeToRetry(err) || pgconn.Timeout(err) || strings.Contains(err.Error(), "conn closed")
}

// IsNumericOverflow reports whether err is PostgreSQL's numeric_value_out_of_range:
// a balance that would exceed the schema's NUMERIC precision.
func IsNumericOverflow(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22003"
}
