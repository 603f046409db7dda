package main

import (
	"context"
	"fmt"
	"io"

	"example.com/wallet/platform/pgdb"
)

// migrateCmd runs `wallet migrate up|down|version` on every shard of the region, in
// bucket order, stopping at the first shard that fails and naming it.
func migrateCmd(_ context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: migrate needs up, down or version", errUsage)
	}
	action := args[0]
	if action != "up" && action != "down" && action != "version" {
		return fmt.Errorf("%w: unknown migrate action %q", errUsage, action)
	}
	cfg, err := newFlags("migrate").load(args[1:], environ)
	if err != nil {
		return err
	}
	latest, err := pgdb.LatestVersion()
	if err != nil {
		return err
	}
	for _, s := range cfg.ShardList {
		m, err := pgdb.NewMigrator(s.DSN)
		if err != nil {
			return fmt.Errorf("shard %s: %w", s.Name, err)
		}
		switch action {
		case "up":
			err = m.Up()
		case "down":
			err = m.Down()
		}
		if err != nil {
			m.Close()
			return fmt.Errorf("shard %s: migrate %s: %w", s.Name, action, err)
		}
		v, dirty, err := m.Version()
		m.Close()
		if err != nil {
			return fmt.Errorf("shard %s: %w", s.Name, err)
		}
		fmt.Fprintf(stdout, "region %s shard %s: version %d of %d%s\n", cfg.Region, s.Name, v, latest, map[bool]string{true: " (dirty)"}[dirty])
	}
	return nil
}
