package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/account"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
)

// TestAccountStatusRules: a frozen account takes credits but no new debit, and a hold
// taken before the freeze still completes; a closed account takes nothing and is closed
// only empty; every change is an event of the user's chain, which verify accepts.
func TestAccountStatusRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u := f.newUser(t)
	if _, err := f.move(t, u, KindDeposit, "100", "d1"); err != nil {
		t.Fatal(err)
	}
	setStatus := func(status string) (bool, error) {
		var changed bool
		before, err := f.svc.Account(ctx, u)
		if err != nil {
			return false, err
		}
		err = pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
			after, err := f.svc.SetStatusTx(ctx, tx, u, status)
			changed = after != before
			if err == nil && after.Status != status {
				t.Errorf("SetStatusTx(%s) left the account %+v", status, after)
			}
			return err
		})
		return changed, err
	}
	inTx := func(fn func(p *Postings) error) error {
		return pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
			p, err := f.svc.LockTx(ctx, tx, u)
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
			return f.svc.FlushTx(ctx, tx, p)
		})
	}
	// A hold taken while active, to be captured once frozen.
	if err := inTx(func(p *Postings) error { return p.Hold(u, "tr-before", "", money.MustParse("30")) }); err != nil {
		t.Fatal(err)
	}

	if changed, err := setStatus(account.StatusFrozen); err != nil || !changed {
		t.Fatalf("freeze = %v, %v", changed, err)
	}
	if changed, err := setStatus(account.StatusFrozen); err != nil || changed {
		t.Fatalf("freezing a frozen account = %v, %v; want no change", changed, err)
	}
	if _, err := f.move(t, u, KindWithdrawal, "1", "w1"); !errors.Is(err, account.ErrFrozen) {
		t.Fatalf("withdrawal from a frozen account = %v", err)
	}
	if err := inTx(func(p *Postings) error { return p.Hold(u, "tr-after", "", money.MustParse("1")) }); !errors.Is(err, account.ErrFrozen) {
		t.Fatalf("a new hold on a frozen account = %v", err)
	}
	if _, err := f.move(t, u, KindDeposit, "5", "d2"); err != nil {
		t.Fatalf("deposit to a frozen account = %v", err)
	}
	if err := inTx(func(p *Postings) error {
		_, err := p.Capture(Hold{TransferID: "tr-before", UserID: u, Amount: money.MustParse("30"), Status: HoldActive})
		return err
	}); err != nil {
		t.Fatalf("capturing a hold taken before the freeze = %v", err)
	}
	if b := f.balance(t, u); b.Balance.String() != "75" || !b.Frozen.IsZero() {
		t.Fatalf("after the capture: %+v", b)
	}

	if _, err := setStatus(account.StatusClosed); !errors.Is(err, account.ErrNotEmpty) {
		t.Fatalf("closing an account holding 75 = %v", err)
	}
	if changed, err := setStatus(account.StatusActive); err != nil || !changed {
		t.Fatalf("unfreeze = %v, %v", changed, err)
	}
	if _, err := f.move(t, u, KindWithdrawal, "75", "w2"); err != nil {
		t.Fatalf("withdrawal after unfreezing = %v", err)
	}
	if changed, err := setStatus(account.StatusClosed); err != nil || !changed {
		t.Fatalf("closing an empty account = %v, %v", changed, err)
	}
	if _, err := f.move(t, u, KindDeposit, "1", "d3"); !errors.Is(err, account.ErrClosed) {
		t.Fatalf("deposit to a closed account = %v", err)
	}
	if _, err := setStatus(account.StatusActive); !errors.Is(err, account.ErrClosed) {
		t.Fatalf("reopening a closed account = %v", err)
	}

	page, err := f.svc.Entries(ctx, u, 0, 20, Window{}, "")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range page.Entries {
		kinds = append(kinds, e.Kind)
	}
	want := []string{KindAccountClosed, KindWithdrawal, KindAccountUnfrozen, KindTransferDebit, KindDeposit, KindAccountFrozen, KindDeposit}
	if len(kinds) != len(want) {
		t.Fatalf("history = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("history = %v, want %v", kinds, want)
		}
	}
	if !page.Entries[0].Amount.IsZero() || page.Entries[0].BalanceAfter.String() != "0" {
		t.Fatalf("the close event = %+v", page.Entries[0])
	}
	if report, err := f.svc.Verify(ctx, f.shards.For(u).Name, u); err != nil || len(report.Drifts) != 0 {
		t.Fatalf("verify = %+v, %v", report, err)
	}
}

// TestBalancesPerCurrency: a user holds one balance per currency, each spent on its
// own, in one history; an account closes only once every currency is empty.
func TestBalancesPerCurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u := f.newUser(t)
	move := func(kind, currency, amount, key string) error {
		_, err := f.movements.Move(ctx, Movement{UserID: u, Kind: kind, Currency: currency, Amount: money.MustParse(amount), Key: key}, answerMoved(""))
		return err
	}
	for i, m := range []struct{ kind, currency, amount string }{
		{KindDeposit, "", "100"}, {KindDeposit, "USD", "50"}, {KindDeposit, "JPY", "7"}, {KindWithdrawal, "JPY", "7"},
	} {
		if err := move(m.kind, m.currency, m.amount, fmt.Sprint("k", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := move(KindWithdrawal, "USD", "60", "too-much"); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("60 USD out of 50 USD and 100 EUR = %v, want ErrInsufficientFunds", err)
	}
	w, err := f.svc.Wallet(ctx, u)
	if err != nil || w.DefaultCurrency != "EUR" || w.LedgerSeq != 4 || len(w.Balances) != 3 {
		t.Fatalf("wallet = %+v, %v", w, err)
	}
	for i, want := range []struct{ currency, balance string }{{"EUR", "100"}, {"JPY", "0"}, {"USD", "50"}} {
		if b := w.Balances[i]; b.Currency != want.currency || b.Balance.String() != want.balance || b.LedgerSeq != 4 {
			t.Errorf("balance %d = %+v, want %s %s", i, b, want.balance, want.currency)
		}
	}
	page, err := f.svc.Entries(ctx, u, 0, 10, Window{}, "JPY")
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Kind != KindWithdrawal || page.Entries[0].BalanceAfter.String() != "0" {
		t.Fatalf("JPY statement = %+v, %v", page, err)
	}

	setStatus := func(status string) error {
		return pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
			_, err := f.svc.SetStatusTx(ctx, tx, u, status)
			return err
		})
	}
	if err := move(KindWithdrawal, "", "100", "empty-eur"); err != nil {
		t.Fatal(err)
	}
	if err := setStatus(account.StatusClosed); !errors.Is(err, account.ErrNotEmpty) {
		t.Fatalf("closing with 50 USD left = %v, want account.ErrNotEmpty", err)
	}
	if err := move(KindWithdrawal, "USD", "50", "empty-usd"); err != nil {
		t.Fatal(err)
	}
	if err := setStatus(account.StatusClosed); err != nil {
		t.Fatalf("closing with every currency empty = %v", err)
	}
	if err := move(KindDeposit, "USD", "1", "after-close"); !errors.Is(err, account.ErrClosed) {
		t.Fatalf("a deposit to a closed account = %v, want account.ErrClosed", err)
	}
	r, err := f.svc.Verify(ctx, f.shards.For(u).Name, u)
	if err != nil || len(r.Drifts) != 0 || r.Entries != 7 {
		t.Fatalf("verify = %+v, %v", r, err)
	}
}
