package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/kafkabus"
)

// dlqCmd runs `wallet dlq list` and `wallet dlq replay [--partition P --offset O]`.
// list prints one JSON object per dead letter; replay puts dead letters back on the
// region's TCC topic (all of them, or the one named), where the consumers' barriers
// make a replay of an already applied step harmless.
func dlqCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return fmt.Errorf("%w: dlq needs list or replay", errUsage)
	}
	action := args[0]
	flags := newFlags("dlq " + action)
	partition := flags.fs.Int("partition", -1, "replay only this partition's message (with --offset)")
	offset := flags.fs.Int64("offset", -1, "replay only the message at this offset (with --partition)")
	cfg, err := flags.load(args[1:], environ)
	if err != nil {
		return err
	}
	client, err := kafkaClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	msgs, err := client.ReadAll(ctx, cfg.Kafka.Brokers, cfg.TopicDLQ(cfg.Region))
	if err != nil {
		return fmt.Errorf("reading %s: %w", cfg.TopicDLQ(cfg.Region), err)
	}
	if action == "list" {
		enc := json.NewEncoder(stdout)
		for _, m := range msgs {
			_ = enc.Encode(map[string]any{
				"partition": m.Partition, "offset": m.Offset, "key": string(m.Key), "time": m.Time.UTC(),
				"error":  kafkabus.Header(m, kafkabus.HeaderError),
				"source": kafkabus.Header(m, kafkabus.HeaderTopic) + "/" + kafkabus.Header(m, kafkabus.HeaderPartition) + "@" + kafkabus.Header(m, kafkabus.HeaderOffset),
				"tries":  kafkabus.Header(m, kafkabus.HeaderTries), "payload": string(m.Value),
			})
		}
		return nil
	}
	w := client.NewWriter(cfg.Kafka.Brokers)
	defer w.Close()
	var out []kafka.Message
	for _, m := range msgs {
		if *partition >= 0 && (m.Partition != *partition || m.Offset != *offset) {
			continue
		}
		headers := []kafka.Header{{Key: "dlq-replayed-from", Value: []byte(fmt.Sprintf("%d@%d", m.Partition, m.Offset))}}
		for _, h := range m.Headers {
			if !strings.HasPrefix(h.Key, "dlq-") {
				headers = append(headers, h)
			}
		}
		out = append(out, kafka.Message{Topic: cfg.TopicTCC(cfg.Region), Key: m.Key, Value: m.Value, Headers: headers})
	}
	if len(out) == 0 {
		return fmt.Errorf("no dead letter matched")
	}
	if err := w.WriteMessages(ctx, out...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %d dead letters to %s\n", len(out), cfg.TopicTCC(cfg.Region))
	return nil
}
