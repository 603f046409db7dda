package pgdb

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/tracing"
)

// Batcher applies requests to one shard with group commit. Requests that arrive while
// earlier ones are being applied wait in a queue, and the next transaction takes all
// of them: apply decides each one and writes them together, so under load a
// transaction (its BEGIN, its locks, its statements, its COMMIT) is shared by many
// requests, and a popular row is locked once per batch instead of once per request.
// With one request waiting, a batch is that request alone: nothing waits for company.
//
// apply returns one result per request, in order; a request's own refusal belongs in
// its result, and apply's error is for what breaks the whole transaction. When a batch
// fails as a whole for a reason other than the shard being unavailable, each of its
// requests is applied again alone, so no request can fail another. Requests are handed
// to apply in the order they arrived, so two requests of one client, one after the
// other, are applied in that order.
type Batcher[Req, Res any] struct {
	pool  *pgxpool.Pool
	apply func(ctx context.Context, tx pgx.Tx, reqs []Req) ([]Res, error)

	mu     sync.Mutex
	queue  []*pending[Req, Res]
	active int
}

const (
	// maxBatch bounds the requests of one transaction, which bounds how long it holds
	// its locks.
	maxBatch = 128
	// maxActiveBatches is how many transactions of one batcher run at once. One keeps
	// batches as large as the load allows; more only adds lock waits between them
	// (measured: docs/performance.md).
	maxActiveBatches = 1
	// batchTimeout bounds one batch's transaction; a shard that does not answer within
	// it fails the batch's requests as unavailable (503, outcome unknown), well within
	// the request's own deadline and the server's write timeout.
	batchTimeout = 10 * time.Second
)

type pending[Req, Res any] struct {
	req   Req
	trace trace.SpanContext // the request's span, which the batch's span links
	res   Res
	err   error
	done  chan struct{}
}

// SpanBatch is the name of a batch's span: one per transaction however many requests
// share it, a child of the first traced request and linked to the others
// (tracing.StartBatch). A request's own span (the caller's) names its batch by that
// link, and nothing per request is added to the transaction's path.
const SpanBatch = "db batch"

// NewBatcher returns a batcher applying requests to pool with apply.
func NewBatcher[Req, Res any](pool *pgxpool.Pool, apply func(ctx context.Context, tx pgx.Tx, reqs []Req) ([]Res, error)) *Batcher[Req, Res] {
	return &Batcher[Req, Res]{pool: pool, apply: apply}
}

// Do applies req in a batch and returns its result, or the error that failed its
// batch (an *UnavailableError when the shard could not be reached or the commit's
// outcome is unknown). Once queued, a request is applied or refused, never abandoned:
// Do takes no context, and its transaction is bounded by batchTimeout.
func (b *Batcher[Req, Res]) Do(req Req) (Res, error) {
	return b.do(req, trace.SpanContext{})
}

// DoTraced is Do for a request inside a trace: its batch's span (SpanBatch) is a child
// of ctx's span, or linked to it when another request of the batch came first. ctx is
// read for its span alone; as with Do, the request is never abandoned.
func (b *Batcher[Req, Res]) DoTraced(ctx context.Context, req Req) (Res, error) {
	return b.do(req, trace.SpanContextFromContext(ctx))
}

func (b *Batcher[Req, Res]) do(req Req, sc trace.SpanContext) (Res, error) {
	p := &pending[Req, Res]{req: req, trace: sc, done: make(chan struct{})}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := b.active < maxActiveBatches
	if start {
		b.active++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	<-p.done
	return p.res, p.err
}

// run applies batches until the queue is empty.
func (b *Batcher[Req, Res]) run() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.active--
			b.mu.Unlock()
			return
		}
		batch := slices.Clone(b.queue[:n])
		b.queue = slices.Delete(b.queue, 0, n)
		b.mu.Unlock()
		b.applyBatch(batch)
		for _, p := range batch {
			close(p.done)
		}
	}
}

func (b *Batcher[Req, Res]) applyBatch(batch []*pending[Req, Res]) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	reqs := make([]Req, len(batch))
	var parents []trace.SpanContext
	for i, p := range batch {
		reqs[i] = p.req
		if p.trace.IsValid() {
			parents = append(parents, p.trace)
		}
	}
	ctx, span := tracing.StartBatch(ctx, SpanBatch, len(batch), parents)
	var results []Res
	err := InTx(ctx, b.pool, func(tx pgx.Tx) error {
		var err error
		results, err = b.apply(ctx, tx, reqs)
		if err == nil && len(results) != len(reqs) {
			err = fmt.Errorf("pgdb: batch of %d requests got %d results", len(reqs), len(results))
		}
		return err
	})
	tracing.End(span, err)
	switch {
	case err == nil:
		for i, p := range batch {
			p.res = results[i]
		}
	case len(batch) > 1 && !IsUnavailable(err):
		// Something in the batch broke the transaction: find it by applying each alone.
		for _, p := range batch {
			b.applyBatch([]*pending[Req, Res]{p})
		}
	default:
		for _, p := range batch {
			p.err = err
		}
	}
}
