// Package outbox is the wallet's transactional outbox: a state change and the messages
// that announce it commit in one shard transaction (EnqueueTx), and a relay publishes
// them afterwards. There is never a write to the database and then a separate write
// to Kafka: a crash anywhere leaves either nothing done or a message that will be
// published, perhaps twice, which the consumers' barriers absorb.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/outbox/internal/outboxdb"
	"example.com/wallet/platform/retry"
	"example.com/wallet/platform/tracing"
)

// Message is one message to publish: to the inbound topic of Region, keyed by Key (a
// transfer id, so one transfer's messages stay ordered), with a Type and a payload.
type Message struct {
	Region  string
	Key     string
	Type    string
	Payload []byte
	// Trace is the span the message belongs to. EnqueueTx stores the one of the step
	// that wrote it (zero: none, outside any trace), and the relay hands Publish the
	// context of the message's publish span, a child of that step, for the message's
	// headers. It is never part of what is signed: it moves no money, and a forged
	// one can only mislabel a trace.
	Trace trace.SpanContext
}

// SpanPublish is the name of the relay's span for one message it publishes.
const SpanPublish = "outbox publish"

var queries = outboxdb.New()

// EnqueueTx stores msgs, in order, in the caller's transaction, with one statement.
// They are published only if, and only after, that transaction commits. Each keeps
// its Trace, so its publish, later and perhaps on another replica, joins that trace.
// The trace is the message's own, never ctx's: one transaction writes the messages of
// many requests, each of its own trace.
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
		stored := ""
		if s := tracing.Encode(m.Trace); s != nil {
			stored = *s
		}
		p.TraceContexts = append(p.TraceContexts, stored)
	}
	return queries.Enqueue(ctx, tx, p)
}

// Publish sends messages, all for one destination region, in order and returns only
// once every one is acknowledged.
type Publish func(ctx context.Context, msgs []Message) error

// Metrics are the relay's gauges, labelled by shard (and destination region).
type Metrics struct {
	oldest    *prometheus.GaugeVec
	published *prometheus.CounterVec
	leader    *prometheus.GaugeVec
}

// NewMetrics registers the outbox metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_outbox_oldest_unsent_seconds", Help: "Age of the oldest outbox message not yet published, by shard and destination region.",
		}, []string{"shard", "region"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_outbox_published_total", Help: "Outbox messages published, by shard and type.",
		}, []string{"shard", "type"}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_outbox_relay_leader", Help: "1 while this replica holds the shard's relay lease.",
		}, []string{"shard"}),
	}
	reg.MustRegister(m.oldest, m.published, m.leader)
	return m
}

// Relay publishes one shard's outbox. Among all replicas of a region one relay per
// shard is active: the holder of the shard's lease (outbox_relay_lease), renewed every
// third of its term. A leader that cannot renew (its connection cut, even half-open)
// stops before its term ends by its own clock, and another replica takes the lapsed
// lease; so two leaders never publish at once for longer than the clocks drift.
//
// The leader relays each destination region on its own, in id order, so a region
// whose brokers are away holds back only its own messages. It is woken by
// LISTEN/NOTIFY when a message commits and polls once a second in case a
// notification was missed. A crash between publishing and marking sent republishes;
// consumers are idempotent.
type Relay struct {
	Shard string
	Pool  *pgxpool.Pool
	// Regions are the destinations, each relayed on its own: every region of the
	// wallet (messages are only ever written for a configured region), and any other
	// destination the caller writes messages for (the event stream's).
	Regions []string
	// Publish sends a batch of messages to one destination region.
	Publish Publish
	Logger  *slog.Logger
	Metrics *Metrics
	// Holder names this replica in the lease; empty means a random name.
	Holder string
	// LeaseTerm is how long the lease lasts without renewal; default 10 s.
	LeaseTerm time.Duration
	// Hold, for fault-injection tests only, keeps messages of a type unpublished until
	// they are this old, so a later message can overtake them. Empty in production.
	Hold map[string]time.Duration
	// Drop, for fault-injection tests only, marks the first N messages of a type sent
	// without publishing them: a message lost on its way. Empty in production.
	Drop map[string]int

	mu      sync.Mutex
	dropped map[string]int
}

const (
	batchSize        = 500
	pollInterval     = time.Second
	keepSent         = time.Hour
	defaultLeaseTerm = 10 * time.Second
)

// WaitingSince returns how long the oldest message of the shard behind pool has been
// waiting to be published to any of regions (0 when none waits). Any replica can ask,
// leader or not: it is what back-pressure watches.
func WaitingSince(ctx context.Context, pool *pgxpool.Pool, regions []string) (time.Duration, error) {
	var oldest time.Duration
	for _, region := range regions {
		at, err := queries.OldestUnsent(ctx, pool, region)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, err
		}
		oldest = max(oldest, time.Since(at))
	}
	return oldest, nil
}

// Run relays until ctx ends, giving the lease up on the way out.
func (r *Relay) Run(ctx context.Context) {
	if r.Holder == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		r.Holder = hex.EncodeToString(b[:])
	}
	if r.LeaseTerm <= 0 {
		r.LeaseTerm = defaultLeaseTerm
	}
	backoff := &retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		led, err := r.lead(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.Logger.Warn("outbox relay interrupted", "shard", r.Shard, "error", err.Error())
			retry.Sleep(ctx, backoff.Next())
			continue
		}
		if led {
			backoff.Reset()
		}
		retry.Sleep(ctx, r.LeaseTerm/3)
	}
}

// lead takes the lease if it can and relays while it holds it. It reports whether it
// led at all.
func (r *Relay) lead(ctx context.Context) (bool, error) {
	until, ok, err := r.takeLease(ctx, r.LeaseTerm/3)
	if err != nil || !ok {
		return false, err
	}
	r.Logger.Info("outbox relay active", "shard", r.Shard, "holder", r.Holder)
	r.Metrics.leader.WithLabelValues(r.Shard).Set(1)
	defer r.Metrics.leader.WithLabelValues(r.Shard).Set(0)

	leading, stop := context.WithCancel(ctx)
	defer stop()
	wake := newWakeups()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.listen(leading, wake) }()
	wg.Add(1)
	go func() { defer wg.Done(); r.relayRegions(leading, wake) }()

	// Renew every third of the term. When renewing fails, keep trying while the
	// term lasts, and stop leading a tenth of a term before it ends by this replica's
	// own clock: another replica may take the lease once it has lapsed.
	margin := r.LeaseTerm / 10
	var leadErr error
renew:
	for {
		wait := min(r.LeaseTerm/3, time.Until(until)-margin)
		if wait <= 0 {
			leadErr = fmt.Errorf("could not renew the relay lease of shard %s within its term", r.Shard)
			break
		}
		select {
		case <-ctx.Done():
			break renew
		case <-time.After(wait):
		}
		next, ok, err := r.takeLease(ctx, time.Until(until)-margin)
		switch {
		case err == nil && ok:
			until = next
		case err == nil:
			leadErr = fmt.Errorf("the relay lease of shard %s went to another replica", r.Shard)
			break renew
		default:
			r.Logger.Warn("renewing the outbox relay lease failed", "shard", r.Shard, "error", err.Error())
		}
	}
	stop()
	wg.Wait()
	if ctx.Err() != nil {
		release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = queries.ReleaseLease(release, r.Pool, r.Holder)
		cancel()
		return true, nil
	}
	return true, leadErr
}

// takeLease takes or renews the lease, giving up after within. until is when it
// lapses by this replica's clock: the term counted from before the request was sent,
// so it never ends later than the database's own expiry.
func (r *Relay) takeLease(ctx context.Context, within time.Duration) (until time.Time, ok bool, err error) {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, max(within, time.Millisecond))
	defer cancel()
	_, err = queries.TakeLease(ctx, r.Pool, outboxdb.TakeLeaseParams{Holder: r.Holder, TermSeconds: r.LeaseTerm.Seconds()})
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return sent.Add(r.LeaseTerm), true, nil
}

// listen wakes the region loops when a message commits, until ctx ends. Without a
// listening connection the loops still poll every pollInterval.
func (r *Relay) listen(ctx context.Context, wake *wakeups) {
	backoff := &retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		err := func() error {
			pooled, err := r.Pool.Acquire(ctx)
			if err != nil {
				return err
			}
			// LISTEN belongs to this connection: take it out of the pool, so it is
			// closed, never reused, when listening stops.
			conn := pooled.Hijack()
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, `LISTEN wallet_outbox`); err != nil {
				return err
			}
			wake.all() // whatever committed before listening
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				backoff.Reset()
				wake.all()
			}
		}()
		if ctx.Err() == nil {
			r.Logger.Warn("outbox relay not listening", "shard", r.Shard, "error", err.Error())
			retry.Sleep(ctx, backoff.Next())
		}
	}
}

// relayRegions runs one loop per destination region until ctx ends, and cleans up
// messages sent long ago.
func (r *Relay) relayRegions(ctx context.Context, wake *wakeups) {
	var wg sync.WaitGroup
	for _, region := range r.Regions {
		woken := wake.subscribe(region)
		wg.Add(1)
		go func() { defer wg.Done(); r.relayRegion(ctx, region, woken) }()
	}
	for ctx.Err() == nil {
		r.deleteSent(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
	wg.Wait()
}

// deleteSent removes messages sent more than keepSent ago, oldest first. When the
// oldest message is younger than that, there is nothing to look for: without that
// check the delete scanned the whole table every few seconds to find nothing.
func (r *Relay) deleteSent(ctx context.Context) {
	cutoff := time.Now().Add(-keepSent)
	oldest, err := queries.OldestMessage(ctx, r.Pool)
	if err != nil || oldest.After(cutoff) {
		return
	}
	_, _ = queries.DeleteSent(ctx, r.Pool, outboxdb.DeleteSentParams{SentBefore: cutoff, Batch: 1000})
}

// relayRegion publishes region's messages in id order until ctx ends: a region whose
// brokers are away is retried with backoff while the others go on.
func (r *Relay) relayRegion(ctx context.Context, region string, woken <-chan struct{}) {
	// At most a second between tries: a broker that comes back is used within a
	// second, and one failed dial a second per region is cheap while it is away.
	backoff := &retry.Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for ctx.Err() == nil {
		sent, err := r.relayOnce(ctx, region)
		if err != nil {
			if ctx.Err() == nil {
				r.Logger.Warn("outbox publish failed", "shard", r.Shard, "region", region, "error", err.Error())
				retry.Sleep(ctx, backoff.Next())
			}
			continue
		}
		backoff.Reset()
		if sent == batchSize {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
		case <-woken:
		case <-time.After(pollInterval):
		}
	}
}

// relayOnce publishes up to one batch of region's unsent messages and marks them sent.
func (r *Relay) relayOnce(ctx context.Context, region string) (int, error) {
	rows, err := queries.Unsent(ctx, r.Pool, outboxdb.UnsentParams{Region: region, Batch: batchSize})
	if err != nil {
		return 0, err
	}
	// Rows come in id order, so the first is the oldest waiting message: its age is
	// how far behind the broker this shard is, and it grows while a publish fails.
	age := 0.0
	if len(rows) > 0 {
		age = time.Since(rows[0].CreatedAt).Seconds()
	}
	r.setOldest(region, age)
	msgs := make([]Message, 0, len(rows))
	ids := make([]int64, 0, len(rows))
	var spans []trace.Span
	var lost []int64
	for _, row := range rows {
		if hold := r.Hold[row.Type]; hold > 0 && time.Since(row.CreatedAt) < hold {
			continue
		}
		if r.drop(row.Type) {
			lost = append(lost, row.ID)
			r.Logger.Warn("outbox message dropped (fault injection)", "shard", r.Shard, "type", row.Type, "key", row.Key)
			continue
		}
		// One producer span per message, a child of the step that wrote it: the
		// consumer in the other region parents its own span on this one.
		msg := Message{Region: row.Region, Key: row.Key, Type: row.Type, Payload: row.Payload}
		if parent := tracing.Decode(row.TraceContext); tracing.Wanted(parent) {
			_, span := tracing.StartFrom(ctx, parent, SpanPublish, trace.WithSpanKind(trace.SpanKindProducer),
				trace.WithAttributes(tracing.TransferID(row.Key), attribute.String("messaging.system", "kafka"),
					attribute.String("wallet.destination_region", row.Region), attribute.String("wallet.message_type", row.Type),
					tracing.ShardKey.String(r.Shard)))
			spans = append(spans, span)
			msg.Trace = span.SpanContext()
		}
		msgs = append(msgs, msg)
		ids = append(ids, row.ID)
	}
	if len(lost) > 0 {
		if err := queries.MarkSent(ctx, r.Pool, lost); err != nil {
			return 0, err
		}
	}
	if len(msgs) == 0 {
		return len(lost), nil
	}
	err = r.Publish(ctx, msgs)
	for _, span := range spans {
		tracing.End(span, err)
	}
	if err != nil {
		return 0, err
	}
	// A crash here republishes the batch on restart: consumers are idempotent.
	if err := queries.MarkSent(ctx, r.Pool, ids); err != nil {
		return 0, err
	}
	if len(msgs) == len(rows) && len(rows) < batchSize {
		r.setOldest(region, 0) // nothing is left waiting
	}
	for _, m := range msgs {
		r.Metrics.published.WithLabelValues(r.Shard, m.Type).Inc()
		r.Logger.Debug("outbox message published", "shard", r.Shard, "region", m.Region, "type", m.Type, "key", m.Key)
	}
	return len(rows), nil
}

func (r *Relay) setOldest(region string, age float64) {
	r.Metrics.oldest.WithLabelValues(r.Shard, region).Set(age)
}

// drop reports whether the fault-injection budget drops a message of type typ.
func (r *Relay) drop(typ string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dropped[typ] >= r.Drop[typ] {
		return false
	}
	if r.dropped == nil {
		r.dropped = map[string]int{}
	}
	r.dropped[typ]++
	return true
}

// wakeups fans one notification out to every region loop.
type wakeups struct {
	mu   sync.Mutex
	subs map[string]chan struct{}
}

func newWakeups() *wakeups { return &wakeups{subs: map[string]chan struct{}{}} }

// subscribe returns name's wake-up channel (one pending wake-up at most).
func (w *wakeups) subscribe(name string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{}, 1)
	w.subs[name] = ch
	return ch
}

func (w *wakeups) all() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
