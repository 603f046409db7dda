package main

import (
	"context"
	"fmt"
	"io"

	"example.com/wallet/platform/pgdb"
)

// migrateCmd runs `wallet migrate up|down|version` on every shard of the region, in
// bucket order, stopping at the first shard that fails and naming it. It connects as
// the tables' owner (shards.<name>.owner_dsn); after `up` it grants the server's role
// (database.app_role, or the user of shards.<name>.dsn, when it is another) exactly
// what the server needs.
func migrateCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: migrate needs up, down or version", errUsage)
	}
	action := args[0]
	if action != "up" && action != "down" && action != "version" {
		return fmt.Errorf("%w: unknown migrate action %q", errUsage, action)
	}
	cfg, err := newFlags("migrate").loadFor(args[1:], environ, true)
	if err != nil {
		return err
	}
	latest, err := pgdb.LatestVersion()
	if err != nil {
		return err
	}
	for _, s := range cfg.ShardList {
		m, err := pgdb.NewMigrator(s.OwnerDSN, cfg.Catalogue().Default().Code)
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
		app := cfg.Database.AppRole
		if app == "" {
			app = pgdb.DSNUser(s.DSN)
		}
		if action == "up" && app != "" && app != pgdb.DSNUser(s.OwnerDSN) {
			if err := pgdb.GrantApplication(ctx, s.OwnerDSN, app); err != nil {
				return fmt.Errorf("shard %s: %w", s.Name, err)
			}
			fmt.Fprintf(stdout, "region %s shard %s: role %s may read and append, not rewrite\n", cfg.Region, s.Name, app)
		}
		fmt.Fprintf(stdout, "region %s shard %s: version %d of %d%s\n", cfg.Region, s.Name, v, latest, map[bool]string{true: " (dirty)"}[dirty])
	}
	return nil
}
