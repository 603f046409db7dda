package accounts

import (
	"context"
	"errors"
	"testing"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/shard"
)

func TestCreateOpensAWalletAndIsIdempotent(t *testing.T) {
	t.Parallel()
	byName, specs := pgtest.NewShards(t, "eu0", "eu1")
	shards := pgdb.NewShards(shard.NewRouter(&config.Config{Region: "eu", Buckets: 256, ShardList: specs}), byName)
	wallets := ledger.NewService(shards, nil)
	svc := NewService(shards, wallets, "EUR")
	ctx := context.Background()

	id := shard.DerivedUserID("eu", "gw", "signup-1")
	u, err := svc.Create(ctx, id)
	if err != nil || u.ID != id || u.Region != "eu" || u.Status != "active" || u.DefaultCurrency != "EUR" || u.CreatedAt.IsZero() {
		t.Fatalf("Create = %+v, %v", u, err)
	}
	b, err := wallets.Balance(ctx, id, "")
	if err != nil || !b.Balance.IsZero() || b.LedgerSeq != 0 || b.Currency != "EUR" {
		t.Fatalf("the new user's wallet = %+v, %v; want it open and empty", b, err)
	}
	again, err := svc.Create(ctx, id)
	if err != nil || again != u {
		t.Fatalf("creating the id again = %+v, %v; want the first user %+v", again, err, u)
	}
	if got, err := svc.Get(ctx, id); err != nil || got != u {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := svc.Get(ctx, shard.NewUserID("eu")); !errors.Is(err, shard.ErrUserNotFound) {
		t.Fatalf("Get of an unknown user = %v, want shard.ErrUserNotFound", err)
	}
}
