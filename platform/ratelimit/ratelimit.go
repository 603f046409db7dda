// Package ratelimit bounds how fast one user can move money: a token bucket per user,
// kept in the memory of the replica serving the user's home region.
//
// Limits are per replica, not global: with N replicas a user can reach N times the
// rate. That is the usual trade for not putting a shared store on the write path; the
// limit protects shards from a runaway client, it is not a billing control.
package ratelimit

import (
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"example.com/wallet/platform/httpapi"
)

// Limiter is a set of per-key token buckets.
type Limiter struct {
	perSecond rate.Limit
	burst     int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// New allows each key a sustained perSecond with bursts of burst.
func New(perSecond float64, burst int) *Limiter {
	return &Limiter{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}, swept: time.Now()}
}

// Allow takes one token for key. When none is left it returns false and the whole
// seconds to wait before one will be.
func (l *Limiter) Allow(key string) (bool, int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{limiter: rate.NewLimiter(l.perSecond, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	r := b.limiter.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, int(math.Ceil(delay.Seconds()))
	}
	return true, 0
}

// sweep forgets buckets idle long enough to have refilled, so memory follows the
// number of active users, not of all users ever seen.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	refill := time.Duration(float64(l.burst)/float64(l.perSecond)*float64(time.Second)) + time.Second
	for k, b := range l.buckets {
		if now.Sub(b.lastSeen) > refill {
			delete(l.buckets, k)
		}
	}
}

// AllowRequest takes a token for a money-moving request of key (a user id), answering
// 429 rate_limited with Retry-After when there is none.
func (l *Limiter) AllowRequest(w http.ResponseWriter, r *http.Request, key string) bool {
	ok, retryAfter := l.Allow(key)
	if !ok {
		p := httpapi.NewProblem(http.StatusTooManyRequests, httpapi.CodeRateLimited, "too many money-moving requests for this user; retry after %d s", retryAfter)
		p.RetryAfter = retryAfter
		httpapi.WriteProblem(w, r, p)
	}
	return ok
}
