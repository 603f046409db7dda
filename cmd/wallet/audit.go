package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/audit"
	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// configPaths is the repeatable --config flag of `wallet audit`.
type configPaths []string

func (c *configPaths) String() string { return strings.Join(*c, ",") }

func (c *configPaths) Set(v string) error {
	*c = append(*c, v)
	return nil
}

// auditCmd runs `wallet audit --config REGION.yaml [--config ...] [--json]
// [--pending-older-than D]`. It exits 0 when the books agree, 1 on any discrepancy and
// 2 when it cannot tell (bad flags, a configuration that does not load, a shard that
// does not answer): it prints the reason on stderr.
func auditCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	err := runAudit(ctx, args, environ, stdout)
	var exit exitError
	switch {
	case err == nil, errors.As(err, &exit):
		return err
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "wallet audit: %v\n%s", err, usage)
	default:
		fmt.Fprintf(stderr, "wallet audit: %v\n", err)
	}
	return exitError{code: 2}
}

func runAudit(ctx context.Context, args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var paths configPaths
	fs.Var(&paths, "config", "a region's wallet.yaml (repeat for every region)")
	asJSON := fs.Bool("json", false, "print one JSON document")
	pendingOlderThan := fs.Duration("pending-older-than", 10*time.Minute, "list pending transfers older than this (0: none)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: audit takes no arguments, got %q", errUsage, fs.Args())
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: audit needs --config for every region", errUsage)
	}
	if *pendingOlderThan < 0 {
		return fmt.Errorf("%w: --pending-older-than must not be negative", errUsage)
	}

	var regions []audit.Region
	for _, path := range paths {
		// The region's file with the usual WALLET_* overrides, as every command loads
		// it; the DSNs of the other regions' shards in the same environment are
		// ignored. The audit needs no secret: like migrate, it asks only for the shards.
		cfg, err := config.Load(config.Options{ConfigPath: path, Environ: environ, ForMigrations: true, FileShardsOnly: true})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		specs := slices.Clone(cfg.ShardList)
		for i := range specs {
			if specs[i].DSN == "" {
				// ForMigrations accepts an owner DSN alone; the owner may read too.
				specs[i].DSN = specs[i].OwnerDSN
			}
			// An audit reads whole shards: the server's per-statement bound is not its bound.
			specs[i].StatementTimeout = 0
			specs[i].MaxConns = 2
		}
		byName, err := pgdb.Open(ctx, specs)
		if err != nil {
			return err
		}
		defer pgdb.Close(byName)
		shards := pgdb.NewShards(shard.NewRouter(cfg), byName)
		l := ledger.NewService(shards, nil)
		// Only the transfers' audit queries are used: no batcher runs, no message is
		// signed or sent.
		t := transfers.NewService(transfers.Config{Buckets: cfg.Buckets}, shards, l, nil, transfers.NewMetrics(prometheus.NewRegistry()))
		regions = append(regions, audit.Region{Shards: shards, Ledger: l, Transfers: t})
	}

	report, err := audit.Run(ctx, regions, audit.Options{PendingOlderThan: *pendingOlderThan})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		writeAuditSummary(stdout, report)
	}
	if !report.Clean {
		return exitError{code: 1}
	}
	return nil
}

// writeAuditSummary prints the report for a person: one line per shard, the account
// of conservation in each currency, the transfers, then every discrepancy with its ids.
func writeAuditSummary(w io.Writer, r audit.Report) {
	for _, s := range r.Shards {
		var held []string
		for _, c := range s.Currencies {
			held = append(held, fmt.Sprintf("%s %s (frozen %s)", c.Balance, c.Currency, c.Frozen))
		}
		if len(held) == 0 {
			held = []string{"none"}
		}
		fmt.Fprintf(w, "region %s shard %s: %d users, %d entries, balances %s, %d transfers sent, %d barriers, %d holds\n",
			s.Region, s.Shard, s.Users, s.Entries, strings.Join(held, ", "), s.Transfers, s.Barriers, s.Holds)
	}
	if len(r.Conservation) == 0 {
		fmt.Fprintln(w, "conservation: no money recorded")
	}
	for _, c := range r.Conservation {
		fmt.Fprintf(w, "conservation in %s: balances %s = deposits %s - withdrawals %s + in flight %s (%d transfers) + external %s + skew %s; unexplained %s\n",
			c.Currency, c.Balances, c.Deposits, c.Withdrawals, c.InFlight, c.InFlightTransfers, c.External, c.Skew, c.Unexplained)
	}
	t := r.Transfers
	fmt.Fprintf(w, "transfers: %d (%d completed, %d cancelled, %d pending, %d unknown to their sender); %d re-checked, %d right on re-check\n",
		t.Total, t.Completed, t.Cancelled, t.Pending, t.Unknown, t.Rechecked, t.Resolved)
	for _, d := range r.Discrepancies {
		fmt.Fprintf(w, "DISCREPANCY %s", d.Kind)
		for _, kv := range [][2]string{{"region", d.Region}, {"shard", d.Shard}, {"currency", d.Currency}, {"user", d.UserID}, {"transfer", d.TransferID}, {"waiting_for", d.WaitingFor}} {
			if kv[1] != "" {
				fmt.Fprintf(w, " %s=%s", kv[0], kv[1])
			}
		}
		fmt.Fprintf(w, ": %s\n", d.Detail)
	}
	status := "clean"
	if !r.Clean {
		status = fmt.Sprintf("%d discrepancies", len(r.Discrepancies))
	}
	fmt.Fprintf(w, "audit of %s: %s in %.2fs\n", strings.Join(r.Regions, ", "), status, r.TookSeconds)
}
