package pgdb

import (
	"context"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// ApplicationPrivileges is everything the server's database role needs on a shard,
// and nothing more. It reads the ledger and appends to it, but cannot change or remove
// an entry (no UPDATE, DELETE or TRUNCATE on ledger_entries, nor on steps and
// barriers, nor on users; of a wallet it may change only the status, never whose
// it is or its default currency); and it owns nothing, so it cannot disable the append-only trigger, alter
// a table or drop one. Migrations run as the tables' owner, a different role; the
// server never connects as it.
var ApplicationPrivileges = []string{
	"GRANT USAGE ON SCHEMA public TO %s",
	"GRANT SELECT ON schema_migrations TO %s",
	"GRANT SELECT, INSERT ON users, ledger_entries, ledger_seals, transfer_steps, tcc_barriers TO %s",
	"GRANT SELECT, INSERT ON wallets TO %s",
	"GRANT UPDATE (status, updated_at) ON wallets TO %s",
	"GRANT SELECT, INSERT, UPDATE ON balances, holds, transfers, outbox_relay_lease TO %s",
	"GRANT SELECT, INSERT, UPDATE, DELETE ON outbox, idempotency_records TO %s",
	"GRANT USAGE ON SEQUENCE outbox_id_seq TO %s",
	"GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries TO %s",
	"GRANT USAGE ON SEQUENCE webhook_deliveries_id_seq TO %s",
}

// GrantApplication gives role the ApplicationPrivileges on the shard behind ownerDSN,
// connected as the tables' owner. It is idempotent; `wallet migrate up` runs it after
// the migrations.
func GrantApplication(ctx context.Context, ownerDSN, role string) error {
	conn, err := pgx.Connect(ctx, ownerDSN)
	if err != nil {
		return fmt.Errorf("connecting as the owner: %w", redact(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, grant := range ApplicationPrivileges {
		if _, err := conn.Exec(ctx, fmt.Sprintf(grant, pgx.Identifier{role}.Sanitize())); err != nil {
			return fmt.Errorf("granting %s: %w", role, err)
		}
	}
	return nil
}

// DSNUser is the role a DSN connects as ("" when it names none).
func DSNUser(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil && u.Scheme != "" {
		return u.User.Username()
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return ""
	}
	return cfg.User
}
