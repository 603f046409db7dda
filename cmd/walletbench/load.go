package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// counter is a count shared by workers and the progress bar.
type counter struct{ n atomic.Int64 }

func (c *counter) add(n int64) { c.n.Add(n) }
func (c *counter) load() int64 { return c.n.Load() }

// latencies are the measured durations of one workload.
type latencies []time.Duration

// summary is a latency distribution in milliseconds.
type summary struct {
	count                      int
	p50, p90, p99, p999, maxMs float64
	// curve is the latency at each of curvePercentiles, for the chart.
	curve []float64
}

// curvePercentiles are the points of the chart's latency curves.
var curvePercentiles = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100}

func (l latencies) summarise() summary {
	if len(l) == 0 {
		return summary{}
	}
	sorted := slices.Clone(l)
	slices.Sort(sorted)
	at := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
		i = max(0, min(i, len(sorted)-1))
		return float64(sorted[i]) / float64(time.Millisecond)
	}
	s := summary{count: len(sorted), p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), maxMs: at(100)}
	for _, p := range curvePercentiles {
		s.curve = append(s.curve, at(p))
	}
	return s
}

// outcome is what one operation of a workload reports.
type outcome struct {
	// err is "" on success, otherwise a short, stable description ("status 503",
	// "connection refused") under which failures are counted.
	err string
	// transfer is set by the asynchronous transfer workloads: what to follow until
	// the transfer is final.
	transfer *sentTransfer
	// throttled: the wallet pushed back (503 transfers_backlogged) and the client
	// waited as told; neither a success nor an error.
	throttled bool
}

// sentTransfer is a transfer the API accepted, with the time it was scheduled to be
// sent (the client's clock; the stack runs on the same machine).
type sentTransfer struct {
	id   string
	sent time.Time
}

// operation performs one request. worker and seq make idempotency keys unique.
type operation func(ctx context.Context, rng *rand.Rand, worker, seq int, scheduled time.Time) outcome

// driveSpec says how to drive a workload.
type driveSpec struct {
	label    string
	clients  int
	warmup   time.Duration
	duration time.Duration
	// rate > 0 drives an open loop at that many operations per second, with latency
	// measured from each operation's scheduled send time, so a slow service cannot
	// hide its queueing (no coordinated omission). 0 drives a closed loop.
	rate float64
}

// driveResult is everything measured in the window after the warm-up.
type driveResult struct {
	lat       latencies
	count     int
	throttled int
	errors    int
	errCounts map[string]int
	transfers []sentTransfer
	window    [2]time.Time
}

// workerLog is one worker's measurements, merged at the end (no shared lock on the
// hot path).
type workerLog struct {
	lat       latencies
	count     int
	throttled int
	errCounts map[string]int
	transfers []sentTransfer
}

func (l *workerLog) record(o outcome, d time.Duration) {
	l.count++
	if o.throttled {
		l.throttled++
		return
	}
	if o.err != "" {
		if l.errCounts == nil {
			l.errCounts = map[string]int{}
		}
		l.errCounts[o.err]++
		return
	}
	l.lat = append(l.lat, d)
	if o.transfer != nil {
		l.transfers = append(l.transfers, *o.transfer)
	}
}

// maxOpenLoopWorkers bounds the goroutines of an open loop; beyond it operations wait
// for a worker, and that wait counts in their latency.
const maxOpenLoopWorkers = 1024

func drive(ctx context.Context, spec driveSpec, op operation, p *progress) driveResult {
	start := time.Now()
	measureFrom := start.Add(spec.warmup)
	end := measureFrom.Add(spec.duration)
	var done counter
	p.start(spec.label, spec.warmup+spec.duration, &done)
	defer p.stop()

	workers := spec.clients
	var schedule chan time.Time
	if spec.rate > 0 {
		workers = min(maxOpenLoopWorkers, max(spec.clients, int(spec.rate/10)))
		schedule = make(chan time.Time, 1<<16)
		go func() {
			defer close(schedule)
			interval := time.Duration(float64(time.Second) / spec.rate)
			for i := 0; ; i++ {
				at := start.Add(time.Duration(i) * interval)
				if !at.Before(end) || ctx.Err() != nil {
					return
				}
				if wait := time.Until(at); wait > 0 {
					time.Sleep(wait)
				}
				schedule <- at
			}
		}()
	}
	logs := make([]workerLog, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			log := &logs[w]
			for seq := 0; ctx.Err() == nil; seq++ {
				var scheduled time.Time
				if schedule != nil {
					at, ok := <-schedule
					if !ok {
						return
					}
					scheduled = at
				} else {
					scheduled = time.Now()
					if !scheduled.Before(end) {
						return
					}
				}
				o := op(ctx, rng, w, seq, scheduled)
				done.add(1)
				if !scheduled.Before(measureFrom) {
					log.record(o, time.Since(scheduled))
				}
			}
		}()
	}
	wg.Wait()
	res := driveResult{errCounts: map[string]int{}, window: [2]time.Time{measureFrom, end}}
	for _, l := range logs {
		res.lat = append(res.lat, l.lat...)
		res.count += l.count
		res.throttled += l.throttled
		res.transfers = append(res.transfers, l.transfers...)
		for k, v := range l.errCounts {
			res.errCounts[k] += v
			res.errors += v
		}
	}
	return res
}

// progress draws a one-line progress bar on a terminal; elsewhere it draws nothing.
type progress struct {
	w       io.Writer
	enabled bool
	mu      sync.Mutex
	stopped chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, quiet bool) *progress {
	enabled := false
	if f, ok := w.(*os.File); ok && !quiet {
		enabled = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, enabled: enabled}
}

// start draws label's bar until stop, filling over total and showing the rate of c.
func (p *progress) start(label string, total time.Duration, c *counter) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = make(chan struct{})
	stopped := p.stopped
	began := time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopped:
				fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 100))
				return
			case <-tick.C:
			}
			elapsed := time.Since(began)
			frac := min(1, elapsed.Seconds()/total.Seconds())
			bar := strings.Repeat("#", int(frac*30)) + strings.Repeat(".", 30-int(frac*30))
			rate := ""
			if c != nil {
				rate = fmt.Sprintf("%8.0f/s", float64(c.load())/elapsed.Seconds())
			}
			fmt.Fprintf(p.w, "\r  %-28s [%s] %5.1fs %s", label, bar, elapsed.Seconds(), rate)
		}
	}()
}

func (p *progress) stop() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	if p.stopped != nil {
		close(p.stopped)
		p.stopped = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
}
