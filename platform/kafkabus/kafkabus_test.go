package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// These tests run against a real broker on purpose: the wallet's correctness
// depends on broker behaviour (acks, group offsets, redelivery) that a fake
// would only restate. They fail, rather than skip, without one, so a CI run
// that forgot to start Kafka cannot pass silently.

func testBrokers(t *testing.T) []string {
	t.Helper()
	env := os.Getenv("KAFKA_BROKERS")
	var brokers []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		t.Fatal("KAFKA_BROKERS is not set: start a broker with `scripts/kafka.sh up` and run " +
			"`KAFKA_BROKERS=127.0.0.1:9092 go test ./platform/kafkabus/`")
	}
	return brokers
}

// deleteAfter deletes the test's topics when it ends: a broker that lives across runs
// must not gather them by the thousand (it loads every partition at each start).
func deleteAfter(t *testing.T, brokers []string, topics ...string) {
	t.Cleanup(func() {
		if err := DeleteTopics(context.Background(), brokers, topics...); err != nil {
			t.Logf("deleting %v: %v", topics, err)
		}
	})
}

// uniqueName gives every test run its own topics and groups, so reruns and
// parallel runs against the same broker never see each other's data.
func uniqueName(t *testing.T, kind string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("kafkabus-test-%s-%s-%d", kind, name, time.Now().UnixNano())
}

func TestPingUp(t *testing.T) {
	brokers := testBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ping(ctx, brokers); err != nil {
		t.Fatalf("Ping(%v) = %v, want nil", brokers, err)
	}
	// A dead address first must not hide a live one after it.
	if err := Ping(ctx, append([]string{"127.0.0.1:1"}, brokers...)); err != nil {
		t.Fatalf("Ping with a dead first address = %v, want nil", err)
	}
}

func TestPingClosedPortFailsFast(t *testing.T) {
	const budget = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err := Ping(ctx, []string{"127.0.0.1:1"})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Ping(127.0.0.1:1) = nil, want an error")
	}
	if elapsed > budget+250*time.Millisecond {
		t.Fatalf("Ping(127.0.0.1:1) took %v, beyond its %v context", elapsed, budget)
	}
	t.Logf("closed port: %v after %v", err, elapsed)
}

// A broker that accepts connections but never answers (hung JVM, full
// accept queue behind a proxy) must still not hold /readyz past its deadline.
func TestPingSilentBrokerRespectsDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accept, read nothing, answer nothing
		}
	}()

	const budget = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err = Ping(ctx, []string{ln.Addr().String()})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Ping(silent listener) = nil, want an error")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping(silent listener) = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed > budget+500*time.Millisecond {
		t.Fatalf("Ping(silent listener) took %v, beyond its %v context", elapsed, budget)
	}
}

func TestEnsureTopicsIdempotent(t *testing.T) {
	brokers := testBrokers(t)
	a, b := uniqueName(t, "a"), uniqueName(t, "b")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	deleteAfter(t, brokers, a, b)
	if err := EnsureTopics(ctx, brokers, 3, a); err != nil {
		t.Fatalf("first EnsureTopics(%s) = %v", a, err)
	}
	// Again, plus a new one in the same call: existing topics are fine.
	if err := EnsureTopics(ctx, brokers, 3, a, b); err != nil {
		t.Fatalf("second EnsureTopics(%s, %s) = %v", a, b, err)
	}
	// Asking for more partitions does not touch an existing topic.
	if err := EnsureTopics(ctx, brokers, 5, a); err != nil {
		t.Fatalf("third EnsureTopics(%s) = %v", a, err)
	}

	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	parts, err := conn.ReadPartitions(a, b)
	if err != nil {
		t.Fatalf("ReadPartitions: %v", err)
	}
	got := map[string]map[int]bool{}
	for _, p := range parts {
		if p.Leader.Host == "" {
			t.Errorf("%s/%d has no leader after EnsureTopics", p.Topic, p.ID)
		}
		if got[p.Topic] == nil {
			got[p.Topic] = map[int]bool{}
		}
		got[p.Topic][p.ID] = true
	}
	for _, topic := range []string{a, b} {
		if n := len(got[topic]); n != 3 {
			t.Errorf("topic %s has %d partitions, want 3", topic, n)
		}
	}

	// With acks=all, min.insync.replicas decides how many copies an acknowledged write
	// has: min(2, replicas), so one here (one broker), two on a three-broker cluster.
	client := &kafka.Client{Addr: kafka.TCP(brokers[0]), Timeout: 10 * time.Second}
	resp, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: a, ConfigNames: []string{"min.insync.replicas"}},
	}})
	if err != nil {
		t.Fatalf("DescribeConfigs: %v", err)
	}
	var minISR string
	var source int8
	for _, r := range resp.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "min.insync.replicas" {
				minISR, source = e.ConfigValue, e.ConfigSource
			}
		}
	}
	// Source 1 is DYNAMIC_TOPIC_CONFIG: set on the topic, not the broker's default.
	if want := strconv.Itoa(minInSync(len(parts[0].Replicas))); minISR != want || source != 1 {
		t.Errorf("topic %s: min.insync.replicas = %q (source %d), want %s set on the topic", a, minISR, source, want)
	}

	if err := EnsureTopics(ctx, brokers, 0, a); err == nil {
		t.Error("EnsureTopics with 0 partitions = nil, want an error")
	}
}

func TestWriterDoesNotAutoCreateTopics(t *testing.T) {
	brokers := testBrokers(t)
	missing := uniqueName(t, "missing")
	w := NewWriter(brokers)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := w.WriteMessages(ctx, kafka.Message{Topic: missing, Key: []byte("k"), Value: []byte("v")})
	if err == nil {
		t.Fatalf("WriteMessages to missing topic %s = nil, want an error", missing)
	}
	if ctx.Err() != nil {
		t.Fatalf("WriteMessages to missing topic only failed by running out of time: %v", err)
	}
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("WriteMessages to missing topic = %v, want UnknownTopicOrPartition", err)
	}

	// And the topic really was not created behind our back. A fresh
	// transport makes the client fetch metadata instead of using a cache.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	for _, topic := range md.Topics {
		if topic.Name == missing {
			t.Fatalf("topic %s exists after a failed write: writer auto-created it", missing)
		}
	}
}

// TestAtLeastOnceGroupDelivery proves the property the wallet's consumers
// depend on: a committed message is not delivered again to the group, an
// uncommitted one is, and per-key order is kept.
func TestAtLeastOnceGroupDelivery(t *testing.T) {
	brokers := testBrokers(t)
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	deleteAfter(t, brokers, topic)
	if err := EnsureTopics(ctx, brokers, 4, topic); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	w := NewWriter(brokers)
	defer w.Close()
	w.Topic = topic

	key := []byte(fmt.Sprintf("transfer-%d", time.Now().UnixNano()))
	write := func(value string) {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
		defer wcancel()
		if err := w.WriteMessages(wctx, kafka.Message{Key: key, Value: []byte(value)}); err != nil {
			t.Fatalf("WriteMessages(%q): %v", value, err)
		}
	}
	// fetch opens a fresh group member, fetches one message, optionally
	// commits it, and closes (leaving the group) before returning.
	fetch := func(commit bool) kafka.Message {
		t.Helper()
		r := NewGroupReader(brokers, group, topic, nil)
		defer func() {
			if err := r.Close(); err != nil {
				t.Errorf("reader Close: %v", err)
			}
		}()
		fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
		defer fcancel()
		m, err := r.FetchMessage(fctx)
		if err != nil {
			t.Fatalf("FetchMessage: %v", err)
		}
		if commit {
			if err := r.CommitMessages(fctx, m); err != nil {
				t.Fatalf("CommitMessages: %v", err)
			}
		}
		return m
	}
	check := func(m kafka.Message, wantValue string) {
		t.Helper()
		if string(m.Key) != string(key) || string(m.Value) != wantValue || m.Topic != topic {
			t.Fatalf("fetched %s/%d@%d key=%q value=%q; want topic %s key=%q value=%q",
				m.Topic, m.Partition, m.Offset, m.Key, m.Value, topic, key, wantValue)
		}
	}

	write("debit:100")
	first := fetch(true)
	check(first, "debit:100")

	// Same key, so same partition, after "debit:100". If the committed
	// message were redelivered it would come first.
	write("credit:100")
	second := fetch(false) // fetched, NOT committed, member leaves
	check(second, "credit:100")
	if second.Partition != first.Partition || second.Offset != first.Offset+1 {
		t.Fatalf("same-key messages at %d@%d then %d@%d; want same partition, consecutive offsets",
			first.Partition, first.Offset, second.Partition, second.Offset)
	}

	again := fetch(true) // the uncommitted message comes back
	check(again, "credit:100")
	if again.Partition != second.Partition || again.Offset != second.Offset {
		t.Fatalf("redelivered %d@%d, want %d@%d", again.Partition, again.Offset, second.Partition, second.Offset)
	}

	// Now that it is committed, the next member sees only new data.
	write("settled")
	last := fetch(true)
	check(last, "settled")
	if last.Offset != again.Offset+1 {
		t.Fatalf("after commit got offset %d, want %d", last.Offset, again.Offset+1)
	}
}
