package pgdb

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/tracing"
)

// serverPool connects to the test server's own database: these tests only run
// SELECT 1 in transactions, so they need no database of their own (and pgtest, which
// imports this package, cannot be used from inside it).
func serverPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	u := os.Getenv("WALLET_TEST_PG_URL")
	if u == "" {
		t.Fatal("WALLET_TEST_PG_URL is not set: run the tests with `make test`")
	}
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func memoryTracer(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exporter := tracetest.NewInMemoryExporter()
	t.Cleanup(tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))))
	return exporter
}

func spansNamed(exporter *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exporter.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// A transaction inside a trace is a span of it; one outside any trace is not traced.
func TestTransactionSpanOnlyInsideATrace(t *testing.T) {
	exporter := memoryTracer(t)
	pool := serverPool(t)
	selectOne := func(tx pgx.Tx) error {
		var one int
		return tx.QueryRow(context.Background(), `SELECT 1`).Scan(&one)
	}
	if err := InTx(context.Background(), pool, selectOne); err != nil {
		t.Fatal(err)
	}
	if n := len(exporter.GetSpans()); n != 0 {
		t.Fatalf("a transaction outside any trace made %d spans", n)
	}
	ctx, parent := tracing.Start(context.Background(), "request")
	if err := InTx(ctx, pool, selectOne); err != nil {
		t.Fatal(err)
	}
	parent.End()
	txs := spansNamed(exporter, SpanTransaction)
	if len(txs) != 1 || txs[0].Parent.SpanID() != parent.SpanContext().SpanID() || txs[0].SpanKind != trace.SpanKindClient {
		t.Fatalf("transaction spans %+v, want one client child of the request", txs)
	}
}

// Requests that share a batch share one batch span: a child of the first, linked to
// the others, with the transaction's span under it.
func TestBatchSpanLinksTheRequestsThatShareIt(t *testing.T) {
	exporter := memoryTracer(t)
	pool := serverPool(t)
	release := make(chan struct{})
	var once sync.Once
	b := NewBatcher(pool, func(_ context.Context, tx pgx.Tx, reqs []string) ([]string, error) {
		if reqs[0] == "first" {
			once.Do(func() { <-release }) // hold the first batch so the others queue up
		}
		var one int
		return reqs, tx.QueryRow(context.Background(), `SELECT 1`).Scan(&one)
	})
	requests := map[string]trace.Span{}
	for _, name := range []string{"first", "second", "third"} {
		_, requests[name] = tracing.Start(context.Background(), name)
	}
	do := func(name string, wg *sync.WaitGroup) {
		defer wg.Done()
		ctx := trace.ContextWithSpan(context.Background(), requests[name])
		if res, err := b.DoTraced(ctx, name); err != nil || res != name {
			t.Errorf("%s: %q, %v", name, res, err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go do("first", &wg)
	queued := func(n int) bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == n && b.active == 1
	}
	waitUntil(t, func() bool { return queued(0) }) // the first batch is being applied
	wg.Add(2)
	go do("second", &wg)
	waitUntil(t, func() bool { return queued(1) })
	go do("third", &wg)
	waitUntil(t, func() bool { return queued(2) })
	close(release)
	wg.Wait()

	batches := spansNamed(exporter, SpanBatch)
	if len(batches) != 2 {
		t.Fatalf("%d batch spans, want 2", len(batches))
	}
	shared := batches[1]
	if batches[0].Parent.SpanID() == requests["second"].SpanContext().SpanID() {
		shared = batches[0]
	}
	if shared.Parent.SpanID() != requests["second"].SpanContext().SpanID() || len(shared.Links) != 1 ||
		shared.Links[0].SpanContext.SpanID() != requests["third"].SpanContext().SpanID() {
		t.Fatalf("shared batch span: parent %v links %+v, want the second request and a link to the third", shared.Parent, shared.Links)
	}
	var size int64
	for _, a := range shared.Attributes {
		if a.Key == tracing.BatchSizeKey {
			size = a.Value.AsInt64()
		}
	}
	if size != 2 {
		t.Fatalf("batch size attribute %d, want 2", size)
	}
	var underShared int
	for _, tx := range spansNamed(exporter, SpanTransaction) {
		if tx.Parent.SpanID() == shared.SpanContext.SpanID() {
			underShared++
		}
	}
	if underShared != 1 {
		t.Fatalf("%d transaction spans under the shared batch, want 1", underShared)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
