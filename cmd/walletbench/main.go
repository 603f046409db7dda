// Command walletbench measures the wallet against what the same machine's PostgreSQL
// and Kafka can do at best, side by side in one run.
//
// It first measures three baselines: pgbench's TPC-B-like script, single-row UPDATE
// commits on one hot row, and a Kafka round trip with the service's own writer and
// group-reader settings. Then it drives a live two-region stack through its public
// API with a set of workloads (deposits, withdrawals, transfers on one shard, across
// shards and across regions, balance reads against short and long histories, one hot
// account, idempotent replays), and reports each workload as a ratio to the baselines.
// Ratios are what mean something on a shared machine; absolute numbers are noise.
//
// When no stack answers at the regions' addresses it starts one the way `make run`
// does, with rate limits lifted, and stops it at the end.
//
// Output: a table on stdout, bench/results/latest.json and bench/results/latest.svg.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: walletbench [flags]

Measures baselines (pgbench TPC-B, hot-row UPDATE, Kafka round trip) and the wallet's
workloads in one run, and writes bench/results/latest.json and latest.svg.

flags:
`

// options are the command line, after parsing.
type options struct {
	root        string
	clients     int
	duration    time.Duration
	warmup      time.Duration
	rate        float64
	only        map[string]bool
	out         string
	largeSize   int
	portBase    int
	dbPrefix    string
	topicPrefix string
	start       string
	token       string
	quiet       bool
	noBaselines bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "walletbench:", err)
		stop()
		os.Exit(1)
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("walletbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var only string
	fs.StringVar(&o.root, "root", ".", "the repository's root (scripts/, regions/)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients of every workload and baseline")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each workload and baseline")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each workload")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: requests per second per workload (0: closed loop)")
	fs.StringVar(&only, "only", "", "comma-separated workloads to run (default: all)")
	fs.StringVar(&o.out, "out", "bench/results", "folder for latest.json and latest.svg")
	fs.IntVar(&o.largeSize, "large-history", 1_000_000, "ledger entries of the balance_large user")
	fs.IntVar(&o.portBase, "port-base", 0, "eu on this port, us on +1, admin ports +10 and +11 (0: the region files')")
	fs.StringVar(&o.dbPrefix, "db-prefix", "wallet_", "shard databases are <prefix><shard>, as scripts/local.sh makes them")
	fs.StringVar(&o.topicPrefix, "topic-prefix", "wallet", "Kafka topic prefix of the regions")
	fs.StringVar(&o.start, "start", "auto", "auto: start a stack when none answers; never: fail instead")
	fs.StringVar(&o.token, "token", "dev-token", "gateway bearer token")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&o.noBaselines, "no-baselines", false, "skip the baselines (quick runs while profiling; no ratios to them)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.clients < 1 || o.duration <= 0 || o.warmup < 0 || o.rate < 0 || o.largeSize < 100 {
		return o, errors.New("clients and duration must be positive, large-history at least 100")
	}
	if o.start != "auto" && o.start != "never" {
		return o, fmt.Errorf("--start %q: auto or never", o.start)
	}
	if only != "" {
		o.only = map[string]bool{}
		for _, name := range strings.Split(only, ",") {
			if !isWorkload(name) {
				return o, fmt.Errorf("--only: unknown workload %q (have %s)", name, strings.Join(workloadNames(), ", "))
			}
			o.only[name] = true
		}
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return o, err
	}
	o.root = root
	return o, nil
}

// run is the whole benchmark: stack, baselines, workloads, report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	stack, err := openStack(ctx, o, log)
	if err != nil {
		return err
	}
	defer stack.close(log)

	res := &results{StartedAt: time.Now().UTC(), Machine: describeMachine(ctx, stack),
		Config:    runConfig{Clients: o.clients, DurationS: o.duration.Seconds(), WarmupS: o.warmup.Seconds(), Rate: o.rate, LargeHistory: o.largeSize, StackStarted: stack.started},
		Workloads: map[string]workloadResult{}}
	progress := newProgress(stderr, o.quiet)

	if !o.noBaselines {
		log("baselines (%d clients, %s each)", o.clients, o.duration)
		if res.Baselines, err = measureBaselines(ctx, o, stack, progress); err != nil {
			return err
		}
		log("  pgbench TPC-B %.0f tps, hot-row UPDATE %.0f/s, Kafka round trip p50 %.2f ms",
			res.Baselines.PgbenchTPS, res.Baselines.HotRowTPS, res.Baselines.KafkaRoundTripP50Ms)
	}

	b, err := newBench(ctx, o, stack, log)
	if err != nil {
		return err
	}
	defer b.close()
	// One unmeasured round of deposits first: the first workload otherwise pays for
	// cold connections, statement caches and whatever the baselines left running
	// (seen: deposits 15% below withdrawals, which do the same work).
	warm := b.workloads()[0]
	drive(ctx, driveSpec{label: "warm-up", clients: o.clients, duration: max(o.warmup, 3*time.Second)}, warm.op, progress)
	for _, w := range b.workloads() {
		if o.only != nil && !o.only[w.name] {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := b.runWorkload(ctx, w, progress)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		res.Workloads[w.name] = r
		log("  %-28s %s", w.name, r.summary())
	}
	res.Ratios = computeRatios(res)
	if stack.rateLimited() {
		res.Notes = append(res.Notes, "the stack was already running with its own rate limits: 429s count as errors")
	}

	printTable(stdout, res)
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.root, out)
	}
	if err := writeResults(out, res); err != nil {
		return err
	}
	log("wrote %s and %s", filepath.Join(o.out, "latest.json"), filepath.Join(o.out, "latest.svg"))
	return nil
}
