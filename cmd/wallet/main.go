// Command wallet is the whole wallet service in one binary: the HTTP API of one region
// (serve), schema migrations of its shards (migrate), ledger audits (ledger),
// dead-letter operations (dlq) and the cross-region audit of the books (audit).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"example.com/wallet/platform/config"
)

const usage = `usage: wallet <command> [flags]

commands:
  serve                      run the region's API, relays and consumers
  migrate up|down|version    migrate every shard of the region
  ledger verify [--user ID]  recompute balances from entries, check hash chains and seals
  ledger rebuild             rewrite balance snapshots from entries
  ledger seal                seal histories written before the ledger sealed entries (once)
  audit --config FILE [--config FILE ...] [--json] [--pending-older-than D]
                             check that the money adds up across every shard of every
                             region given (one --config per region); exit 0 clean,
                             1 on a discrepancy, 2 on bad flags or a shard unread
  dlq list                   print the region's dead letters, one JSON object each
  dlq replay [--partition P --offset O]
                             put dead letters back on the region's TCC topic

common flags:
  --region R        load regions/R/wallet.yaml
  --config FILE     load FILE instead
  --regions-dir D   folder holding the regions (default "regions")
  --http-addr A     override http.addr
  --admin-addr A    override http.admin_addr
  --log-level L     override log.level
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	code := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks an error that is the user's, answered with the usage text.
var errUsage = errors.New("usage")

// exitError carries a specific exit code (ledger verify exits 1 on drift).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run executes one command and returns the process exit code. Every failure is one
// line on stderr.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], environ, stdout)
	case "migrate":
		err = migrateCmd(ctx, args[1:], environ, stdout)
	case "ledger":
		err = ledgerCmd(ctx, args[1:], environ, stdout)
	case "dlq":
		err = dlqCmd(ctx, args[1:], environ, stdout)
	case "audit":
		err = auditCmd(ctx, args[1:], environ, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	var exit exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.code
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "wallet: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "wallet: %v\n", err)
		return 1
	}
}

// commonFlags are the flags every command takes to find its configuration.
type commonFlags struct {
	fs                             *flag.FlagSet
	region, configPath, regionsDir string
	httpAddr, adminAddr, logLevel  string
}

func newFlags(name string) *commonFlags {
	f := &commonFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.fs.SetOutput(io.Discard)
	f.fs.StringVar(&f.region, "region", "", "region to load")
	f.fs.StringVar(&f.configPath, "config", "", "configuration file")
	f.fs.StringVar(&f.regionsDir, "regions-dir", "regions", "folder of region configurations")
	f.fs.StringVar(&f.httpAddr, "http-addr", "", "API listen address")
	f.fs.StringVar(&f.adminAddr, "admin-addr", "", "admin (metrics) listen address")
	f.fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	return f
}

// load parses args and loads the configuration they point at.
func (f *commonFlags) load(args, environ []string) (*config.Config, error) {
	return f.loadFor(args, environ, false)
}

// loadFor is load, for `wallet migrate` when forMigrations (config.Options).
func (f *commonFlags) loadFor(args, environ []string, forMigrations bool) (*config.Config, error) {
	if err := f.fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	overrides := map[string]any{}
	for key, v := range map[string]string{"http.addr": f.httpAddr, "http.admin_addr": f.adminAddr, "log.level": f.logLevel} {
		if v != "" {
			overrides[key] = v
		}
	}
	return config.Load(config.Options{
		Region: f.region, ConfigPath: f.configPath, RegionsDir: f.regionsDir,
		Environ: environ, Overrides: overrides, ForMigrations: forMigrations,
	})
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
