// Package health tracks the process's readiness and the state of each dependency.
//
// Readiness means start-up finished (config valid, every shard's schema verified
// current) and shutdown not begun. A dependency outage is reported in /readyz's body
// and in metrics but does not make the process unready: the wallet keeps serving the
// shards that answer and the outbox holds messages while the broker is away, so taking
// every replica out of the load balancer would turn a partial outage into a total one.
package health

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/platform/httpapi"
)

// Check probes one dependency; nil means up.
type Check func(ctx context.Context) error

// Phase of the process.
const (
	PhaseStarting = "starting"
	PhaseReady    = "ready"
	PhaseStopping = "stopping"
)

// Tracker runs dependency checks in the background and serves /livez and /readyz.
type Tracker struct {
	region string
	checks map[string]Check
	phase  atomic.Value // string

	mu     sync.Mutex
	status map[string]string

	up *prometheus.GaugeVec
}

// NewTracker registers wallet_dependency_up on reg. Names are like "shard/eu0", "kafka".
func NewTracker(region string, checks map[string]Check, reg prometheus.Registerer) *Tracker {
	t := &Tracker{region: region, checks: checks, status: map[string]string{}}
	t.phase.Store(PhaseStarting)
	for name := range checks {
		t.status[name] = "unknown"
	}
	t.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "wallet_dependency_up", Help: "1 when the dependency answered its last check, else 0.",
	}, []string{"dependency"})
	reg.MustRegister(t.up)
	return t
}

// SetPhase moves the process to starting, ready or stopping.
func (t *Tracker) SetPhase(p string) { t.phase.Store(p) }

// Run checks every dependency each interval until ctx ends.
func (t *Tracker) Run(ctx context.Context, interval time.Duration) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
		t.CheckAll(ctx)
	}
}

// CheckAll checks every dependency once, concurrently, each bounded by 2 s. Serve calls
// it before declaring itself ready, so /readyz never reports "unknown".
func (t *Tracker) CheckAll(ctx context.Context) {
	var wg sync.WaitGroup
	for name, check := range t.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			state, v := "up", 1.0
			if err := check(cctx); err != nil {
				state, v = "down", 0
			}
			t.up.WithLabelValues(name).Set(v)
			t.mu.Lock()
			t.status[name] = state
			t.mu.Unlock()
		}()
	}
	wg.Wait()
}

type readyBody struct {
	Status       string            `json:"status"`
	Region       string            `json:"region"`
	Dependencies map[string]string `json:"dependencies"`
}

// Livez answers 200 while the process runs.
func (t *Tracker) Livez(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// Readyz answers 200 when ready, 503 while starting or stopping, with each
// dependency's last state in the body either way.
func (t *Tracker) Readyz(w http.ResponseWriter, _ *http.Request) {
	phase := t.phase.Load().(string)
	body := readyBody{Status: phase, Region: t.region, Dependencies: map[string]string{}}
	t.mu.Lock()
	names := make([]string, 0, len(t.status))
	for name := range t.status {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body.Dependencies[name] = t.status[name]
	}
	t.mu.Unlock()
	code := http.StatusOK
	if phase != PhaseReady {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	httpapi.WriteJSON(w, code, body)
}
