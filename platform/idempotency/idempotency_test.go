package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/pgdb/pgtest"
)

// claim runs BeginManyTx for reqs and, for each request told to perform, saves resp
// in the same transaction, as the modules do.
func claim(t *testing.T, pool *pgxpool.Pool, store *idempotency.Store, reqs ...idempotency.Request) []idempotency.Claim {
	t.Helper()
	var claims []idempotency.Claim
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		if claims, err = store.BeginManyTx(context.Background(), tx, reqs); err != nil {
			return err
		}
		var perform []idempotency.Request
		var resps []idempotency.Response
		for i, c := range claims {
			if c.Stored == nil && c.Err == nil {
				perform = append(perform, reqs[i])
				resps = append(resps, idempotency.Response{Status: 201, Body: []byte(reqs[i].Gateway + " performed")})
			}
		}
		return store.SaveManyTx(context.Background(), tx, perform, resps)
	})
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

func performed(c idempotency.Claim) bool { return c.Stored == nil && c.Err == nil }

// TestKeysAreScopedByGatewayAndUser: the same key for the same user from two gateways
// is two requests; each gateway replays its own; a request twice in one batch is
// performed once.
func TestKeysAreScopedByGatewayAndUser(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := idempotency.NewStore(time.Hour)
	fp := idempotency.Fingerprint("deposit", "5")
	a := idempotency.Request{Gateway: "a", Scope: "eu_user", Key: "k", Fingerprint: fp}
	b := a
	b.Gateway = "b"

	if c := claim(t, pool, store, a); !performed(c[0]) {
		t.Fatalf("first request from a = %+v, want perform", c[0])
	}
	if c := claim(t, pool, store, b); !performed(c[0]) {
		t.Fatalf("the same key from b = %+v, want perform: keys belong to their gateway", c[0])
	}
	for _, req := range []idempotency.Request{a, b} {
		c := claim(t, pool, store, req)
		if c[0].Stored == nil || string(c[0].Stored.Body) != req.Gateway+" performed" {
			t.Errorf("retry from %s = %+v, want its own stored answer", req.Gateway, c[0])
		}
	}
	other := a
	other.Fingerprint = idempotency.Fingerprint("deposit", "6")
	if c := claim(t, pool, store, other); !errors.Is(c[0].Err, idempotency.ErrReused) {
		t.Errorf("a different request under a's key = %+v, want ErrReused", c[0])
	}

	a2, b2 := a, b
	a2.Key, b2.Key = "batch", "batch"
	c := claim(t, pool, store, a2, b2, a2)
	if !performed(c[0]) || !performed(c[1]) || !errors.Is(c[2].Err, idempotency.ErrInFlight) {
		t.Errorf("batch = %+v, want a and b performed and a's duplicate in flight", c)
	}
}

// TestRecordsFromBeforeGatewayScopingAnswerEveryGateway: a record written before keys
// were scoped per gateway (gateway ”) still answers its retry, whichever gateway
// sends it, until it expires.
func TestRecordsFromBeforeGatewayScopingAnswerEveryGateway(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := idempotency.NewStore(time.Hour)
	fp := idempotency.Fingerprint("deposit", "5")
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO idempotency_records (scope, key, gateway, fingerprint, status_code, response, expires_at)
		VALUES ('eu_user', 'old', '', $1, 201, 'legacy answer', now() + interval '1 hour'),
		       ('eu_user', 'expired', '', $1, 201, 'legacy answer', now() - interval '1 second')`, fp); err != nil {
		t.Fatal(err)
	}
	for _, gw := range []string{"a", "b"} {
		c := claim(t, pool, store, idempotency.Request{Gateway: gw, Scope: "eu_user", Key: "old", Fingerprint: fp})
		if c[0].Stored == nil || string(c[0].Stored.Body) != "legacy answer" {
			t.Errorf("retry of a legacy request from %s = %+v, want the legacy answer", gw, c[0])
		}
	}
	c := claim(t, pool, store, idempotency.Request{Gateway: "a", Scope: "eu_user", Key: "old", Fingerprint: idempotency.Fingerprint("deposit", "6")})
	if !errors.Is(c[0].Err, idempotency.ErrReused) {
		t.Errorf("a different request under a legacy key = %+v, want ErrReused", c[0])
	}
	expired := idempotency.Request{Gateway: "a", Scope: "eu_user", Key: "expired", Fingerprint: fp}
	if c := claim(t, pool, store, expired); !performed(c[0]) {
		t.Errorf("an expired legacy key = %+v, want perform", c[0])
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_records WHERE key = 'expired'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("records of the reclaimed key = %d (%v), want the new one only", n, err)
	}
}
