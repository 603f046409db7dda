package ledger

import (
	"context"
	"testing"
	"time"

	"example.com/wallet/platform/account"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/shard"
)

// TestBalancesPerCurrencyMigratesOldData fills a shard the way the wallet wrote it
// before balances per currency (schema version 11: one balance per user, entries
// hashed without a currency), migrates it forward, and checks that no balance changed,
// every old entry reads as the region's default currency, the hash chains still
// verify, and new entries in another currency chain on after the old ones.
func TestBalancesPerCurrencyMigratesOldData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	byName, specs := pgtest.NewShards(t, "eu0")
	dsn := specs[0].DSN
	migrateTo := func(version uint, defaultCurrency string) {
		t.Helper()
		m, err := pgdb.NewMigrator(dsn, defaultCurrency)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.To(version); err != nil {
			t.Fatalf("migrate to %d: %v", version, err)
		}
	}
	migrateTo(11, "EUR")
	pool := byName["eu0"].Pool

	// Two users as version 11 kept them: alice with deposits, a withdrawal, a transfer
	// debit and an active hold; bob frozen after a credit.
	alice, bob := shard.NewUserID("eu"), shard.NewUserID("eu")
	type old struct {
		user       string
		kind       string
		amount     string
		transferID string
		createdAt  time.Time
	}
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	history := []old{
		{alice, KindDeposit, "1000", "", start},
		{alice, KindWithdrawal, "150", "", start.Add(time.Second)},
		{alice, KindTransferDebit, "200", "eu_tr_old", start.Add(2 * time.Second)},
		{bob, KindTransferCredit, "200", "eu_tr_old", start.Add(2 * time.Second)},
		{bob, KindAccountFrozen, "0", "", start.Add(3 * time.Second)},
	}
	heads := map[string]struct {
		seq     int64
		hash    []byte
		balance money.Amount
	}{alice: {hash: genesisHash}, bob: {hash: genesisHash}}
	for _, u := range []string{alice, bob} {
		if _, err := pool.Exec(ctx, `INSERT INTO users (id, region) VALUES ($1, 'eu')`, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range history {
		h := heads[o.user]
		amount := money.MustParse(o.amount)
		switch o.kind {
		case KindDeposit, KindTransferCredit:
			h.balance = h.balance.Add(amount)
		case KindWithdrawal, KindTransferDebit:
			h.balance, _ = h.balance.Sub(amount)
		}
		e := Entry{UserID: o.user, Seq: h.seq + 1, Kind: o.kind, Amount: amount, BalanceAfter: h.balance, TransferID: o.transferID,
			CreatedAt: o.createdAt, PrevHash: h.hash, HashVersion: 1}
		e.Hash = entryHash(e.PrevHash, e)
		var transferID *string
		if o.transferID != "" {
			transferID = &o.transferID
		}
		if _, err := pool.Exec(ctx, `INSERT INTO ledger_entries (user_id, seq, kind, amount, balance_after, transfer_id, created_at, prev_hash, hash)
			VALUES ($1, $2, $3, $4::numeric, $5::numeric, $6, $7, $8, $9)`,
			e.UserID, e.Seq, e.Kind, e.Amount.String(), e.BalanceAfter.String(), transferID, e.CreatedAt, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		h.seq, h.hash = e.Seq, e.Hash
		heads[o.user] = h
	}
	for u, h := range heads {
		frozen, status := "0", account.StatusActive
		if u == alice {
			frozen = "300"
		} else {
			status = account.StatusFrozen
		}
		if _, err := pool.Exec(ctx, `INSERT INTO balances (user_id, balance, frozen, last_seq, last_hash, status) VALUES ($1, $2::numeric, $3::numeric, $4, $5, $6)`,
			u, h.balance.String(), frozen, h.seq, h.hash, status); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO holds (transfer_id, user_id, amount) VALUES ('eu_tr_pending', $1, 300)`, alice); err != nil {
		t.Fatal(err)
	}

	// Run by hand without the region's default currency, the migration refuses.
	m, err := pgdb.NewMigrator(dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.To(12); err == nil {
		t.Fatal("the migration ran without a default currency")
	}
	m.Close()
	if _, err := pool.Exec(ctx, `UPDATE schema_migrations SET version = 11, dirty = false`); err != nil {
		t.Fatal(err)
	}
	migrateTo(12, "EUR")

	region := pgdb.NewShards(shard.NewRouter(&config.Config{Region: "eu", Buckets: 256, ShardList: specs}), byName)
	svc := NewService(region, nil)
	verifyClean := func(when string) {
		t.Helper()
		r, err := svc.Verify(ctx, "eu0", "")
		if err != nil || len(r.Drifts) != 0 || r.Users != 2 {
			t.Fatalf("verify %s = %+v, %v", when, r, err)
		}
	}
	verifyClean("after the migration")

	for _, c := range []struct {
		user            string
		balance, frozen string
		status          string
	}{{alice, "650", "300", account.StatusActive}, {bob, "200", "0", account.StatusFrozen}} {
		w, err := svc.Wallet(ctx, c.user)
		if err != nil || w.DefaultCurrency != "EUR" || w.Status != c.status || len(w.Balances) != 1 {
			t.Fatalf("wallet of %s = %+v, %v", c.user, w, err)
		}
		b := w.Balances[0]
		if b.Currency != "EUR" || b.Balance.String() != c.balance || b.Frozen.String() != c.frozen {
			t.Fatalf("balance of %s = %+v, want %s EUR with %s frozen", c.user, b, c.balance, c.frozen)
		}
	}
	page, err := svc.Entries(ctx, alice, 0, 10, Window{}, "EUR")
	if err != nil || len(page.Entries) != 3 || page.Entries[0].Currency != "EUR" || page.Entries[0].HashVersion != 1 {
		t.Fatalf("alice's old entries = %+v, %v", page, err)
	}
	var holdCurrency, holdAmount string
	if err := pool.QueryRow(ctx, `SELECT currency, amount::text FROM holds WHERE transfer_id = 'eu_tr_pending'`).Scan(&holdCurrency, &holdAmount); err != nil ||
		holdCurrency != "EUR" || holdAmount != "300" {
		t.Fatalf("the old hold = %s %s, %v", holdAmount, holdCurrency, err)
	}

	// Money in another currency chains on after the old entries.
	mv := NewMovements(svc, idempotency.NewStore(time.Hour))
	if _, err := mv.Move(ctx, Movement{UserID: alice, Kind: KindDeposit, Currency: "USD", Amount: money.MustParse("75"), Key: "usd-1", Gateway: "gw"},
		func(Moved) (idempotency.Response, error) {
			return idempotency.Response{Status: 201, Body: []byte("{}")}, nil
		}); err != nil {
		t.Fatal(err)
	}
	verifyClean("after a deposit in another currency")
	usd, err := svc.Balance(ctx, alice, "USD")
	if err != nil || usd.Balance.String() != "75" || usd.LedgerSeq != 4 {
		t.Fatalf("alice's USD = %+v, %v", usd, err)
	}
	eur, err := svc.Balance(ctx, alice, "")
	if err != nil || eur.Balance.String() != "650" || eur.Currency != "EUR" || eur.LedgerSeq != 4 {
		t.Fatalf("alice's default balance = %+v, %v", eur, err)
	}
	at, err := svc.BalanceAt(ctx, alice, "EUR", start.Add(1500*time.Millisecond))
	if err != nil || at.Balance.String() != "850" || at.LedgerSeq != 2 {
		t.Fatalf("alice's EUR between her withdrawal and her transfer = %+v, %v", at, err)
	}

	// And back: refused now that entries carry their currency in their hash.
	m, err = pgdb.NewMigrator(dsn, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.To(11); err == nil {
		t.Fatal("migrated back to one unit with entries hashed with their currency")
	}
}
