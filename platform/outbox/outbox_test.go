package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
)

// TestTwoRelaysPublishEachMessageOnceInOrder runs two relays on one shard, as two
// replicas would, against a real broker: every committed message is published exactly
// once, in commit order per key, and a rolled-back message never is.
func TestTwoRelaysPublishEachMessageOnceInOrder(t *testing.T) {
	brokers := os.Getenv("KAFKA_BROKERS")
	if brokers == "" {
		t.Fatal("KAFKA_BROKERS is not set: run the tests with `make test`")
	}
	shards, _ := pgtest.NewShards(t, "s0")
	pool := shards["s0"].Pool
	topic := fmt.Sprintf("outbox-test-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(ctx, strings.Split(brokers, ","), 4, topic); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = kafkabus.DeleteTopics(context.Background(), strings.Split(brokers, ","), topic) }()
	w := kafkabus.NewWriter(strings.Split(brokers, ","))
	defer w.Close()
	var mu sync.Mutex
	publishers := map[string]int{}
	publish := func(name string) Publish {
		return func(ctx context.Context, msgs []Message) error {
			mu.Lock()
			publishers[name] += len(msgs)
			mu.Unlock()
			out := make([]kafka.Message, len(msgs))
			for i, m := range msgs {
				out[i] = kafka.Message{Topic: topic, Key: []byte(m.Key), Value: m.Payload}
			}
			return w.WriteMessages(ctx, out...)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := NewMetrics(prometheus.NewRegistry())
	relayCtx, stopRelays := context.WithCancel(ctx)
	var relays sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		relays.Add(1)
		r := &Relay{Shard: "s0", Pool: pool, Regions: []string{"x"}, Publish: publish(name), Logger: logger, Metrics: metrics}
		go func() { defer relays.Done(); r.Run(relayCtx) }()
	}

	const keys, perKey = 5, 20
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			msg := Message{Region: "x", Key: fmt.Sprint("key-", k), Type: "t", Payload: []byte(fmt.Sprint(i))}
			if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error { return EnqueueTx(ctx, tx, msg) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A message whose transaction rolls back must never be published.
	_ = pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := EnqueueTx(ctx, tx, Message{Region: "x", Key: "key-0", Type: "t", Payload: []byte("rolled back")}); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})

	var got []kafka.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < keys*perKey && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		var err error
		if got, err = kafkabus.ReadAll(ctx, strings.Split(brokers, ","), topic); err != nil {
			t.Fatal(err)
		}
	}
	stopRelays()
	relays.Wait()
	if len(got) != keys*perKey {
		t.Fatalf("published %d messages, want %d", len(got), keys*perKey)
	}
	next := map[string]int{}
	for _, m := range got {
		want := fmt.Sprint(next[string(m.Key)])
		if string(m.Value) != want {
			t.Fatalf("key %s: got %q, want %q (out of order, duplicated or rolled back)", m.Key, m.Value, want)
		}
		next[string(m.Key)]++
	}
	if len(publishers) != 1 {
		t.Fatalf("both relays published: %v (the lease must elect one)", publishers)
	}
	var unsent int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`).Scan(&unsent); err != nil || unsent != 0 {
		t.Fatalf("unsent messages left: %d, %v", unsent, err)
	}
}
