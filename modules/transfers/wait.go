package transfers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/retry"
)

// finalChannel is where the coordinator announces transfers that became final
// (NotifyFinal, in the transaction that finishes them).
const finalChannel = "wallet_transfer_final"

// waiters wakes the requests waiting for a transfer to become final (Prefer: wait).
// One listening connection per shard and process hears every finished transfer, so a
// waiting request costs a channel, not a connection or a query per poll.
type waiters struct {
	mu      sync.Mutex
	waiting map[string]map[chan struct{}]struct{}
}

func newWaiters() *waiters { return &waiters{waiting: map[string]map[chan struct{}]struct{}{}} }

// add registers interest in id; the channel is closed when id may have become final.
// The caller must call the returned cancel.
func (w *waiters) add(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	w.mu.Lock()
	if w.waiting[id] == nil {
		w.waiting[id] = map[chan struct{}]struct{}{}
	}
	w.waiting[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if set, ok := w.waiting[id]; ok {
			if _, waiting := set[ch]; waiting {
				delete(set, ch)
				close(ch)
			}
			if len(set) == 0 {
				delete(w.waiting, id)
			}
		}
	}
}

// wake wakes id's waiters.
func (w *waiters) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiting[id] {
		close(ch)
	}
	delete(w.waiting, id)
}

// wakeAll wakes every waiter, after notifications may have been missed (a listening
// connection was lost): each looks at its transfer again.
func (w *waiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, set := range w.waiting {
		for ch := range set {
			close(ch)
		}
		delete(w.waiting, id)
	}
}

// RunNotifications listens for finished transfers on every shard until ctx ends and
// wakes the requests waiting for them.
func (s *Service) RunNotifications(ctx context.Context, logger *slog.Logger) {
	var wg sync.WaitGroup
	for _, sh := range s.shards.All() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
			for ctx.Err() == nil {
				err := s.listen(ctx, sh)
				// Whatever was announced while not listening is unknown: look again.
				s.waiters.wakeAll()
				if ctx.Err() != nil {
					return
				}
				logger.Warn("listening for finished transfers", "shard", sh.Name, "error", err.Error())
				retry.Sleep(ctx, backoff.Next())
			}
		}()
	}
	wg.Wait()
}

func (s *Service) listen(ctx context.Context, sh *pgdb.Shard) error {
	pooled, err := sh.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// LISTEN belongs to this connection: take it out of the pool, so it is closed,
	// never reused, when listening stops.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+finalChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		s.waiters.wake(n.Payload)
	}
}

// WaitFinal returns transfer id once it is final, or as it is when wait runs out. It
// reads the transfer once, then again only when the transfer is announced final (or
// notifications may have been missed), and at most every safetyPoll otherwise. When
// maxWaiters requests of this replica are already waiting it does not wait: it
// returns the transfer as it is and waited false, and the client polls.
func (s *Service) WaitFinal(ctx context.Context, id string, wait time.Duration) (t Transfer, waited bool, err error) {
	if s.waiting.Add(1) > int64(s.maxWaiters) {
		s.waiting.Add(-1)
		t, err = s.Get(ctx, id)
		return t, false, err
	}
	defer s.waiting.Add(-1)
	t, err = s.waitFinal(ctx, id, wait)
	return t, true, err
}

func (s *Service) waitFinal(ctx context.Context, id string, wait time.Duration) (Transfer, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		woken, cancel := s.waiters.add(id)
		s.metrics.waitReads.Inc()
		t, err := s.Get(ctx, id)
		if err != nil || t.Status != StatusPending {
			cancel()
			return t, err
		}
		select {
		case <-woken:
		case <-time.After(safetyPoll):
		case <-deadline.C:
			cancel()
			return s.Get(ctx, id)
		case <-ctx.Done():
			cancel()
			return t, ctx.Err()
		}
		cancel()
	}
}

// safetyPoll bounds how long a waiting request trusts notifications alone.
const safetyPoll = 5 * time.Second
