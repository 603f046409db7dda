package main

import (
	"context"
	"fmt"
	"io"
	"slices"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// ledgerCmd runs `wallet ledger verify [--user ID]`, `wallet ledger rebuild` and
// `wallet ledger seal` over every shard of the region. verify and seal exit 1 when
// they find any drift.
func ledgerCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "rebuild" && args[0] != "seal") {
		return fmt.Errorf("%w: ledger needs verify, rebuild or seal", errUsage)
	}
	action := args[0]
	flags := newFlags("ledger " + action)
	var userID string
	if action == "verify" {
		flags.fs.StringVar(&userID, "user", "", "verify only this user")
	}
	cfg, err := flags.load(args[1:], environ)
	if err != nil {
		return err
	}
	router := shard.NewRouter(cfg)
	shardNames := router.Shards()
	if userID != "" {
		region, err := shard.UserRegion(userID)
		if err != nil || region != cfg.Region {
			return fmt.Errorf("user %q is not a user of region %s", userID, cfg.Region)
		}
		shardNames = []string{router.ShardOf(userID)} // the shards are not open yet: a name is enough
	}
	// An audit reads whole shards: the server's per-statement bound is not its bound.
	specs := slices.Clone(cfg.ShardList)
	for i := range specs {
		specs[i].StatementTimeout = 0
	}
	shards, err := pgdb.Open(ctx, specs)
	if err != nil {
		return err
	}
	defer pgdb.Close(shards)
	svc := ledger.NewService(pgdb.NewShards(router, shards), cfg.LedgerSealKey())

	drifts := 0
	for _, name := range shardNames {
		var report ledger.Report
		switch action {
		case "verify":
			report, err = svc.Verify(ctx, name, userID)
		case "seal":
			report, err = svc.Seal(ctx, name)
		default:
			report, err = svc.Rebuild(ctx, name)
		}
		if err != nil {
			return fmt.Errorf("shard %s: %w", name, err)
		}
		for _, d := range report.Drifts {
			fmt.Fprintf(stdout, "DRIFT region %s shard %s user %s: %s\n", cfg.Region, name, d.UserID, d.Problem)
		}
		status := "clean"
		if len(report.Drifts) > 0 {
			status = fmt.Sprintf("%d problems", len(report.Drifts))
		}
		fmt.Fprintf(stdout, "region %s shard %s: %d users, %d entries, %s", cfg.Region, name, report.Users, report.Entries, status)
		switch {
		case action == "rebuild":
			fmt.Fprintf(stdout, ", %d snapshots rewritten", report.Rebuilt)
		case action == "seal":
			fmt.Fprintf(stdout, ", %d histories sealed", report.Sealed)
		case !report.SealsChecked:
			fmt.Fprint(stdout, ", seals not checked (no key)")
		}
		fmt.Fprintln(stdout)
		drifts += len(report.Drifts)
	}
	if action != "rebuild" && drifts > 0 {
		return exitError{code: 1}
	}
	return nil
}
