package kafkabus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// ReadAll reads every message currently in topic (all partitions, from the oldest
// retained), without a consumer group, for operators' tools and tests.
func (c Client) ReadAll(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	var partitions []kafka.Partition
	err := c.withAnyConn(ctx, brokers, func(conn *kafka.Conn) error {
		var err error
		partitions, err = conn.ReadPartitions(topic)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for _, p := range partitions {
		conn, err := c.dialer(0).DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
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
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MinBytes: 1, MaxBytes: 10 << 20,
			MaxWait: 50 * time.Millisecond, Dialer: c.dialer(10 * time.Second)})
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
