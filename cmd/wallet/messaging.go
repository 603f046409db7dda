package main

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"example.com/wallet/modules/transfers"
	"example.com/wallet/modules/webhooks"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/events"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/retry"
)

// messaging holds the region's Kafka writers: one per cluster, shared by every relay
// and the dead-letter path.
type messaging struct {
	cfg           *config.Config
	kafka         kafkabus.Client
	logger        *slog.Logger
	writers       map[string]*kafka.Writer // by broker list
	outboxMetrics *outbox.Metrics
	consumerStats *kafkabus.ConsumerMetrics
}

func newMessaging(cfg *config.Config, client kafkabus.Client, logger *slog.Logger, reg prometheus.Registerer) *messaging {
	m := &messaging{cfg: cfg, kafka: client, logger: logger, writers: map[string]*kafka.Writer{},
		outboxMetrics: outbox.NewMetrics(reg), consumerStats: kafkabus.NewConsumerMetrics(reg)}
	for _, region := range cfg.Regions() {
		brokers := cfg.BrokersOf(region)
		key := strings.Join(brokers, ",")
		if m.writers[key] == nil {
			m.writers[key] = client.NewWriter(brokers)
		}
	}
	return m
}

func (m *messaging) writer(region string) *kafka.Writer {
	return m.writers[strings.Join(m.cfg.BrokersOf(region), ",")]
}

// publish sends relayed outbox messages, all for one destination, in order, waiting
// for every acknowledgement: a region's TCC topic, or this region's event stream
// (events.Destination).
func (m *messaging) publish(ctx context.Context, msgs []outbox.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	region := msgs[0].Region
	if region == events.Destination {
		region = m.cfg.Region
	}
	key := m.cfg.MessageKey(region)
	batch := make([]kafka.Message, 0, len(msgs))
	for _, msg := range msgs {
		if events.IsEvent(msg.Type) {
			// Events announce what already happened and move no money: they are read
			// inside the company, unsigned, and only this region writes its stream.
			published, err := events.Unpack(msg.Payload)
			if err != nil {
				return err
			}
			for _, e := range published {
				batch = append(batch, kafka.Message{Topic: m.cfg.TopicEvents(region), Key: []byte(e.Key), Value: e.Value,
					Headers: append([]kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}, kafkabus.TraceHeaders(msg.Trace)...)})
			}
			continue
		}
		batch = append(batch, kafka.Message{
			Topic: m.cfg.TopicTCC(region),
			Key:   []byte(msg.Key),
			Value: msg.Payload,
			// The trace headers are not signed: they move no money, and a forged one
			// can only mislabel a trace.
			Headers: append([]kafka.Header{{Key: "type", Value: []byte(msg.Type)},
				{Key: transfers.SignatureHeader, Value: []byte(transfers.Sign(key, region, []byte(msg.Key), msg.Payload))}},
				kafkabus.TraceHeaders(msg.Trace)...),
		})
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return m.writer(region).WriteMessages(ctx, batch...)
}

// ensureTopics creates region's TCC topic (and, for this region, its dead-letter
// topic and its event stream), retrying until the broker answers or ctx ends:
// start-up never waits for Kafka.
func (m *messaging) ensureTopics(ctx context.Context, region string) {
	topics := []string{m.cfg.TopicTCC(region)}
	if region == m.cfg.Region {
		topics = append(topics, m.cfg.TopicDLQ(region), m.cfg.TopicEvents(region))
	}
	backoff := retry.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.kafka.EnsureTopics(tctx, m.cfg.BrokersOf(region), m.cfg.Kafka.Partitions, topics...)
		cancel()
		if err == nil {
			return
		}
		m.logger.Warn("creating topics", "topics", topics, "error", err.Error())
		retry.Sleep(ctx, backoff.Next())
	}
}

// consumer builds the region's TCC consumer: one lane per shard, batches of up to
// consumerBatch messages per transaction. The group is named after the topic, so
// every replica of the region shares the partitions.
func (m *messaging) consumer(svc *transfers.Service) *kafkabus.Consumer[transfers.Inbound] {
	topic := m.cfg.TopicTCC(m.cfg.Region)
	return &kafkabus.Consumer[transfers.Inbound]{
		Reader:       m.kafka.NewGroupReader(m.cfg.Kafka.Brokers, topic+".consumers", topic, m.logger),
		DeadLetters:  m.writer(m.cfg.Region),
		DLQTopic:     m.cfg.TopicDLQ(m.cfg.Region),
		Decode:       svc.DecodeInbound,
		Apply:        svc.ApplyInbound,
		Permanent:    transfers.IsPermanent,
		MaxTries:     m.cfg.Transfers.MaxTries,
		MaxBatch:     consumerBatch,
		LaneCapacity: consumerLaneCapacity,
		Logger:       m.logger,
		Metrics:      m.consumerStats,
	}
}

// webhookConsumer builds the consumer of the region's event stream that writes the
// webhooks' deliveries: one lane (the webhook shard), its own group, and patient
// fetches (64 KiB or 200 ms), since a webhook's delivery is not worth the cost of
// fetching every event as it comes.
func (m *messaging) webhookConsumer(svc *webhooks.Service) *kafkabus.Consumer[webhooks.Event] {
	topic := m.cfg.TopicEvents(m.cfg.Region)
	return &kafkabus.Consumer[webhooks.Event]{
		Reader:       m.kafka.NewPatientGroupReader(m.cfg.Kafka.Brokers, topic+".webhooks", topic, m.logger, 64<<10, 200*time.Millisecond),
		DeadLetters:  m.writer(m.cfg.Region),
		DLQTopic:     m.cfg.TopicDLQ(m.cfg.Region),
		Decode:       svc.Decode,
		Apply:        svc.Apply,
		Permanent:    webhooks.IsPermanent,
		MaxTries:     m.cfg.Transfers.MaxTries,
		MaxBatch:     consumerBatch,
		LaneCapacity: consumerLaneCapacity,
		Logger:       m.logger,
		Metrics:      m.consumerStats,
	}
}

const (
	// consumerBatch bounds the messages one transaction applies.
	consumerBatch = 256
	// consumerLaneCapacity bounds the messages fetched for one shard and not yet
	// applied: about 10 MB per shard at most, whatever the outage.
	consumerLaneCapacity = 20_000
)

func (m *messaging) close() {
	for _, w := range m.writers {
		_ = w.Close()
	}
}

// kafkaClient is how the region connects to every Kafka cluster it uses, as its
// configuration says.
func kafkaClient(cfg *config.Config) (kafkabus.Client, error) {
	return kafkabus.NewClient(kafkabus.Security{TLS: cfg.Kafka.TLS.Enabled, CAFile: cfg.Kafka.TLS.CAFile,
		ServerName: cfg.Kafka.TLS.ServerName, Mechanism: cfg.Kafka.SASL.Mechanism,
		Username: cfg.Kafka.SASL.Username, Password: cfg.Kafka.SASL.Password})
}
