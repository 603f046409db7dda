package ledger

import (
	"context"
	"strings"
	"testing"
	"time"

	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
)

// problems verifies userID's history and returns its problems, one string each.
func (f *fixture) problems(t *testing.T, svc *Service, userID string) []string {
	t.Helper()
	r, err := svc.Verify(context.Background(), f.shards.For(userID).Name, userID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range r.Drifts {
		out = append(out, d.Problem)
	}
	return out
}

func mentions(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}

// rewriteAsTheOwner replaces userID's entry seq with amount and recomputes every hash
// after it and the snapshot's head, as someone who can write the database (and knows
// the chain's public recipe) would: the chain verifies again, only a seal can tell.
func (f *fixture) rewriteAsTheOwner(t *testing.T, userID string, seq int64, amount string) {
	t.Helper()
	ctx := context.Background()
	pool := f.pool(userID)
	page, err := f.svc.Entries(ctx, userID, 0, 1000, Window{}, "")
	if err != nil {
		t.Fatal(err)
	}
	entries := page.Entries
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
		t.Fatal(err)
	}
	prev := genesisHash
	var running money.Amount
	for i := range entries {
		e := &entries[i]
		if e.Seq == seq {
			e.Amount = money.MustParse(amount)
		}
		if e.Kind == KindDeposit || e.Kind == KindTransferCredit {
			running = running.Add(e.Amount)
		} else {
			running, _ = running.Sub(e.Amount)
		}
		e.BalanceAfter, e.PrevHash = running, prev
		e.Hash = entryHash(prev, *e)
		prev = e.Hash
		if _, err := tx.Exec(ctx, `UPDATE ledger_entries SET amount = $3::numeric, balance_after = $4::numeric, prev_hash = $5, hash = $6
			WHERE user_id = $1 AND seq = $2`, userID, e.Seq, e.Amount.String(), e.BalanceAfter.String(), e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete;`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE balances SET balance = $2::numeric WHERE user_id = $1`, userID, running.String()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSealsCatchWhatTheChainCannot: someone who can write the database rewrites an
// entry and recomputes the chain and the snapshot. Without seals the ledger verifies
// clean; with them, verify names the rewritten entry. Stripping the seals instead
// leaves the newest entry unsealed, which verify also reports.
func TestSealsCatchWhatTheChainCannot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, v := f.newUser(t), f.newUser(t)
	for i, amount := range []string{"100", "250", "7"} {
		if _, err := f.move(t, u, KindDeposit, amount, string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.move(t, v, KindDeposit, "5", "v"); err != nil {
		t.Fatal(err)
	}
	if p := f.problems(t, f.svc, u); len(p) != 0 {
		t.Fatalf("a sealed, untouched ledger reports %v", p)
	}

	f.rewriteAsTheOwner(t, u, 2, "1250")
	unsealed := NewService(f.shards, nil)
	if p := f.problems(t, unsealed, u); len(p) != 0 {
		t.Fatalf("the rewrite was meant to fool the chain alone, yet it reports %v", p)
	}
	p := f.problems(t, f.svc, u)
	if !mentions(p, "entry 2's seal does not match") || !mentions(p, "entry 3's seal does not match") || mentions(p, "entry 1's seal") {
		t.Fatalf("seals report %v, want entries 2 and 3 rewritten and entry 1 intact", p)
	}

	// Stripping every seal of v, to pass the history off as older than sealing.
	if _, err := f.pool(v).Exec(context.Background(), `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete;
		UPDATE ledger_entries SET seal = NULL WHERE user_id = '`+v+`';
		ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
		t.Fatal(err)
	}
	if p := f.problems(t, f.svc, v); !mentions(p, "entry 1, the newest, is not sealed") {
		t.Fatalf("stripped seals report %v", p)
	}
}

// TestSealingHistoriesOlderThanSeals: entries written before the ledger sealed them
// are reported unsealed until `wallet ledger seal` runs; it seals every clean history
// (and no tampered one), after which verify is clean, new entries carry their own
// seals, and rewriting or cutting short a sealed old history is reported.
func TestSealingHistoriesOlderThanSeals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	before := NewService(f.shards, nil)
	old, tampered := f.newUser(t), f.newUser(t)
	for i, amount := range []string{"10", "20", "30"} {
		for _, u := range []string{old, tampered} {
			if _, err := NewMovements(before, idempotency.NewStore(time.Hour)).Move(ctx, Movement{UserID: u, Kind: KindDeposit, Amount: money.MustParse(amount), Key: string(rune('a' + i))}, answerMoved("")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p := f.problems(t, f.svc, old); !mentions(p, "entry 3, the newest, is not sealed") {
		t.Fatalf("an old history reports %v, want its newest entry unsealed", p)
	}
	// A history rewritten before sealing stays unsealed (its chain shows it).
	if _, err := f.pool(tampered).Exec(ctx, `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete;
		UPDATE ledger_entries SET amount = 11 WHERE user_id = '`+tampered+`' AND seq = 1;
		ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
		t.Fatal(err)
	}

	sealed := 0
	for _, sh := range f.shards.All() {
		name := sh.Name
		r, err := f.svc.Seal(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		sealed += r.Sealed
	}
	if sealed != 1 {
		t.Fatalf("sealed %d histories, want the clean one only", sealed)
	}
	if p := f.problems(t, f.svc, old); len(p) != 0 {
		t.Fatalf("after sealing: %v", p)
	}
	if p := f.problems(t, f.svc, tampered); !mentions(p, "not sealed") || !mentions(p, "hash does not match") {
		t.Fatalf("the tampered history reports %v, want it unsealed and its hash mismatch", p)
	}
	if _, err := f.move(t, old, KindDeposit, "1", "new"); err != nil {
		t.Fatal(err)
	}
	if p := f.problems(t, f.svc, old); len(p) != 0 {
		t.Fatalf("after a new, sealed entry: %v", p)
	}

	// Rewriting the sealed old history is caught by the seal of its entry 3...
	f.rewriteAsTheOwner(t, old, 1, "15")
	if p := f.problems(t, f.svc, old); !mentions(p, "entry 3's seal does not match") {
		t.Fatalf("a rewritten old history reports %v", p)
	}
	// ...and cutting it short below the sealed entry by that seal's orphan.
	if _, err := f.pool(old).Exec(ctx, `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete;
		DELETE FROM ledger_entries WHERE user_id = '`+old+`' AND seq >= 3;
		ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
		t.Fatal(err)
	}
	if p := f.problems(t, f.svc, old); !mentions(p, "entry 3 was sealed and is gone") {
		t.Fatalf("a history cut short reports %v", p)
	}
}
