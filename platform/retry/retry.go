// Package retry paces retries of operations that fail for a while (a broker or shard
// that is away): capped exponential backoff with jitter, so many replicas retrying
// the same dependency do not hammer it in step.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff yields growing waits between Min and Max. The zero value is not usable;
// build one with a literal such as Backoff{Min: 50 * time.Millisecond, Max: 5 * time.Second}.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next wait: the current step doubled (capped at Max), with half of
// it random ("equal jitter").
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(b.cur*2, b.Max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

// Reset starts again from Min after a success.
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits for d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
