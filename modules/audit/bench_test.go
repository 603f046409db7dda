package audit

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

var benchEntries = flag.Int("audit.entries", 1_000_000, "ledger entries BenchmarkAudit fills its region with")

// BenchmarkAudit audits one region of two shards holding -audit.entries entries, half
// of them transfer debits and credits with their transfers and barriers (completed
// same-shard transfers, which the audit reconciles like any other):
//
//	go test ./modules/audit/ -run '^$' -bench Audit -benchtime 3x
//
// Entries are written through the ledger's own AppendManyTx, as walletbench's history
// does, in the users' default currency; transfers and barriers with one statement per
// pair of users, in that currency too.
func BenchmarkAudit(b *testing.B) {
	r := newRegion(b, "eu", "us")
	ctx := context.Background()
	const perPair = 20_000 // per pair: 5000 deposits, 5000 transfers (debit + credit), 5000 withdrawals
	pairs := max(*benchEntries/perPair/2, 1)
	start := time.Now()
	for _, sh := range []string{"eu0", "eu1"} {
		for range pairs {
			from, to := r.user(b, sh, 0, true), r.user(b, sh, 0, true)
			fill(b, ctx, r, from, to, perPair/4)
		}
	}
	entries := int64(2 * pairs * perPair)
	b.Logf("filled %d entries in %s", entries, time.Since(start).Round(time.Second))

	region := r.auditRegion()
	var read float64
	b.ResetTimer()
	for b.Loop() {
		rep, err := Run(ctx, []Region{region}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		read += rep.ReadSeconds
		if !rep.Clean || rep.Transfers.Total != int(entries/4) {
			b.Fatalf("audit of the filled region: %+v", rep)
		}
	}
	perMillion := b.Elapsed().Seconds() / float64(b.N) * 1e6 / float64(entries)
	b.ReportMetric(perMillion, "s/Mentries")
	b.ReportMetric(read/float64(b.N)*1e6/float64(entries), "read-s/Mentries")
}

// fill gives from n deposits of 2, n transfers of 1 to to, and to n withdrawals of 1.
func fill(b *testing.B, ctx context.Context, r *region, from, to string, n int) {
	b.Helper()
	ids := make([]string, n)
	var fromIns, toIns []ledger.EntryInput
	for range n {
		fromIns = append(fromIns, ledger.EntryInput{UserID: from, Kind: ledger.KindDeposit, Amount: money.FromInt64(2)})
	}
	for i := range n {
		ids[i] = shard.NewTransferID("eu", from, 256)
		fromIns = append(fromIns, ledger.EntryInput{UserID: from, Kind: ledger.KindTransferDebit, Amount: money.FromInt64(1), TransferID: ids[i]})
		toIns = append(toIns, ledger.EntryInput{UserID: to, Kind: ledger.KindTransferCredit, Amount: money.FromInt64(1), TransferID: ids[i]})
	}
	for range n {
		toIns = append(toIns, ledger.EntryInput{UserID: to, Kind: ledger.KindWithdrawal, Amount: money.FromInt64(1)})
	}
	err := pgdb.InTx(ctx, r.shards.For(from).Pool, func(tx pgx.Tx) error {
		if _, err := r.ledger.AppendManyTx(ctx, tx, from, fromIns); err != nil {
			return err
		}
		if _, err := r.ledger.AppendManyTx(ctx, tx, to, toIns); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO transfers (id, from_user_id, to_user_id, currency, amount, status, created_at, updated_at, expires_at)
			SELECT id, $2, $3, $4, 1, 'completed', now(), now(), now() FROM unnest($1::text[]) AS id`, ids, from, to, eur); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome)
			SELECT id, 'credit', $3, $2, $4, 1, 'credited' FROM unnest($1::text[]) AS id`, ids, from, to, eur)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}
