package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

const (
	// DefaultPingTimeout bounds Ping when the caller's context has no
	// deadline, so a readiness probe can never hang on a silent broker.
	DefaultPingTimeout = 5 * time.Second

	// DefaultEnsureTimeout bounds EnsureTopics when the caller's context has
	// no deadline. Topic creation plus leader election on a healthy cluster
	// takes well under a second; this is the "something is wrong" bound.
	DefaultEnsureTimeout = 30 * time.Second

	// maxReplicationFactor is the replication factor EnsureTopics asks for
	// when the cluster has at least that many brokers (fewer brokers: one
	// replica per broker). Three replicas with acks=all is what makes an
	// acknowledged write survive a broker loss.
	maxReplicationFactor = 3

	// clientID identifies these helpers' connections in broker logs/metrics.
	clientID = "wallet-kafkabus"
)

// Ping reports whether the Kafka cluster reachable through brokers answers a
// metadata request listing at least one broker. It tries each address in
// order and returns nil on the first healthy answer.
//
// Guarantees: Ping never outlives ctx; when ctx has no deadline it is bounded
// by DefaultPingTimeout. A refused connection fails immediately rather than
// waiting for the deadline. It opens one short-lived connection per attempt
// and leaves no goroutines or connections behind, so it is safe to call on
// every /readyz request. It creates no topics (the metadata request names
// none).
func (c Client) Ping(ctx context.Context, brokers []string) error {
	if len(brokers) == 0 {
		return errors.New("kafkabus: ping: no broker addresses")
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultPingTimeout)
	defer cancel()

	var errs []error
	for _, addr := range brokers {
		err := c.withConn(ctx, addr, func(conn *kafka.Conn) error {
			// A TCP accept alone does not prove the broker can serve: it
			// must answer a real request and know of at least one broker.
			bs, err := conn.Brokers()
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				return errors.New("metadata lists no brokers")
			}
			return nil
		})
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break // out of time: do not start attempts that cannot finish
		}
	}
	return fmt.Errorf("kafkabus: ping: no broker answered: %w", errors.Join(errs...))
}

// EnsureTopics creates each topic that does not exist yet with the given
// number of partitions, then waits until the metadata of every topic shows a
// leader for every partition, i.e. until producers and consumers can use
// them.
//
// Guarantees: it is idempotent (an existing topic is not an error and is left
// as it is, including its partition count); the create request goes to the
// cluster's controller; replication factor is min(3, number of brokers); the
// whole call, creation and wait, is bounded by ctx (DefaultEnsureTimeout when
// ctx has no deadline) and returns the last observed problem on timeout.
func (c Client) EnsureTopics(ctx context.Context, brokers []string, partitions int, topics ...string) error {
	if len(brokers) == 0 {
		return errors.New("kafkabus: ensure topics: no broker addresses")
	}
	if partitions < 1 {
		return fmt.Errorf("kafkabus: ensure topics: partitions must be >= 1, got %d", partitions)
	}
	if len(topics) == 0 {
		return nil
	}
	for _, t := range topics {
		if t == "" {
			return errors.New("kafkabus: ensure topics: empty topic name")
		}
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultEnsureTimeout)
	defer cancel()

	// Create, retrying transient failures (controller moving, broker still
	// starting) until ctx runs out.
	var lastErr error
	for {
		lastErr = c.createTopics(ctx, brokers, partitions, topics)
		if lastErr == nil {
			break
		}
		if !retriable(lastErr) || sleep(ctx, 200*time.Millisecond) != nil {
			return fmt.Errorf("kafkabus: ensure topics %v: create: %w", topics, lastErr)
		}
	}

	// Wait for leaders. CreateTopics returns once the controller has
	// committed the topic, but brokers learn about it (and elect leaders)
	// asynchronously; writing before that yields LeaderNotAvailable.
	for {
		lastErr = c.topicsReady(ctx, brokers, topics)
		if lastErr == nil {
			return nil
		}
		if sleep(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("kafkabus: ensure topics %v: waiting for leaders: %w", topics, lastErr)
		}
	}
}

// NewWriter returns a synchronous writer tuned for the wallet's events.
//
// Guarantees: WriteMessages returns only after every in-sync replica has the
// batch (RequiredAcks=RequireAll); messages with the same key always go to
// the same partition (Hash balancer), so events of one transfer keep their
// order; writing to a topic that does not exist fails with
// kafka.UnknownTopicOrPartition instead of silently creating one with broker
// defaults (AllowAutoTopicCreation=false). Batches are flushed after at most
// ~5ms, and each broker round trip is bounded by 10s (retried up to
// MaxAttempts). The caller owns the writer and must Close it, which also
// releases its connections.
//
// Create topics (EnsureTopics) before the writer's first write to them: the
// writer caches cluster metadata and only refreshes it every few seconds, so
// a topic created after that first write is seen only after the refresh.
func (c Client) NewWriter(brokers []string) *kafka.Writer {
	if len(brokers) == 0 {
		// kafka.NewWriter panics on an empty list; a writer whose writes
		// fail with "no address" is the friendlier failure for a config error.
		return &kafka.Writer{RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}}
	}
	// Built with kafka.NewWriter (kept by kafka-go for compatibility) rather
	// than a struct literal for one reason: it gives the writer its OWN
	// transport, which Close releases. A literal Writer shares
	// kafka.DefaultTransport with every other writer in the process, and that
	// transport's metadata cache (all topics, refreshed every ~6s) makes
	// writes to a topic created moments ago fail with UnknownTopicOrPartition
	// without any retry (seen against a real broker in this package's tests).
	w := kafka.NewWriter(kafka.WriterConfig{
		Brokers:  brokers,
		Balancer: &kafka.Hash{},
		Dialer:   c.dialer(5 * time.Second),
		// Durability over latency: a write is acknowledged by all ISRs.
		RequiredAcks: int(kafka.RequireAll),
		// The default 1s batch timeout would add up to a second to every
		// synchronous write; 5ms keeps batching without the latency.
		BatchTimeout: 5 * time.Millisecond,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
		MaxAttempts:  5,
		// How often the writer's metadata (partitions, leaders) is refreshed.
		RebalanceInterval: 5 * time.Second,
	})
	w.WriteBackoffMin = 50 * time.Millisecond
	w.WriteBackoffMax = 1 * time.Second
	w.AllowAutoTopicCreation = false
	return w
}

// NewGroupReader returns a consumer-group reader of topic for the group.
//
// Guarantees: offsets are committed only by CommitMessages, synchronously
// (CommitInterval=0), so a message is never marked consumed before the
// caller says so; whatever was fetched but not committed is delivered again
// to the next member that gets the partition (at-least-once). A group with no
// committed offset starts from the oldest retained message (FirstOffset), so
// events published before the consumer's first start are not skipped. New
// messages are returned after at most ~50ms of broker-side waiting (MaxWait)
// even if only one small message is available (MinBytes=1). The caller owns
// the reader and must Close it, which leaves the group so partitions are
// reassigned at once.
func (c Client) NewGroupReader(brokers []string, group, topic string, errorLog *slog.Logger) *kafka.Reader {
	return c.NewPatientGroupReader(brokers, group, topic, errorLog, 1, 50*time.Millisecond)
}

// NewPatientGroupReader is NewGroupReader for a consumer that trades latency for
// fewer, larger fetches: the broker answers a fetch once minBytes have gathered or
// maxWait has passed. A consumer that applies each fetch in one transaction then
// also applies fewer, larger batches. The webhooks' consumer of the event stream is
// one: on a busy stream, fetching as eagerly as the TCC consumer cost same-shard
// transfers about a sixth of their rate on a two-core machine (docs/performance.md).
func (c Client) NewPatientGroupReader(brokers []string, group, topic string, errorLog *slog.Logger, minBytes int, maxWait time.Duration) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		GroupID:        group,
		Topic:          topic,
		MinBytes:       minBytes,
		MaxBytes:       10 << 20,
		MaxWait:        maxWait,
		CommitInterval: 0,
		StartOffset:    kafka.FirstOffset,
		// Faster than the 3s default so a member that dies is noticed and
		// its partitions move sooner; well inside the session timeout.
		HeartbeatInterval: 1 * time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		// Retry a failed join quickly (default 5s) so a restart of the
		// broker does not stall consumers for long.
		JoinGroupBackoff:      1 * time.Second,
		ReadBackoffMin:        50 * time.Millisecond,
		ReadBackoffMax:        1 * time.Second,
		WatchPartitionChanges: true,
		ErrorLogger:           errorLogger(errorLog),
		Dialer:                c.dialer(10 * time.Second),
	})
}

// DeleteTopics deletes topics through the cluster's controller. Tests and tools that
// create topics of their own delete them, so a broker that lives across runs does not
// gather thousands of partitions to load at every start. A topic that does not exist
// is not an error.
func (c Client) DeleteTopics(ctx context.Context, brokers []string, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultEnsureTimeout)
	defer cancel()
	return c.withAnyConn(ctx, brokers, func(conn *kafka.Conn) error {
		ctrl, err := conn.Controller()
		if err != nil {
			return err
		}
		return c.withConn(ctx, net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)), func(cc *kafka.Conn) error {
			err := cc.DeleteTopics(topics...)
			if errors.Is(err, kafka.UnknownTopicOrPartition) {
				return nil
			}
			return err
		})
	})
}

// minInSync is the min.insync.replicas a topic of rf replicas is created with:
// min(2, rf). With the writer's acks=all, a write is acknowledged only once that many
// replicas have it, so with three brokers an acknowledged message (an outbox row
// marked sent) survives the loss of any one broker. A cluster of one broker cannot
// do better than one copy; that is the local and test setup, not production.
func minInSync(rf int) int { return min(2, rf) }

// createTopics sends one CreateTopics request to the controller.
func (c Client) createTopics(ctx context.Context, brokers []string, partitions int, topics []string) error {
	return c.withAnyConn(ctx, brokers, func(conn *kafka.Conn) error {
		bs, err := conn.Brokers()
		if err != nil {
			return err
		}
		rf := min(len(bs), maxReplicationFactor)
		if rf < 1 {
			return errors.New("metadata lists no brokers")
		}
		ctrl, err := conn.Controller()
		if err != nil {
			return err
		}
		configs := make([]kafka.TopicConfig, len(topics))
		for i, t := range topics {
			configs[i] = kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: rf,
				ConfigEntries: []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(minInSync(rf))}}}
		}
		// Topic creation must be handled by the controller; older brokers
		// reject it elsewhere (KRaft brokers would forward it anyway).
		// (*Conn).CreateTopics already treats TopicAlreadyExists as success.
		addr := net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port))
		return c.withConn(ctx, addr, func(cc *kafka.Conn) error {
			return cc.CreateTopics(configs...)
		})
	})
}

// topicsReady returns nil when every topic has at least one partition and
// every partition has a leader.
func (c Client) topicsReady(ctx context.Context, brokers []string, topics []string) error {
	return c.withAnyConn(ctx, brokers, func(conn *kafka.Conn) error {
		// Note: kafka-go sends this metadata request with
		// AllowAutoTopicCreation=true. That is harmless here because the
		// topics were just created, but it is why Ping does not name topics.
		parts, err := conn.ReadPartitions(topics...)
		if err != nil {
			return err
		}
		seen := make(map[string]int, len(topics))
		for _, p := range parts {
			if p.Error != nil {
				return fmt.Errorf("topic %s partition %d: %w", p.Topic, p.ID, p.Error)
			}
			// An unknown leader id (-1 while electing) maps to a zero Broker.
			if p.Leader.Host == "" {
				return fmt.Errorf("topic %s partition %d: no leader yet", p.Topic, p.ID)
			}
			seen[p.Topic]++
		}
		for _, t := range topics {
			if seen[t] == 0 {
				return fmt.Errorf("topic %s: no partitions in metadata yet", t)
			}
		}
		return nil
	})
}

// withAnyConn runs fn on a connection to the first broker that accepts one.
func (c Client) withAnyConn(ctx context.Context, brokers []string, fn func(*kafka.Conn) error) error {
	var errs []error
	for _, addr := range brokers {
		err := c.withConn(ctx, addr, fn)
		if err == nil {
			return nil
		}
		var kerr kafka.Error
		if errors.As(err, &kerr) {
			return err // the broker answered: trying another will not help
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// withConn dials addr, runs fn, and closes the connection. The connection's
// deadline is the context's, and cancelling ctx closes the connection, so fn
// cannot block past ctx even if the broker stops answering mid-request.
func (c Client) withConn(ctx context.Context, addr string, fn func(*kafka.Conn) error) error {
	conn, err := c.dialer(0).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := fn(conn); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		// The conn deadline equals ctx's and can fire a hair before ctx
		// reports Done; name the cause the same way in both cases.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
		}
		return err
	}
	return nil
}

// withDefaultTimeout bounds ctx by d unless it already has a deadline.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// retriable reports whether a topic creation error may go away on its own:
// network errors (broker restarting) and Kafka errors flagged temporary
// (e.g. NotController after a controller move).
func retriable(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary()
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, net.ErrClosed)
}

// sleep waits d or until ctx is done, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errorLogger routes kafka-go's own error reports (failed joins, metadata errors) to
// the service's log; nil discards them.
func errorLogger(l *slog.Logger) kafka.Logger {
	if l == nil {
		return nil
	}
	return kafka.LoggerFunc(func(format string, args ...any) {
		detail := strings.TrimSpace(fmt.Sprintf(format, args...))
		// A long poll that ends with nothing to read reports an i/o timeout: ordinary
		// life, not a warning. A broker that is really away shows up as refused
		// connections and failed joins, which stay warnings.
		if strings.Contains(detail, "i/o timeout") {
			l.Debug("kafka client", "detail", detail)
			return
		}
		l.Warn("kafka client", "detail", detail)
	})
}
