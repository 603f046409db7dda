package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
)

// blackhole is a TCP proxy that can stop forwarding without closing anything: to the
// client behind it, the server goes silent, as on a half-open connection after a
// network partition.
type blackhole struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

// sever closes every proxied connection and refuses new ones, so nothing stays
// blocked on the silence when the test ends.
func (b *blackhole) sever() {
	b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(client)
		}
	}()
	return b
}

func (b *blackhole) serve(client net.Conn) {
	server, err := net.Dial("tcp", b.target)
	if err != nil {
		client.Close()
		return
	}
	b.mu.Lock()
	b.conns = append(b.conns, client, server)
	b.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				dst.Close()
				return
			}
			if b.cut.Load() {
				continue // swallowed: nothing arrives, nothing is closed
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
	go pipe(server, client)
	go pipe(client, server)
}

// A leader whose connection goes silent cannot renew its lease; it stops relaying
// before its term ends, and another replica takes over once the lease has lapsed,
// without waiting for any TCP timeout.
func TestLeaderCutOffHandsOverWithinItsTerm(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	direct, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	u, _ := url.Parse(dsn)
	hole := newBlackhole(t, u.Host)
	u.Host = hole.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	behind, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer behind.Close()

	var mu sync.Mutex
	publishedBy := map[string][]string{}
	publish := func(name string) Publish {
		return func(_ context.Context, msgs []Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				publishedBy[name] = append(publishedBy[name], string(m.Payload))
			}
			return nil
		}
	}
	published := func(name, payload string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range publishedBy[name] {
			if p == payload {
				return true
			}
		}
		return false
	}
	enqueue := func(payload string) {
		t.Helper()
		if err := pgdb.InTx(ctx, direct, func(tx pgx.Tx) error {
			return EnqueueTx(ctx, tx, Message{Region: "x", Key: "k", Type: "t", Payload: []byte(payload)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(within time.Duration, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %s", within, what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	const term = 1500 * time.Millisecond
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := NewMetrics(prometheus.NewRegistry())
	first := &Relay{Shard: "s0", Pool: behind, Regions: []string{"x"}, Publish: publish("first"), Logger: logger, Metrics: metrics, Holder: "first", LeaseTerm: term}
	second := &Relay{Shard: "s0", Pool: direct, Regions: []string{"x"}, Publish: publish("second"), Logger: logger, Metrics: metrics, Holder: "second", LeaseTerm: term}
	relays, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); hole.sever(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); first.Run(relays) }()
	enqueue("before")
	waitFor(10*time.Second, "the first relay leads and publishes", func() bool { return published("first", "before") })
	wg.Add(1)
	go func() { defer wg.Done(); second.Run(relays) }()

	hole.cut.Store(true)
	cutAt := time.Now()
	enqueue("after")
	waitFor(4*term, "the second relay takes over", func() bool { return published("second", "after") })
	if took := time.Since(cutAt); took < term/2 {
		t.Fatalf("taken over %s after the cut, before the first lease could have lapsed", took)
	}
	if published("first", "after") {
		t.Fatal("the cut-off leader published after losing its connection")
	}
}

// While a region's brokers are away, the relay tries again at least every second, so
// it publishes within about a second of their return (it backed off to up to five
// seconds, which alone could hold TCC traffic that long after the broker was back).
func TestRelayRetriesAnAbsentBrokerEverySecond(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var mu sync.Mutex
	var attempts []time.Time
	var back atomic.Bool
	publish := func(context.Context, []Message) error {
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		if !back.Load() {
			return errors.New("dial tcp 127.0.0.1:9092: connect: connection refused")
		}
		return nil
	}
	r := &Relay{Shard: "s0", Pool: pool, Regions: []string{"x"}, Publish: publish,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())}
	relays, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(relays) }()
	if err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		return EnqueueTx(ctx, tx, Message{Region: "x", Key: "k", Type: "t", Payload: []byte("waiting")})
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second) // long enough for the backoff to reach its cap
	back.Store(true)
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) < 2 {
		t.Fatalf("%d publish attempts in 9.5 s", len(attempts))
	}
	widest := time.Duration(0)
	for i := 1; i < len(attempts); i++ {
		widest = max(widest, attempts[i].Sub(attempts[i-1]))
	}
	if widest > 1100*time.Millisecond {
		t.Fatalf("%s between two tries while the broker was away, want at most a second", widest)
	}
	if last := attempts[len(attempts)-1]; !back.Load() || last.Before(attempts[0].Add(8*time.Second)) {
		t.Fatal("no try after the broker returned")
	}
}
