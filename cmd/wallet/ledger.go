package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// ledgerCmd runs `wallet ledger verify [--user ID]` and `wallet ledger rebuild` over
// every shard of the region. verify exits 1 when it finds any drift.
func ledgerCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "rebuild") {
		return fmt.Errorf("%w: ledger needs verify or rebuild", errUsage)
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
		shardNames = []string{router.ShardOf(userID)}
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
	svc := ledger.NewService(router, shards, idempotency.NewStore(24*time.Hour))

	drifts := 0
	for _, name := range shardNames {
		var report ledger.Report
		if action == "verify" {
			report, err = svc.Verify(ctx, name, userID)
		} else {
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
		if action == "rebuild" {
			fmt.Fprintf(stdout, ", %d snapshots rewritten", report.Rebuilt)
		}
		fmt.Fprintln(stdout)
		drifts += len(report.Drifts)
	}
	if action == "verify" && drifts > 0 {
		return exitError{code: 1}
	}
	return nil
}
