// Package ratelimit bounds how fast money-moving requests reach a replica: a token
// bucket per replica, one per calling gateway, and one per (gateway, user), kept in
// the memory of the replica serving the user's home region.
//
// Limits are per replica, not global: with N replicas a user can reach N times the
// rate. That is the usual trade for not putting a shared store on the write path; the
// limits protect shards from a runaway client, they are not a billing control.
//
// Memory is bounded whatever callers send: user buckets live in a least-recently-used
// set of fixed capacity, so a flood of made-up user ids evicts the oldest buckets
// instead of growing the map, and nothing ever sweeps the whole set under its lock.
// A user's bucket is per gateway, so one gateway's requests (failing or not) cannot
// use up the allowance of the same user's traffic from another.
package ratelimit

import (
	"container/list"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"example.com/wallet/platform/httpapi"
)

// Limits configures a Limiter.
type Limits struct {
	// PerUser and Burst bound one user's requests from one gateway.
	PerUser float64
	Burst   int
	// PerGateway bounds one gateway's requests, PerReplica all of them, per second
	// (bursts of one second's worth).
	PerGateway, PerReplica float64
	// MaxUsers bounds how many user buckets are kept; the least recently used go first.
	MaxUsers int
}

// Limiter takes tokens from the replica's, the gateway's and the (gateway, user)'s
// buckets, in that order.
type Limiter struct {
	limits   Limits
	replica  *rate.Limiter
	mu       sync.Mutex
	gateways map[string]*rate.Limiter
	users    map[string]*list.Element // of *userBucket, most recently used first
	order    *list.List
}

type userBucket struct {
	key     string
	limiter *rate.Limiter
}

// New builds a limiter.
func New(l Limits) *Limiter {
	return &Limiter{
		limits:   l,
		replica:  rate.NewLimiter(rate.Limit(l.PerReplica), max(1, int(l.PerReplica))),
		gateways: map[string]*rate.Limiter{},
		users:    map[string]*list.Element{},
		order:    list.New(),
	}
}

// Allow takes one token for a request of user through gateway. When a bucket is empty
// it takes nothing from any and returns false and the whole seconds to wait, and
// which limit it met ("replica", "gateway" or "user").
func (l *Limiter) Allow(gateway, user string) (bool, int, string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	gw, ok := l.gateways[gateway]
	if !ok {
		// Gateways are a closed set (authentication knows them), so this map is too.
		gw = rate.NewLimiter(rate.Limit(l.limits.PerGateway), max(1, int(l.limits.PerGateway)))
		l.gateways[gateway] = gw
	}
	u := l.userBucket(gateway + "\x00" + user)
	reservations := [3]*rate.Reservation{l.replica.ReserveN(now, 1), gw.ReserveN(now, 1), u.ReserveN(now, 1)}
	for i, r := range reservations {
		delay := r.DelayFrom(now)
		if !r.OK() {
			delay = time.Second
		}
		if delay > 0 {
			for _, taken := range reservations {
				taken.CancelAt(now)
			}
			return false, max(1, int(math.Ceil(delay.Seconds()))), [...]string{"replica", "gateway", "user"}[i]
		}
	}
	return true, 0, ""
}

// userBucket returns key's bucket, making it the most recently used, evicting the
// least recently used when the set is full. The caller holds l.mu.
func (l *Limiter) userBucket(key string) *rate.Limiter {
	if e, ok := l.users[key]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*userBucket).limiter
	}
	if l.order.Len() >= l.limits.MaxUsers {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.users, oldest.Value.(*userBucket).key)
	}
	b := &userBucket{key: key, limiter: rate.NewLimiter(rate.Limit(l.limits.PerUser), l.limits.Burst)}
	l.users[key] = l.order.PushFront(b)
	return b.limiter
}

// AllowRequest takes a token for a money-moving request of user, answering 429
// rate_limited with Retry-After when there is none.
func (l *Limiter) AllowRequest(w http.ResponseWriter, r *http.Request, user string) bool {
	ok, retryAfter, which := l.Allow(httpapi.CallerFrom(r.Context()).Gateway, user)
	if !ok {
		detail := map[string]string{
			"user":    "too many money-moving requests for this user from this gateway",
			"gateway": "too many money-moving requests from this gateway",
			"replica": "this replica is at its request limit",
		}[which]
		p := httpapi.NewProblem(http.StatusTooManyRequests, httpapi.CodeRateLimited, "%s; retry after %d s", detail, retryAfter)
		p.RetryAfter = retryAfter
		httpapi.WriteProblem(w, r, p)
	}
	return ok
}
