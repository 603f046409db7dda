// Package outbox is the wallet's transactional outbox: a state change and the messages
// that announce it commit in one shard transaction (EnqueueTx), and a relay publishes
// them afterwards. There is never a write to the database and then a separate write
// to Kafka: a crash anywhere leaves either nothing done or a message that will be
// published, perhaps twice, which the consumers' barriers absorb.
package outbox

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/platform/outbox/internal/outboxdb"
	"example.com/wallet/platform/retry"
)

// Message is one message to publish: to the inbound topic of Region, keyed by Key (a
// transfer id, so one transfer's messages stay ordered), with a Type and a payload.
type Message struct {
	Region  string
	Key     string
	Type    string
	Payload []byte
}

var queries = outboxdb.New()

// EnqueueTx stores msgs, in order, in the caller's transaction, with one statement.
// They are published only if, and only after, that transaction commits.
func EnqueueTx(ctx context.Context, tx pgx.Tx, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var p outboxdb.EnqueueParams
	for _, m := range msgs {
		p.Regions = append(p.Regions, m.Region)
		p.Keys = append(p.Keys, m.Key)
		p.Types = append(p.Types, m.Type)
		p.Payloads = append(p.Payloads, m.Payload)
	}
	return queries.Enqueue(ctx, tx, p)
}

// Publish sends messages in order and returns only once every one is acknowledged.
type Publish func(ctx context.Context, msgs []Message) error

// Metrics are the relay's gauges, labelled by shard.
type Metrics struct {
	oldest    *prometheus.GaugeVec
	published *prometheus.CounterVec
}

// NewMetrics registers the outbox metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_outbox_oldest_unsent_seconds", Help: "Age of the oldest outbox message not yet published, by shard.",
		}, []string{"shard"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_outbox_published_total", Help: "Outbox messages published, by shard and type.",
		}, []string{"shard", "type"}),
	}
	reg.MustRegister(m.oldest, m.published)
	return m
}

// Relay publishes one shard's outbox in id order. Among all replicas of a region only
// one relay per shard is active, elected by a session advisory lock; the others wait
// for it to go away. The active relay is woken by LISTEN/NOTIFY when a message commits
// and polls once a second in case a notification was missed.
type Relay struct {
	Shard   string
	Pool    *pgxpool.Pool
	Publish Publish
	Logger  *slog.Logger
	Metrics *Metrics
	// Hold, for fault-injection tests only, keeps messages of a type unpublished until
	// they are this old, so a later message can overtake them. Empty in production.
	Hold map[string]time.Duration
	// Drop, for fault-injection tests only, marks the first N messages of a type sent
	// without publishing them: a message lost on its way. Empty in production.
	Drop map[string]int

	dropped map[string]int
}

const (
	relayLockKey = 7154
	batchSize    = 200
	pollInterval = time.Second
	keepSent     = time.Hour
)

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	backoff := &retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		err := r.runActive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.Logger.Warn("outbox relay interrupted", "shard", r.Shard, "error", err.Error())
		}
		retry.Sleep(ctx, backoff.Next())
	}
}

// runActive takes the shard's relay lock on a dedicated connection and relays until
// an error or ctx ends. Losing the connection releases the lock, so another replica
// takes over.
func (r *Relay) runActive(ctx context.Context) error {
	pooled, err := r.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The session lock and LISTEN belong to this connection: take it out of the pool
	// so it is closed, never reused, when the relay stops.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var leader bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&leader); err != nil {
			return err
		}
		if leader {
			break
		}
		retry.Sleep(ctx, 2*time.Second)
		if ctx.Err() != nil {
			return nil
		}
	}
	if _, err := conn.Exec(ctx, `LISTEN wallet_outbox`); err != nil {
		return err
	}
	r.Logger.Info("outbox relay active", "shard", r.Shard)
	publishBackoff := &retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	lastHousekeeping := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastHousekeeping) > 5*time.Second {
			lastHousekeeping = time.Now()
			r.housekeeping(ctx, conn)
		}
		sent, err := r.relayOnce(ctx, conn)
		if err != nil {
			if isConnError(err) {
				return err
			}
			// The broker is away: keep the messages and try again later.
			r.Logger.Warn("outbox publish failed", "shard", r.Shard, "error", err.Error())
			retry.Sleep(ctx, publishBackoff.Next())
			continue
		}
		publishBackoff.Reset()
		if sent == batchSize {
			continue // more may be waiting
		}
		waitCtx, cancel := context.WithTimeout(ctx, pollInterval)
		_, err = conn.WaitForNotification(waitCtx)
		cancel()
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	return nil
}

// relayOnce publishes up to one batch of unsent messages and marks them sent.
func (r *Relay) relayOnce(ctx context.Context, conn *pgx.Conn) (int, error) {
	rows, err := queries.Unsent(ctx, conn, batchSize)
	if err != nil {
		return 0, &connError{err}
	}
	// Rows come in id order, so the first is the oldest waiting message: its age is
	// how far behind the broker this shard is, and it grows while a publish fails.
	age := 0.0
	if len(rows) > 0 {
		age = time.Since(rows[0].CreatedAt).Seconds()
	}
	r.Metrics.oldest.WithLabelValues(r.Shard).Set(age)
	msgs := make([]Message, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	var lost []int64
	for _, row := range rows {
		if hold := r.Hold[row.Type]; hold > 0 && time.Since(row.CreatedAt) < hold {
			continue
		}
		if r.dropped[row.Type] < r.Drop[row.Type] {
			if r.dropped == nil {
				r.dropped = map[string]int{}
			}
			r.dropped[row.Type]++
			lost = append(lost, row.ID)
			r.Logger.Warn("outbox message dropped (fault injection)", "shard", r.Shard, "type", row.Type, "key", row.Key)
			continue
		}
		msgs = append(msgs, Message{Region: row.Region, Key: row.Key, Type: row.Type, Payload: row.Payload})
		ids = append(ids, row.ID)
	}
	if len(lost) > 0 {
		if err := queries.MarkSent(ctx, conn, lost); err != nil {
			return 0, &connError{err}
		}
	}
	if len(msgs) == 0 {
		return len(lost), nil
	}
	if err := r.Publish(ctx, msgs); err != nil {
		return 0, err
	}
	// A crash here republishes the batch on restart: consumers are idempotent.
	if err := queries.MarkSent(ctx, conn, ids); err != nil {
		return 0, &connError{err}
	}
	if len(msgs) == len(rows) && len(rows) < batchSize {
		r.Metrics.oldest.WithLabelValues(r.Shard).Set(0) // nothing is left waiting
	}
	for _, m := range msgs {
		r.Metrics.published.WithLabelValues(r.Shard, m.Type).Inc()
		r.Logger.Debug("outbox message published", "shard", r.Shard, "region", m.Region, "type", m.Type, "key", m.Key)
	}
	return len(rows), nil
}

func (r *Relay) housekeeping(ctx context.Context, conn *pgx.Conn) {
	_, _ = queries.DeleteSent(ctx, conn, outboxdb.DeleteSentParams{SentBefore: time.Now().Add(-keepSent), Batch: 1000})
}

type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func isConnError(err error) bool {
	var ce *connError
	return errors.As(err, &ce)
}
