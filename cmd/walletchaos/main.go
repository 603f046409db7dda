// Command walletchaos runs the bank test: a seeded, bounded workload of deposits,
// withdrawals, balance reads and transfers on one shard, across shards and across
// regions, against two replicas of each region, while a seeded schedule of faults
// crashes, freezes and cuts them off (kill -9, SIGSTOP past the consumer session, the
// broker stopped, PostgreSQL crashed, links slowed, reset or silenced, a region away
// past the transfer TTL, poison messages). When the faults stop it settles every
// unknown outcome by retrying its key and checks every invariant: money conserved to
// the unit, nothing frozen or negative, every ledger verifying, every acknowledged
// write present, every transfer ended within 30 s, every retried key answered
// consistently, exactly the poison in the dead-letter topics, each user's history
// linearizable, no 500. It exits 1 on any violation.
//
// Output: a summary on stdout, chaos/results/latest.json and a timeline in
// chaos/results/latest.svg. The seed replays the same workload and fault schedule.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	passed, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "walletchaos:", err)
		os.Exit(2)
	}
	if !passed {
		os.Exit(1)
	}
}

// ttl is the transfers' TTL during the run: short, so coordinated expiry and its
// cancels happen often.
const ttl = 3 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("walletchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 0, "seed of the workload and the fault schedule (0: a new one)")
	name := fs.String("profile", "short", "short (about 3 minutes, in make test) or long (10 minutes or more)")
	duration := fs.Duration("duration", 0, "spread the faults over this long instead of the profile's window")
	root := fs.String("root", ".", "the repository's root")
	out := fs.String("out", "chaos/results", "folder for latest.json and latest.svg")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	p, ok := profiles[*name]
	if !ok {
		return false, fmt.Errorf("--profile %q: short or long", *name)
	}
	if *duration > 0 {
		p.window = *duration
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		*seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	absRoot, err := filepath.Abs(*root)
	if err != nil {
		return false, err
	}
	log := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	log("walletchaos: profile %s, seed %d, faults over %s", p.name, *seed, p.window)

	c, err := startCluster(ctx, absRoot, ttl, log)
	if c != nil {
		defer c.stop()
	}
	if err != nil {
		return false, err
	}
	w := newWorkload(c, *seed)
	if err := w.setUp(ctx); err != nil {
		return false, err
	}
	w.t0 = time.Now()
	plan := schedule(p, *seed, c)
	log("workload: %d clients at %.0f requests/s each; %d faults", p.clients, p.rate, len(plan))
	load, stopLoad := context.WithCancel(ctx)
	loadDone := make(chan struct{})
	go func() { w.run(load, p.clients, p.rate); close(loadDone) }()
	faults := inject(ctx, c, w, plan, ttl)
	// A few seconds of calm traffic after the last fault, then the clients stop.
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	stopLoad()
	<-loadDone
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	log("faults over; settling unknown outcomes and waiting for every transfer to end")
	unknown, err := w.resolve(ctx)
	if err != nil {
		return false, err
	}
	quiet, longest, qerr := w.quiesce(ctx, 30*time.Second)
	checks := []check{}
	if qerr != nil {
		checks = append(checks, w.fail("transfers ended", "%v", qerr))
	} else {
		checks = append(checks, w.pass("transfers ended", "every transfer final %.1f s after the last fault (bound 30 s)", quiet.Seconds()))
	}
	checks = append(checks, w.verifyAll(ctx)...)
	s := w.summarise(*seed, p, faults, unknown, quiet, longest, checks)
	printSummary(stdout, s)
	dir := *out
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(absRoot, dir)
	}
	if err := writeResults(dir, s, w); err != nil {
		return s.Passed, err
	}
	log("wrote %s and %s", filepath.Join(*out, "latest.json"), filepath.Join(*out, "latest.svg"))
	return s.Passed, nil
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
