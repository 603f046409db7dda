package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

var errPermanent = errors.New("never applies")

// recorder is a consumer's Apply for tests: it records what each lane applied and
// fails as the test says.
type recorder struct {
	mu      sync.Mutex
	applied map[string][]string
	batches []int
	fail    func(lane string, batch []string) error
}

func (r *recorder) apply(_ context.Context, lane string, batch []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(lane, batch); err != nil {
			return err
		}
	}
	r.applied[lane] = append(r.applied[lane], batch...)
	r.batches = append(r.batches, len(batch))
	return nil
}

func (r *recorder) count(lane string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applied[lane])
}

func newTestConsumer(t *testing.T, brokers []string, group, topic string, rec *recorder) *Consumer[string] {
	return &Consumer[string]{
		Reader:      NewGroupReader(brokers, group, topic, nil),
		DeadLetters: NewWriter(brokers),
		DLQTopic:    topic + ".dlq",
		Decode: func(m Message) (string, string, error) {
			lane, _, ok := strings.Cut(string(m.Value), "-")
			if !ok {
				return "", "", fmt.Errorf("%w: no lane in %q", errPermanent, m.Value)
			}
			return string(m.Value), lane, nil
		},
		Apply:     rec.apply,
		Permanent: func(err error) bool { return errors.Is(err, errPermanent) },
		MaxTries:  2,
		MaxBatch:  64,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:   NewConsumerMetrics(prometheus.NewRegistry()),
	}
}

func writeValues(t *testing.T, ctx context.Context, brokers []string, topic string, values ...string) {
	t.Helper()
	w := NewWriter(brokers)
	defer w.Close()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte("one-partition"), Value: []byte(v)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A lane whose shard is away holds back only itself: the other lane's messages, which
// share its partition, are all applied meanwhile. The partition's offset is never
// committed past the stalled lane's first message, so the next member of the group
// gets every one of them once the shard is back.
func TestStalledLaneHoldsBackOnlyItselfAndIsNeverSkipped(t *testing.T) {
	brokers := testBrokers(t)
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	deleteAfter(t, brokers, topic, topic+".dlq")
	if err := EnsureTopics(ctx, brokers, 1, topic, topic+".dlq"); err != nil {
		t.Fatal(err)
	}
	var values, down []string
	for i := range 40 {
		values = append(values, fmt.Sprintf("up-%02d", i))
		if i%4 == 1 {
			values = append(values, fmt.Sprintf("down-%02d", i))
			down = append(down, fmt.Sprintf("down-%02d", i))
		}
	}
	writeValues(t, ctx, brokers, topic, values...)

	first := &recorder{applied: map[string][]string{}, fail: func(lane string, _ []string) error {
		if lane == "down" {
			return errors.New("shard down: connection refused")
		}
		return nil
	}}
	c1 := newTestConsumer(t, brokers, group, topic, first)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c1.Run(runCtx); close(done) }()
	waitFor(t, 60*time.Second, "every message of the healthy lane applied", func() bool { return first.count("up") == 40 })
	if n := first.count("down"); n != 0 {
		t.Fatalf("the stalled lane applied %d messages", n)
	}
	if !slices.ContainsFunc(first.batches, func(n int) bool { return n > 1 }) {
		t.Errorf("batches %v: waiting messages were never applied together", first.batches)
	}
	stop()
	<-done
	c1.Reader.Close()
	c1.DeadLetters.Close()

	second := &recorder{applied: map[string][]string{}}
	c2 := newTestConsumer(t, brokers, group, topic, second)
	runCtx, stop = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { c2.Run(runCtx); close(done) }()
	waitFor(t, 60*time.Second, "the stalled lane's messages delivered again", func() bool { return second.count("down") == len(down) })
	stop()
	<-done
	c2.Reader.Close()
	c2.DeadLetters.Close()
	if got := second.applied["down"]; !slices.Equal(got, down) {
		t.Fatalf("after the shard came back: %v, want every one in order: %v", got, down)
	}
}

// A batch that fails permanently is split; the message that fails alone goes to the
// dead-letter topic after MaxTries, and its batch-mates are applied.
func TestPermanentFailureDeadLettersOnlyTheCulprit(t *testing.T) {
	brokers := testBrokers(t)
	topic, group := uniqueName(t, "topic"), uniqueName(t, "group")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	deleteAfter(t, brokers, topic, topic+".dlq")
	if err := EnsureTopics(ctx, brokers, 1, topic, topic+".dlq"); err != nil {
		t.Fatal(err)
	}
	writeValues(t, ctx, brokers, topic, "x-0", "x-1", "x-bad", "x-3", "nolane", "x-4")
	rec := &recorder{applied: map[string][]string{}, fail: func(_ string, batch []string) error {
		if slices.Contains(batch, "x-bad") {
			return errPermanent
		}
		return nil
	}}
	c := newTestConsumer(t, brokers, group, topic, rec)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	waitFor(t, 60*time.Second, "the good messages applied", func() bool { return rec.count("x") == 4 })
	var letters []kafka.Message
	waitFor(t, 60*time.Second, "two dead letters", func() bool {
		var err error
		letters, err = ReadAll(ctx, brokers, topic+".dlq")
		return err == nil && len(letters) == 2
	})
	stop()
	<-done
	c.Reader.Close()
	c.DeadLetters.Close()
	if got := rec.applied["x"]; !slices.Equal(got, []string{"x-0", "x-1", "x-3", "x-4"}) {
		t.Fatalf("applied %v", got)
	}
	byValue := map[string]kafka.Message{}
	for _, m := range letters {
		byValue[string(m.Value)] = m
	}
	if m, ok := byValue["x-bad"]; !ok || Header(m, HeaderTries) != "2" || !strings.Contains(Header(m, HeaderError), errPermanent.Error()) {
		t.Fatalf("dead letter of x-bad = %+v", m)
	}
	if m, ok := byValue["nolane"]; !ok || Header(m, HeaderTries) != "1" {
		t.Fatalf("an undecodable message is dead-lettered at once: %+v", m)
	}
}
