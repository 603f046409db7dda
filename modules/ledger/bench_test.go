package ledger

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBalanceRead reads the balance of users with short and long histories. The
// snapshot makes the read one row either way, so the two should cost the same; compare
// them within one run (`make bench`), never against absolute numbers.
func BenchmarkBalanceRead(b *testing.B) {
	for _, history := range []int{10, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", history), func(b *testing.B) {
			f := newFixtureTB(b)
			u := f.newUserTB(b)
			ctx := context.Background()
			// History is generated in bulk: the read under test never looks at it,
			// so its hashes need not chain.
			if _, err := f.pool(u).Exec(ctx, `
				INSERT INTO ledger_entries (user_id, seq, kind, currency, amount, balance_after, idempotency_key, created_at, prev_hash, hash, hash_version)
				SELECT $1, g, 'deposit', 'EUR', 1, g, 'bench-' || g, now(), '\x00', '\x00', 2 FROM generate_series(1, $2::int) g;
				`, u, history); err != nil {
				b.Fatal(err)
			}
			if _, err := f.pool(u).Exec(ctx, `INSERT INTO balances (user_id, currency, balance) VALUES ($1, 'EUR', $2::bigint)`, u, history); err != nil {
				b.Fatal(err)
			}
			if _, err := f.pool(u).Exec(ctx, `ANALYZE ledger_entries`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bal, err := f.svc.Balance(ctx, u, "")
				if err != nil || bal.LedgerSeq != int64(history) {
					b.Fatalf("balance = %+v, %v", bal, err)
				}
			}
		})
	}
}
