package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/retry"
)

// Handler applies one message, in one database transaction of its own. It must be
// idempotent: a message can arrive more than once.
type Handler func(ctx context.Context, msg kafka.Message) error

// ConsumerMetrics are the consumer's metrics, labelled by topic.
type ConsumerMetrics struct {
	lag         *prometheus.GaugeVec
	deadLetters *prometheus.CounterVec
	handled     *prometheus.CounterVec
}

// NewConsumerMetrics registers the consumer metrics on reg.
func NewConsumerMetrics(reg prometheus.Registerer) *ConsumerMetrics {
	m := &ConsumerMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_consumer_lag", Help: "Messages behind the end of the topic, as last seen by the consumer.",
		}, []string{"topic"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_dlq_messages_total", Help: "Messages moved to the dead-letter topic.",
		}, []string{"topic"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_consumer_messages_total", Help: "Messages handled, by topic and result (ok, retry, dead_letter).",
		}, []string{"topic", "result"}),
	}
	reg.MustRegister(m.lag, m.deadLetters, m.handled)
	return m
}

// Consumer runs the fetch, handle, commit loop of one topic:
//   - the offset is committed only after the handler's transaction committed, so a
//     crash in between redelivers the message (at least once; handlers are idempotent);
//   - a transient failure (IsTransient: a shard or the network is away) is retried with
//     capped, jittered exponential backoff for as long as it lasts, and the message is
//     never skipped;
//   - any other failure is retried MaxTries times, then the message goes to the
//     dead-letter topic with the error attached, and the partition moves on.
type Consumer struct {
	Reader      *kafka.Reader
	DeadLetters *kafka.Writer
	DLQTopic    string
	Handle      Handler
	IsTransient func(error) bool
	MaxTries    int
	Logger      *slog.Logger
	Metrics     *ConsumerMetrics
}

// Dead-letter headers.
const (
	HeaderError     = "dlq-error"
	HeaderTopic     = "dlq-source-topic"
	HeaderPartition = "dlq-source-partition"
	HeaderOffset    = "dlq-source-offset"
	HeaderTries     = "dlq-tries"
)

// Run consumes until ctx ends. A message being handled when ctx ends is finished
// first (its transaction commits or rolls back); its offset is then left uncommitted
// if it could not be, and the message is delivered again later.
func (c *Consumer) Run(ctx context.Context) {
	topic := c.Reader.Config().Topic
	fetchBackoff := retry.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}
	for ctx.Err() == nil {
		msg, err := c.Reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.Logger.Warn("kafka fetch failed", "topic", topic, "error", err.Error())
				retry.Sleep(ctx, fetchBackoff.Next())
			}
			continue
		}
		fetchBackoff.Reset()
		if !c.process(ctx, msg) {
			return
		}
		for ctx.Err() == nil {
			err := c.Reader.CommitMessages(ctx, msg)
			if err == nil {
				break
			}
			c.Logger.Warn("kafka commit failed", "topic", topic, "error", err.Error())
			retry.Sleep(ctx, fetchBackoff.Next())
		}
		// Reader.Lag is -1 for group readers; Stats carries the lag the partition
		// readers last observed (the partition read last, when there are several).
		c.Metrics.lag.WithLabelValues(topic).Set(float64(c.Reader.Stats().Lag))
	}
}

// process handles msg until it succeeds or is dead-lettered (true), or ctx ends
// before either (false).
func (c *Consumer) process(ctx context.Context, msg kafka.Message) bool {
	topic := c.Reader.Config().Topic
	backoff := retry.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	failures := 0
	for {
		// The handler runs to completion even during shutdown: its own transaction
		// decides, never a cancellation halfway.
		err := c.Handle(context.WithoutCancel(ctx), msg)
		if err == nil {
			c.Logger.Debug("message handled", "topic", topic, "partition", msg.Partition, "offset", msg.Offset, "key", string(msg.Key), "type", Header(msg, "type"))
			c.Metrics.handled.WithLabelValues(topic, "ok").Inc()
			return true
		}
		transient := c.IsTransient != nil && c.IsTransient(err)
		if !transient {
			failures++
		}
		log := c.Logger.With("topic", topic, "partition", msg.Partition, "offset", msg.Offset, "key", string(msg.Key), "error", err.Error())
		if failures >= c.MaxTries {
			log.Error("message failed every try; dead-lettering it", "tries", failures)
			return c.deadLetter(ctx, msg, err, failures)
		}
		log.Warn("message failed; retrying", "transient", transient, "tries", failures)
		c.Metrics.handled.WithLabelValues(topic, "retry").Inc()
		retry.Sleep(ctx, backoff.Next())
		if ctx.Err() != nil {
			return false
		}
	}
}

func (c *Consumer) deadLetter(ctx context.Context, msg kafka.Message, cause error, tries int) bool {
	headers := append([]kafka.Header(nil), msg.Headers...)
	headers = append(headers,
		kafka.Header{Key: HeaderError, Value: []byte(cause.Error())},
		kafka.Header{Key: HeaderTopic, Value: []byte(msg.Topic)},
		kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(msg.Partition))},
		kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
		kafka.Header{Key: HeaderTries, Value: []byte(strconv.Itoa(tries))},
	)
	out := kafka.Message{Topic: c.DLQTopic, Key: msg.Key, Value: msg.Value, Headers: headers}
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		err := c.DeadLetters.WriteMessages(ctx, out)
		if err == nil {
			c.Metrics.deadLetters.WithLabelValues(msg.Topic).Inc()
			c.Metrics.handled.WithLabelValues(msg.Topic, "dead_letter").Inc()
			return true
		}
		c.Logger.Warn("dead-letter publish failed", "error", err.Error())
		retry.Sleep(ctx, backoff.Next())
	}
	return false
}

// Header returns the value of a message header, or "".
func Header(msg kafka.Message, key string) string {
	for _, h := range msg.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// ReadAll reads every message currently in topic (all partitions, from the oldest
// retained), without a consumer group, for operators' tools and tests.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	var partitions []kafka.Partition
	err := withAnyConn(ctx, brokers, func(conn *kafka.Conn) error {
		var err error
		partitions, err = conn.ReadPartitions(topic)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, p := range partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
		if err != nil {
			return nil, err
		}
		first, last, err := conn.ReadOffsets()
		conn.Close()
		if err != nil {
			return nil, err
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 50 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			r.Close()
			return nil, err
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("partition %d: %w", p.ID, err)
			}
			out = append(out, m)
			if m.Offset >= last-1 {
				break
			}
		}
		r.Close()
	}
	return out, nil
}
