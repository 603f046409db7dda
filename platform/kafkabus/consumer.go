package kafkabus

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/retry"
	"example.com/wallet/platform/tracing"
)

// Message is a fetched message as handlers see it: no kafka-go type reaches them.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	// Headers by name; of a name sent twice, the last value.
	Headers map[string]string
	// Trace is the context of the message's consume span (SpanProcess), a child of
	// the producer's span its W3C headers name: what the handler's own spans of this
	// message are children of.
	Trace trace.SpanContext
}

// SpanProcess is the name of the consumer's span for one message, from its fetch until
// it is applied or dead-lettered.
const SpanProcess = "kafka process"

// TraceHeaders are the W3C Trace Context headers (traceparent, tracestate) that carry
// sc to the consumer; none when sc is invalid. They are metadata beside the message,
// never part of its key or value.
func TraceHeaders(sc trace.SpanContext) []kafka.Header {
	if !sc.IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	tracing.Inject(sc, carrier)
	headers := make([]kafka.Header, 0, len(carrier))
	for _, k := range tracing.Fields() {
		if v, ok := carrier[k]; ok {
			headers = append(headers, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	return headers
}

// Header returns the value of one of the message's headers, or "".
func (m Message) Header(key string) string { return m.Headers[key] }

// Header returns the value of one of a kafka-go message's headers, or "", for tools
// that read topics directly (dead letters).
func Header(msg kafka.Message, key string) string { return headerOf(msg.Headers, key) }

func headerOf(headers []kafka.Header, key string) string {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// ConsumerMetrics are the consumer's metrics, labelled by topic (and lane).
type ConsumerMetrics struct {
	lag         *prometheus.GaugeVec
	laneBacklog *prometheus.GaugeVec
	deadLetters *prometheus.CounterVec
	handled     *prometheus.CounterVec
	batchSize   *prometheus.HistogramVec
}

// NewConsumerMetrics registers the consumer metrics on reg.
func NewConsumerMetrics(reg prometheus.Registerer) *ConsumerMetrics {
	m := &ConsumerMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_consumer_lag", Help: "Messages behind the end of the topic, as last seen by the consumer.",
		}, []string{"topic"}),
		laneBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_consumer_lane_backlog", Help: "Messages fetched and waiting to be applied, by lane (shard).",
		}, []string{"topic", "lane"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_dlq_messages_total", Help: "Messages moved to the dead-letter topic.",
		}, []string{"topic"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wallet_consumer_messages_total", Help: "Messages handled, by topic and result (ok, retry, dead_letter).",
		}, []string{"topic", "result"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wallet_consumer_batch_messages", Help: "Messages applied per transaction, by lane.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}, []string{"topic", "lane"}),
	}
	reg.MustRegister(m.lag, m.laneBacklog, m.deadLetters, m.handled, m.batchSize)
	return m
}

// Consumer consumes one topic in parallel lanes. Each fetched message is decoded and
// assigned a lane (for the wallet: the shard it touches). Lanes run in parallel and
// apply their messages in the order they were fetched, in batches: all messages
// waiting in a lane go into one call of Apply, which applies them in one transaction.
// So a shard that is slow or down holds back only its own lane, and under load one
// transaction carries many messages.
//
// Guarantees:
//   - at least once, never skipped: a partition's offset is committed only up to the
//     first message that has not been applied (or dead-lettered), however far other
//     lanes have gone; a crash redelivers what was not committed, and Apply must be
//     idempotent;
//   - order: messages of one lane are applied in the order they were fetched, so
//     messages of one key that share a lane keep their order within a partition;
//   - a batch that fails with a transient error (Permanent reports false) is retried
//     whole, with capped jittered backoff, for as long as the error lasts;
//   - a batch that fails permanently is split and each message applied alone; a
//     message that fails permanently MaxTries times goes to the dead-letter topic with
//     the error attached, and its lane moves on;
//   - a message that cannot be decoded is dead-lettered at once.
//
// A lane holds at most LaneCapacity fetched messages; when one is full, fetching
// waits, and the other lanes then drain what they have and wait too. The bound keeps
// the memory of a region with a shard down for hours finite.
type Consumer[T any] struct {
	Reader      *kafka.Reader
	DeadLetters *kafka.Writer
	DLQTopic    string
	// Decode turns a message into its value and lane. An error means it can never be
	// applied.
	Decode func(Message) (T, string, error)
	// Apply applies a batch of one lane's messages in one transaction.
	Apply func(ctx context.Context, lane string, batch []T) error
	// Permanent reports errors that retrying cannot cure (undecodable, protocol
	// violation, data errors); every other error is retried for as long as it lasts.
	Permanent    func(error) bool
	MaxTries     int
	MaxBatch     int
	LaneCapacity int
	Logger       *slog.Logger
	Metrics      *ConsumerMetrics

	mu    sync.Mutex
	lanes map[string]*lane[T]
	track *offsets
	topic string
}

// lane is one lane's queue and worker.
type lane[T any] struct {
	name  string
	queue chan fetched[T]
}

type fetched[T any] struct {
	raw   kafka.Message
	value T
	span  trace.Span // SpanProcess, ended once the message is applied or dead-lettered
}

// Dead-letter headers.
const (
	HeaderError     = "dlq-error"
	HeaderTopic     = "dlq-source-topic"
	HeaderPartition = "dlq-source-partition"
	HeaderOffset    = "dlq-source-offset"
	HeaderTries     = "dlq-tries"
)

// commitInterval is how often applied offsets are committed to the broker. Offsets are
// only ever committed after their messages' effects; a crash between an effect and
// its commit redelivers, which Apply absorbs.
const commitInterval = 100 * time.Millisecond

// Run consumes until ctx ends. Batches being applied when ctx ends are finished
// (their transactions commit or roll back), the offsets they cover are committed,
// and what was fetched but not applied is delivered again later.
func (c *Consumer[T]) Run(ctx context.Context) {
	c.topic = c.Reader.Config().Topic
	// The dead-letter counter exists at 0 from the start: a series born at 1 shows no
	// increase to rate() or increase(), so the first dead letters would never alert.
	c.Metrics.deadLetters.WithLabelValues(c.topic).Add(0)
	c.lanes = map[string]*lane[T]{}
	c.track = newOffsets()
	if c.MaxBatch < 1 {
		c.MaxBatch = 256
	}
	if c.LaneCapacity < c.MaxBatch {
		c.LaneCapacity = 4 * c.MaxBatch
	}
	var workers sync.WaitGroup
	commitDone := make(chan struct{})
	stopCommits := make(chan struct{})
	go func() {
		defer close(commitDone)
		c.commitLoop(stopCommits)
	}()
	fetchBackoff := retry.Backoff{Min: 50 * time.Millisecond, Max: time.Second}
	for ctx.Err() == nil {
		msg, err := c.Reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.Logger.Warn("kafka fetch failed", "topic", c.topic, "error", err.Error())
				retry.Sleep(ctx, fetchBackoff.Next())
			}
			continue
		}
		fetchBackoff.Reset()
		c.track.fetched(msg.Partition, msg.Offset)
		m := fromKafka(msg)
		span := c.startProcess(ctx, m)
		m.Trace = span.SpanContext()
		value, laneName, err := c.Decode(m)
		if err != nil {
			c.Logger.Error("undecodable message; dead-lettering it", "topic", c.topic, "partition", msg.Partition, "offset", msg.Offset, "error", err.Error())
			if c.deadLetter(ctx, msg, err, 1) {
				c.track.done(msg.Partition, msg.Offset)
			}
			tracing.End(span, err)
			continue
		}
		l := c.lane(ctx, laneName, &workers)
		if span.IsRecording() {
			span.SetAttributes(attribute.String("wallet.lane", laneName))
		}
		select {
		case l.queue <- fetched[T]{raw: msg, value: value, span: span}:
			c.Metrics.laneBacklog.WithLabelValues(c.topic, laneName).Set(float64(len(l.queue)))
		case <-ctx.Done():
		}
	}
	workers.Wait()
	close(stopCommits)
	<-commitDone
}

// Backlog is how many fetched messages wait in lane laneName: what back-pressure
// watches.
func (c *Consumer[T]) Backlog(laneName string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lanes[laneName]; ok {
		return len(l.queue)
	}
	return 0
}

// lane returns the lane named name, starting its worker the first time.
func (c *Consumer[T]) lane(ctx context.Context, name string, workers *sync.WaitGroup) *lane[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.lanes[name]; ok {
		return l
	}
	l := &lane[T]{name: name, queue: make(chan fetched[T], c.LaneCapacity)}
	c.lanes[name] = l
	workers.Add(1)
	go func() {
		defer workers.Done()
		c.work(ctx, l)
	}()
	return l
}

// work applies l's messages in batches until ctx ends.
func (c *Consumer[T]) work(ctx context.Context, l *lane[T]) {
	batch := make([]fetched[T], 0, c.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case first := <-l.queue:
			batch = append(batch[:0], first)
		}
	drain:
		for len(batch) < c.MaxBatch {
			select {
			case next := <-l.queue:
				batch = append(batch, next)
			default:
				break drain
			}
		}
		c.Metrics.laneBacklog.WithLabelValues(c.topic, l.name).Set(float64(len(l.queue)))
		c.Metrics.batchSize.WithLabelValues(c.topic, l.name).Observe(float64(len(batch)))
		if !c.applyBatch(ctx, l.name, batch) {
			return
		}
	}
}

// applyBatch applies batch until it succeeds, or splits it when it fails
// permanently. It returns false when ctx ended first (nothing more is marked done).
func (c *Consumer[T]) applyBatch(ctx context.Context, laneName string, batch []fetched[T]) bool {
	values := make([]T, len(batch))
	for i, f := range batch {
		values[i] = f.value
	}
	backoff := retry.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	for {
		// The transaction runs to completion even during shutdown: it decides, never
		// a cancellation halfway.
		err := c.Apply(context.WithoutCancel(ctx), laneName, values)
		if err == nil {
			for _, f := range batch {
				c.track.done(f.raw.Partition, f.raw.Offset)
				f.span.End()
			}
			c.Metrics.handled.WithLabelValues(c.topic, "ok").Add(float64(len(batch)))
			return true
		}
		if c.Permanent(err) {
			if len(batch) == 1 {
				return c.applyAlone(ctx, laneName, batch[0], err)
			}
			c.Logger.Warn("batch failed permanently; applying its messages one by one", "topic", c.topic, "lane", laneName, "messages", len(batch), "error", err.Error())
			for _, f := range batch {
				if !c.applyBatch(ctx, laneName, []fetched[T]{f}) {
					return false
				}
			}
			return true
		}
		c.Logger.Warn("batch failed; retrying", "topic", c.topic, "lane", laneName, "messages", len(batch), "error", err.Error())
		c.Metrics.handled.WithLabelValues(c.topic, "retry").Add(float64(len(batch)))
		retry.Sleep(ctx, backoff.Next())
		if ctx.Err() != nil {
			return false
		}
	}
}

// applyAlone retries one message that failed permanently (err) up to MaxTries
// tries in all, then dead-letters it. Transient failures on the way do not count.
func (c *Consumer[T]) applyAlone(ctx context.Context, laneName string, f fetched[T], err error) bool {
	backoff := retry.Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}
	failures := 1
	for {
		log := c.Logger.With("topic", c.topic, "lane", laneName, "partition", f.raw.Partition, "offset", f.raw.Offset, "key", string(f.raw.Key), "error", err.Error())
		if failures >= c.MaxTries {
			log.Error("message failed every try; dead-lettering it", "tries", failures)
			if !c.deadLetter(ctx, f.raw, err, failures) {
				return false
			}
			c.track.done(f.raw.Partition, f.raw.Offset)
			tracing.End(f.span, err)
			return true
		}
		log.Warn("message failed; retrying", "tries", failures)
		c.Metrics.handled.WithLabelValues(c.topic, "retry").Inc()
		retry.Sleep(ctx, backoff.Next())
		if ctx.Err() != nil {
			return false
		}
		err = c.Apply(context.WithoutCancel(ctx), laneName, []T{f.value})
		switch {
		case err == nil:
			c.track.done(f.raw.Partition, f.raw.Offset)
			c.Metrics.handled.WithLabelValues(c.topic, "ok").Inc()
			f.span.End()
			return true
		case c.Permanent(err):
			failures++
		}
	}
}

func (c *Consumer[T]) deadLetter(ctx context.Context, msg kafka.Message, cause error, tries int) bool {
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

// commitLoop commits applied offsets every commitInterval, and once more when stop
// closes.
func (c *Consumer[T]) commitLoop(stop <-chan struct{}) {
	tick := time.NewTicker(commitInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			c.commit()
			return
		case <-tick.C:
			c.commit()
		}
	}
}

func (c *Consumer[T]) commit() {
	var msgs []kafka.Message
	for partition, next := range c.track.advanced() {
		// CommitMessages commits each message's offset + 1: the next one to read.
		msgs = append(msgs, kafka.Message{Topic: c.topic, Partition: partition, Offset: next - 1})
	}
	if len(msgs) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Reader.CommitMessages(ctx, msgs...)
		cancel()
		if err != nil {
			c.Logger.Warn("kafka commit failed", "topic", c.topic, "error", err.Error())
			c.track.uncommit(msgs)
		}
	}
	// Reader.Lag is -1 for group readers; Stats carries the lag the partition readers
	// last observed (the partition read last, when there are several).
	c.Metrics.lag.WithLabelValues(c.topic).Set(float64(c.Reader.Stats().Lag))
}

// startProcess starts m's consume span, a child of the producer's span its headers
// name (a root when they name none). With tracing off and no headers it costs nothing.
func (c *Consumer[T]) startProcess(ctx context.Context, m Message) trace.Span {
	parent := tracing.Extract(propagation.MapCarrier(m.Headers))
	if !tracing.Wanted(parent) {
		return trace.SpanFromContext(ctx)
	}
	_, span := tracing.StartFrom(ctx, parent, SpanProcess,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.system", "kafka"), attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", m.Topic), attribute.Int("messaging.destination.partition.id", m.Partition),
			attribute.Int64("messaging.kafka.offset", m.Offset), attribute.String("messaging.kafka.message.key", string(m.Key))))
	return span
}

func fromKafka(m kafka.Message) Message {
	headers := make(map[string]string, len(m.Headers))
	for _, h := range m.Headers {
		headers[h.Key] = string(h.Value)
	}
	return Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: headers}
}
