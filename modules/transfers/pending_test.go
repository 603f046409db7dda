package transfers

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/platform/money"
)

// The pending-transfers metrics count what the shard holds pending, by age since
// creation, and leave final transfers out.
func TestPendingTransfersByAge(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, near, far := f.user(t, "eu0", "100"), f.user(t, "eu0", "0"), f.user(t, "eu1", "0")
	pool := f.shards.For(from).Pool

	ids := map[string]string{}
	for _, key := range []string{"fresh", "minutes", "hours"} {
		c, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: far, Amount: money.MustParse("1"), Key: key}, answerLine)
		if err != nil || c.Transfer.Status != StatusPending {
			t.Fatalf("%s = %+v, %v", key, c, err)
		}
		ids[key] = c.Transfer.ID
	}
	if c, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: near, Amount: money.MustParse("1"), Key: "done"}, answerLine); err != nil || c.Transfer.Status != StatusCompleted {
		t.Fatalf("same shard = %+v, %v", c, err)
	}
	for key, age := range map[string]string{"minutes": "2 minutes", "hours": "2 hours"} {
		if _, err := pool.Exec(ctx, `UPDATE transfers SET created_at = now() - $2::interval WHERE id = $1`, ids[key], age); err != nil {
			t.Fatal(err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(f.svc.PendingCollector(slog.New(slog.DiscardHandler)))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += " " + l.GetName() + "=" + l.GetValue()
			}
			got[name] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"wallet_transfers_ttl_seconds":                  60,
		"wallet_transfers_pending age=0s-10s shard=eu0": 1, "wallet_transfers_pending age=10s-1m shard=eu0": 0,
		"wallet_transfers_pending age=1m-5m shard=eu0": 1, "wallet_transfers_pending age=5m-15m shard=eu0": 0,
		"wallet_transfers_pending age=15m-1h shard=eu0": 0, "wallet_transfers_pending age=1h+ shard=eu0": 1,
		"wallet_transfers_pending age=0s-10s shard=eu1": 0, "wallet_transfers_pending age=10s-1m shard=eu1": 0,
		"wallet_transfers_pending age=1m-5m shard=eu1": 0, "wallet_transfers_pending age=5m-15m shard=eu1": 0,
		"wallet_transfers_pending age=15m-1h shard=eu1": 0, "wallet_transfers_pending age=1h+ shard=eu1": 0,
		"wallet_transfers_pending_oldest_seconds shard=eu1": 0,
	}
	oldest := got["wallet_transfers_pending_oldest_seconds shard=eu0"]
	delete(got, "wallet_transfers_pending_oldest_seconds shard=eu0")
	if oldest < 7200 || oldest > 7260 {
		t.Errorf("oldest on eu0 = %v s, want two hours", oldest)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("series = %v, want exactly %v", got, want)
	}
}
