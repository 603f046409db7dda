package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/shard"
)

// testSealKey seals the fixtures' ledgers.
var testSealKey = []byte("the ledger tests' seal key")

type fixture struct {
	svc       *Service
	movements *Movements
	shards    *pgdb.Shards
}

func newFixture(t *testing.T) *fixture { return newFixtureTB(t) }

func newFixtureTB(t testing.TB) *fixture {
	t.Helper()
	shards, specs := pgtest.NewShards(t, "eu0", "eu1")
	region := pgdb.NewShards(shard.NewRouter(&config.Config{Region: "eu", Buckets: 256, ShardList: specs}), shards)
	svc := NewService(region, testSealKey)
	return &fixture{svc: svc, movements: NewMovements(svc, idempotency.NewStore(24*time.Hour)), shards: region}
}

// newUser inserts a user and opens its wallet, as the accounts module does.
func (f *fixture) newUser(t *testing.T) string { return f.newUserTB(t) }

func (f *fixture) newUserTB(t testing.TB) string {
	t.Helper()
	id := shard.NewUserID("eu")
	ctx := context.Background()
	err := pgdb.InTx(ctx, f.pool(id), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, region) VALUES ($1, 'eu')`, id); err != nil {
			return err
		}
		return f.svc.OpenTx(ctx, tx, id, "EUR")
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (f *fixture) pool(userID string) *pgxpool.Pool { return f.shards.For(userID).Pool }

func (f *fixture) move(t *testing.T, userID, kind, amount, key string) (idempotency.Response, error) {
	t.Helper()
	return f.movements.Move(context.Background(), Movement{UserID: userID, Kind: kind, Amount: money.MustParse(amount), Key: key}, answerMoved(""))
}

func (f *fixture) balance(t *testing.T, userID string) Balance {
	t.Helper()
	b, err := f.svc.Balance(context.Background(), userID, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDepositAndWithdrawUpdateBalanceAndLedger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	huge := strings.Repeat("7", 60)
	if _, err := f.move(t, u, KindDeposit, huge, "d1"); err != nil {
		t.Fatal(err)
	}
	resp, err := f.move(t, u, KindWithdrawal, "1", "w1")
	if err != nil {
		t.Fatal(err)
	}
	var got movementJSON
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("7", 59) + "6"
	if resp.Status != 201 || got.Entry.Seq != 2 || got.Entry.Kind != KindWithdrawal || got.Balance.Balance.String() != want || got.Entry.BalanceAfter.String() != want {
		t.Fatalf("withdrawal response = %d %s", resp.Status, resp.Body)
	}
	b := f.balance(t, u)
	if b.Balance.String() != want || b.Available.String() != want || !b.Frozen.IsZero() || b.LedgerSeq != 2 {
		t.Fatalf("balance = %+v", b)
	}
	page, err := f.svc.Entries(context.Background(), u, 0, 10, Window{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 2 || page.Entries[0].Seq != 2 || page.Entries[1].Amount.String() != huge || page.NextBeforeSeq != 0 {
		t.Fatalf("entries = %+v", page)
	}
	if string(page.Entries[0].PrevHash) != string(page.Entries[1].Hash) {
		t.Fatal("entry 2 is not chained to entry 1")
	}
}

func TestConcurrentWithdrawalsNeverOverdraw(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	if _, err := f.move(t, u, KindDeposit, "50", "seed"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	succeeded, refused := 0, 0
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.movements.Move(context.Background(), Movement{UserID: u, Kind: KindWithdrawal, Amount: money.FromInt64(1), Key: fmt.Sprintf("w%d", i)}, answerMoved(""))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				succeeded++
			case errors.Is(err, ErrInsufficientFunds):
				refused++
			default:
				t.Errorf("withdrawal %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if succeeded != 50 || refused != 50 {
		t.Fatalf("succeeded %d, refused %d; want 50 and 50", succeeded, refused)
	}
	if b := f.balance(t, u); !b.Balance.IsZero() || b.LedgerSeq != 51 {
		t.Fatalf("balance = %+v, want 0 after 51 entries", b)
	}
}

func TestIdempotentReplays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, other := f.newUser(t), f.newUser(t)

	first, err := f.move(t, u, KindDeposit, "10", "k")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		again, err := f.move(t, u, KindDeposit, "10", "k")
		if err != nil || again.Status != first.Status || string(again.Body) != string(first.Body) {
			t.Fatalf("replay %d = %d %s, %v; want the stored %d %s", i, again.Status, again.Body, err, first.Status, first.Body)
		}
	}
	if _, err := f.move(t, u, KindDeposit, "11", "k"); err != idempotency.ErrReused {
		t.Fatalf("same key, other amount: %v, want ErrReused", err)
	}
	if _, err := f.move(t, u, KindWithdrawal, "10", "k"); err != idempotency.ErrReused {
		t.Fatalf("same key, other kind: %v, want ErrReused", err)
	}
	if _, err := f.move(t, other, KindDeposit, "10", "k"); err != nil {
		t.Fatalf("the same key for another user is independent: %v", err)
	}
	if b := f.balance(t, u); b.Balance.String() != "10" || b.LedgerSeq != 1 {
		t.Fatalf("balance after replays = %+v, want one deposit of 10", b)
	}
	if b := f.balance(t, other); b.Balance.String() != "10" {
		t.Fatalf("other user's balance = %+v", b)
	}
}

func TestConcurrentRequestsWithOneKeyHaveOneEffect(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	var wg sync.WaitGroup
	results := make([]idempotency.Response, 20)
	errs := make([]error, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.movements.Move(context.Background(), Movement{UserID: u, Kind: KindDeposit, Amount: money.FromInt64(5), Key: "same"}, answerMoved(""))
		}()
	}
	wg.Wait()
	var body string
	for i, err := range errs {
		if err == idempotency.ErrInFlight {
			continue // the first request was still running: the client retries later
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if body == "" {
			body = string(results[i].Body)
		}
		if results[i].Status != 201 || string(results[i].Body) != body {
			t.Fatalf("request %d got a different response: %s vs %s", i, results[i].Body, body)
		}
	}
	if body == "" {
		t.Fatal("no request succeeded")
	}
	if b := f.balance(t, u); b.Balance.String() != "5" || b.LedgerSeq != 1 {
		t.Fatalf("balance = %+v, want exactly one deposit of 5", b)
	}
}

// A key whose request completed is answered from its record by every replay, however
// many arrive at once: replays take no lock, so none is told the key is in use.
func TestConcurrentReplaysOfACompletedKeyAllReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	first, err := f.move(t, u, KindDeposit, "5", "done")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 30)
	bodies := make([]string, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.movements.Move(context.Background(), Movement{UserID: u, Kind: KindDeposit, Amount: money.FromInt64(5), Key: "done"}, answerMoved(""))
			errs[i], bodies[i] = err, string(resp.Body)
		}()
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil || bodies[i] != string(first.Body) {
			t.Fatalf("replay %d = %q, %v; want the stored %s", i, bodies[i], errs[i], first.Body)
		}
	}
	if b := f.balance(t, u); b.Balance.String() != "5" || b.LedgerSeq != 1 {
		t.Fatalf("balance = %+v, want exactly one deposit of 5", b)
	}
}

// If the first request commits between a duplicate's read of the key and its lock,
// the duplicate performs the effect in its own transaction; saving its record then
// finds the first one, and the duplicate must roll back and run again, as a replay.
func TestSaveFindingARecordRollsBackAndRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	idem := idempotency.NewStore(24 * time.Hour)
	req := idempotency.Request{Scope: u, Key: "raced", Fingerprint: []byte("fp")}
	first := idempotency.Response{Status: 201, Body: []byte(`{"first":true}`)}
	ctx := context.Background()
	attempts := 0
	var replayed *idempotency.Response
	err := pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
		attempts++
		stored, err := idem.BeginTx(ctx, tx, req)
		if err != nil || stored != nil {
			replayed = stored
			return err
		}
		if attempts == 1 {
			// The twin commits now, on another connection.
			if err := pgdb.InTx(ctx, f.pool(u), func(other pgx.Tx) error { return idem.SaveTx(ctx, other, req, first) }); err != nil {
				return err
			}
		}
		return idem.SaveTx(ctx, tx, req, idempotency.Response{Status: 201, Body: []byte(`{"second":true}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || replayed == nil || string(replayed.Body) != string(first.Body) {
		t.Fatalf("after %d attempts replayed %v; want the second attempt to replay the twin's %s", attempts, replayed, first.Body)
	}
}

func TestLedgerIsAppendOnlyInTheDatabase(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	if _, err := f.move(t, u, KindDeposit, "10", "k"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, stmt := range []string{
		`UPDATE ledger_entries SET amount = 1000 WHERE user_id = $1`,
		`DELETE FROM ledger_entries WHERE user_id = $1`,
		`TRUNCATE ledger_entries`,
	} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = append(args, u)
		}
		_, err := f.pool(u).Exec(ctx, stmt, args...)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: err = %v, want an append-only refusal", stmt, err)
		}
	}
	if b := f.balance(t, u); b.Balance.String() != "10" {
		t.Fatalf("balance = %+v", b)
	}
}

// TestBalanceReadDoesNotScanHistory reads the balance of a user with a long history
// and proves, from PostgreSQL's own per-transaction table statistics, that the read
// touched one snapshot row and, of the history, at most its newest entry (whose
// sequence number the answer carries), through the primary key: never a scan.
func TestBalanceReadDoesNotScanHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	for i := 0; i < 300; i++ {
		if _, err := f.move(t, u, KindDeposit, "1", fmt.Sprintf("d%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	type counts struct{ entrySeqScans, entryIndexScans, entriesFetched, balanceScans int64 }
	// pg_stat_xact_user_tables also holds this backend's not yet flushed counts of
	// earlier transactions, so the proof is the difference around the read.
	read := func(tx pgx.Tx) counts {
		var c counts
		if err := tx.QueryRow(ctx, `
			SELECT coalesce(sum(seq_scan) FILTER (WHERE relname = 'ledger_entries'), 0),
			       coalesce(sum(coalesce(idx_scan, 0)) FILTER (WHERE relname = 'ledger_entries'), 0),
			       coalesce(sum(coalesce(idx_tup_fetch, 0)) FILTER (WHERE relname = 'ledger_entries'), 0),
			       coalesce(sum(seq_scan + coalesce(idx_scan, 0)) FILTER (WHERE relname = 'balances'), 0)
			FROM pg_stat_xact_user_tables`).Scan(&c.entrySeqScans, &c.entryIndexScans, &c.entriesFetched, &c.balanceScans); err != nil {
			t.Fatal(err)
		}
		return c
	}
	err := pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
		before := read(tx)
		row, err := f.svc.q.ReadBalance(ctx, tx, ledgerdb.ReadBalanceParams{UserID: u})
		if err != nil {
			return err
		}
		after := read(tx)
		if row.Balance.String() != "300" || row.LastSeq != 300 {
			t.Errorf("balance = %s at entry %d, want 300 at 300", row.Balance, row.LastSeq)
		}
		d := counts{after.entrySeqScans - before.entrySeqScans, after.entryIndexScans - before.entryIndexScans,
			after.entriesFetched - before.entriesFetched, after.balanceScans - before.balanceScans}
		if d.entrySeqScans != 0 || d.entryIndexScans != 1 || d.entriesFetched > 1 || d.balanceScans != 1 {
			t.Errorf("a balance read: %d scans and %d index probes of ledger_entries fetching %d entries, %d scans of balances; want 0, 1, at most 1, 1",
				d.entrySeqScans, d.entryIndexScans, d.entriesFetched, d.balanceScans)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnknownUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ghost := shard.NewUserID("eu")
	if _, err := f.svc.Balance(context.Background(), ghost, ""); !errors.Is(err, shard.ErrUserNotFound) {
		t.Fatalf("Balance = %v", err)
	}
	if _, err := f.move(t, ghost, KindDeposit, "1", "k"); !errors.Is(err, shard.ErrUserNotFound) {
		t.Fatalf("Move = %v", err)
	}
}

func TestVerifyDetectsTamperingAndRebuildMendsSnapshots(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u, v := f.newUser(t), f.newUser(t)
	for i, amount := range []string{"100", "250", "7"} {
		if _, err := f.move(t, u, KindDeposit, amount, fmt.Sprint("d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.move(t, u, KindWithdrawal, "57", "w"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.move(t, v, KindDeposit, "1", "d"); err != nil {
		t.Fatal(err)
	}
	verifyAll := func() []Drift {
		var drifts []Drift
		for _, sh := range f.shards.All() {
			name := sh.Name
			r, err := f.svc.Verify(ctx, name, "")
			if err != nil {
				t.Fatal(err)
			}
			drifts = append(drifts, r.Drifts...)
		}
		return drifts
	}
	if d := verifyAll(); len(d) != 0 {
		t.Fatalf("clean ledger reported %v", d)
	}

	// A snapshot that disagrees with history: found by verify, mended by rebuild.
	if _, err := f.pool(u).Exec(ctx, `UPDATE balances SET balance = balance + 1000 WHERE user_id = $1`, u); err != nil {
		t.Fatal(err)
	}
	d := verifyAll()
	if len(d) != 1 || d[0].UserID != u || !strings.Contains(d[0].Problem, "snapshot balance 1300, entries sum to 300") {
		t.Fatalf("drift = %v", d)
	}
	r, err := f.svc.Rebuild(ctx, f.shards.For(u).Name)
	if err != nil || r.Rebuilt != 1 {
		t.Fatalf("rebuild = %+v, %v", r, err)
	}
	if b := f.balance(t, u); b.Balance.String() != "300" {
		t.Fatalf("rebuilt balance = %s", b.Balance)
	}
	if d := verifyAll(); len(d) != 0 {
		t.Fatalf("after rebuild: %v", d)
	}

	// Rewriting history behind the trigger's back (only a table owner can) breaks the
	// hash chain, and verify names the entry.
	if _, err := f.pool(u).Exec(ctx, `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete;
		UPDATE ledger_entries SET amount = 101, balance_after = 101 WHERE user_id = '`+u+`' AND seq = 1;
		ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
		t.Fatal(err)
	}
	report, err := f.svc.Verify(ctx, f.shards.For(u).Name, u)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range report.Drifts {
		if strings.Contains(d.Problem, "entry 1's hash does not match") {
			found = true
		}
	}
	if !found || report.Users != 1 || report.Entries != 4 {
		t.Fatalf("tampered entry not detected: %+v", report)
	}

	// An entry slipped in for a user without a wallet (no writer can; only the table
	// owner, by hand) is reported by the whole-shard verify.
	ghost := shard.NewUserID("eu")
	if _, err := f.pool(u).Exec(ctx, `INSERT INTO ledger_entries (user_id, seq, kind, currency, amount, balance_after, created_at, prev_hash, hash, hash_version)
		VALUES ($1, 1, 'deposit', 'EUR', 5, 5, now(), '\x00', '\x00', 2)`, ghost); err != nil {
		t.Fatal(err)
	}
	whole, err := f.svc.Verify(ctx, f.shards.For(u).Name, "")
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, d := range whole.Drifts {
		if d.UserID == ghost && strings.Contains(d.Problem, "no wallet") {
			found = true
		}
	}
	if !found {
		t.Fatalf("entries without a wallet not reported: %+v", whole.Drifts)
	}
}

// TestBalanceLimitRefusesAndWritesNothing: NUMERIC(78,0) is the only limit; a deposit
// that would pass it is refused by PostgreSQL and mapped to balance_limit_exceeded.
func TestBalanceLimitRefusesAndWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u := f.newUser(t)
	if _, err := f.move(t, u, KindDeposit, strings.Repeat("9", 78), "full"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.move(t, u, KindDeposit, "1", "over"); err != ErrBalanceLimit {
		t.Fatalf("deposit past the limit = %v, want ErrBalanceLimit", err)
	}
	if b := f.balance(t, u); b.Balance.String() != strings.Repeat("9", 78) || b.LedgerSeq != 1 {
		t.Fatalf("balance after the refusal = %+v", b)
	}
}

// AppendManyTx writes what single appends would: one chain that verifies,
// one snapshot; and a refusal in the middle leaves nothing of the call behind.
func TestAppendManyChainsLikeAppend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u := f.newUser(t)
	if _, err := f.move(t, u, KindDeposit, "10", "first"); err != nil {
		t.Fatal(err)
	}
	var ins []EntryInput
	for i := range 1000 {
		kind := KindDeposit
		if i%3 == 2 {
			kind = KindWithdrawal
		}
		ins = append(ins, EntryInput{UserID: u, Kind: kind, Amount: money.FromInt64(int64(i%7 + 1)), Metadata: map[string]string{"i": fmt.Sprint(i)}})
	}
	want := money.FromInt64(10)
	for _, in := range ins {
		if in.Kind == KindDeposit {
			want = want.Add(in.Amount)
		} else {
			want, _ = want.Sub(in.Amount)
		}
	}
	err := pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
		b, err := f.svc.AppendManyTx(ctx, tx, u, ins)
		if err == nil && (b.Balance.Cmp(want) != 0 || b.LedgerSeq != 1001) {
			t.Errorf("AppendManyTx balance = %+v, want %s at seq 1001", b, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if b := f.balance(t, u); b.Balance.Cmp(want) != 0 || b.LedgerSeq != 1001 {
		t.Fatalf("snapshot = %+v, want %s at seq 1001", b, want)
	}
	report, err := f.svc.Verify(ctx, f.shards.For(u).Name, u)
	if err != nil || len(report.Drifts) != 0 || report.Entries != 1001 {
		t.Fatalf("verify = %+v, %v; want 1001 entries and no drift", report, err)
	}

	overdraw := []EntryInput{{UserID: u, Kind: KindDeposit, Amount: money.FromInt64(1)}, {UserID: u, Kind: KindWithdrawal, Amount: want.Add(money.FromInt64(5))}}
	err = pgdb.InTx(ctx, f.pool(u), func(tx pgx.Tx) error {
		_, err := f.svc.AppendManyTx(ctx, tx, u, overdraw)
		return err
	})
	if !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("an overdraft in the batch = %v, want ErrInsufficientFunds", err)
	}
	if b := f.balance(t, u); b.LedgerSeq != 1001 {
		t.Fatalf("after a refused batch the ledger is at seq %d, want 1001", b.LedgerSeq)
	}
}

// TestBalanceAtAnInstantAndEntriesInAWindow: the balance as of an instant is the
// balance after the newest entry created at or before it (zero before the first), and a
// window of creation times selects the entries a statement shows.
func TestBalanceAtAnInstantAndEntriesInAWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	u := f.newUser(t)
	var stamps []time.Time
	for i, amount := range []string{"100", "20", "3"} {
		if _, err := f.move(t, u, KindDeposit, amount, fmt.Sprint("d", i)); err != nil {
			t.Fatal(err)
		}
		page, err := f.svc.Entries(ctx, u, 0, 1, Window{}, "")
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, page.Entries[0].CreatedAt)
	}
	// Each deposit is its own transaction, a round trip at least: their stamps (to the
	// microsecond) differ, which the instants below rely on.
	if !stamps[0].Before(stamps[1]) || !stamps[1].Before(stamps[2]) {
		t.Fatalf("creation times %v are not increasing", stamps)
	}
	cases := []struct {
		at      time.Time
		balance string
		seq     int64
	}{
		{stamps[0].Add(-time.Millisecond), "0", 0},
		{stamps[0], "100", 1},
		{stamps[1].Add(-time.Microsecond), "100", 1},
		{stamps[1], "120", 2},
		{stamps[2].Add(time.Hour), "123", 3},
	}
	for _, c := range cases {
		b, err := f.svc.BalanceAt(ctx, u, "", c.at)
		if err != nil || b.Balance.String() != c.balance || b.LedgerSeq != c.seq {
			t.Errorf("at %s = %+v, %v; want %s after entry %d", c.at, b, err, c.balance, c.seq)
		}
	}
	page, err := f.svc.Entries(ctx, u, 0, 10, Window{From: stamps[1], To: stamps[2]}, "")
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Seq != 2 {
		t.Fatalf("entries in [entry 2, entry 3) = %+v, %v", page, err)
	}
	if _, err := f.svc.BalanceAt(ctx, shard.NewUserID("eu"), "", time.Now()); !errors.Is(err, shard.ErrUserNotFound) {
		t.Fatalf("balance at an instant of a user that does not exist = %v", err)
	}
}
