package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/accounts"
	"example.com/wallet/modules/ledger"
	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/shard"
)

// The audit is tested against real PostgreSQL: two regions of two shards each, filled
// through the modules' own services (deposits, withdrawals, same-shard, cross-shard and
// cross-region transfers in every state, with the TCC messages delivered by hand),
// then corrupted with SQL as the tables' owner, one discrepancy per test. Every user's
// default currency is EUR; the tests of currencies add USD.

const (
	eur = pgtest.DefaultCurrency
	usd = "USD"
)

type region struct {
	name      string
	shards    *pgdb.Shards
	ledger    *ledger.Service
	accounts  *accounts.Service
	transfers *transfers.Service
	// expiring is a transfers service whose transfers expire at once, for the cancel
	// path.
	expiring *transfers.Service
}

func newRegion(t testing.TB, name, peer string) *region {
	t.Helper()
	byName, specs := pgtest.NewShards(t, name+"0", name+"1")
	cfg := &config.Config{Region: name, Buckets: 256, ShardList: specs, Peers: map[string]config.Peer{peer: {}}}
	shards := pgdb.NewShards(shard.NewRouter(cfg), byName)
	l := ledger.NewService(shards, nil)
	svc := func(ttl time.Duration) *transfers.Service {
		return transfers.NewService(transfers.Config{Buckets: 256, TTL: ttl, ResendAfter: time.Minute, ResendMax: time.Minute, MaxWaiters: 10},
			shards, l, idempotency.NewStore(time.Hour), transfers.NewMetrics(prometheus.NewRegistry()))
	}
	return &region{name: name, shards: shards, ledger: l, accounts: accounts.NewService(shards, l, eur), transfers: svc(time.Hour), expiring: svc(0)}
}

func (r *region) auditRegion() Region {
	return Region{Shards: r.shards, Ledger: r.ledger, Transfers: r.transfers}
}

// user creates a user of r on shard onShard (created when create) and deposits amount.
func (r *region) user(t testing.TB, onShard string, amount int64, create bool) string {
	t.Helper()
	for {
		id := shard.NewUserID(r.name)
		if r.shards.For(id).Name != onShard {
			continue
		}
		if !create {
			return id
		}
		if _, err := r.accounts.Create(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if amount > 0 {
			r.move(t, id, ledger.KindDeposit, amount)
		}
		return id
	}
}

// move deposits or withdraws amount in the user's default currency.
func (r *region) move(t testing.TB, user, kind string, amount int64) {
	t.Helper()
	r.moveIn(t, user, kind, "", amount)
}

// moveIn deposits or withdraws amount in currency ("" for the user's default).
func (r *region) moveIn(t testing.TB, user, kind, currency string, amount int64) {
	t.Helper()
	_, err := ledger.NewMovements(r.ledger, idempotency.NewStore(time.Hour)).Move(context.Background(),
		ledger.Movement{UserID: user, Kind: kind, Currency: currency, Amount: money.FromInt64(amount), Key: fmt.Sprintf("%s-%s-%d-%d", kind, currency, amount, time.Now().UnixNano())},
		func(ledger.Moved) (idempotency.Response, error) {
			return idempotency.Response{Status: 1, Body: []byte("ok")}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// send asks svc for a transfer in the sender's default currency.
func (r *region) send(t *testing.T, svc *transfers.Service, from, to string, amount int64) transfers.Transfer {
	t.Helper()
	return r.sendIn(t, svc, from, to, "", amount)
}

// sendIn asks svc for a transfer in currency ("" for the sender's default).
func (r *region) sendIn(t *testing.T, svc *transfers.Service, from, to, currency string, amount int64) transfers.Transfer {
	t.Helper()
	c, err := svc.Create(context.Background(), transfers.Request{FromUserID: from, ToUserID: to, Currency: currency, Amount: money.FromInt64(amount), Key: fmt.Sprintf("t-%d", time.Now().UnixNano())},
		func(transfers.Transfer) (idempotency.Response, error) {
			return idempotency.Response{Status: 1, Body: []byte("ok")}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return c.Transfer
}

// deliver applies one TCC message of transfer tr in region to, on the shard whose
// lane would apply it: the receiver's for credit and cancel, the sender's for replies.
func deliver(t *testing.T, to *region, msgType string, tr transfers.Transfer, reason string) {
	t.Helper()
	key := tr.ID
	if msgType == transfers.MsgCredit || msgType == transfers.MsgCancel {
		key = tr.ToUserID
	}
	m := transfers.Inbound{Message: transfers.Message{Type: msgType, TransferID: tr.ID, FromUserID: tr.FromUserID, ToUserID: tr.ToUserID, Currency: tr.Currency, Amount: tr.Amount.String(), Reason: reason}, Amount: tr.Amount}
	if err := to.transfers.ApplyInbound(context.Background(), to.shards.For(key).Name, []transfers.Inbound{m}); err != nil {
		t.Fatalf("%s of %s: %v", msgType, tr.ID, err)
	}
}

// world is a clean pair of regions with every kind of movement and transfer state.
type world struct {
	eu, us *region
	// a and b on eu0, c on eu1; d and e on us; ghost is a us id without a user.
	a, b, c, d, e, ghost string
	// The transfers, by what became of them.
	sameShard, crossShard, crossRegion, fromUS, refused, cancelled, cancelledAtOnce, inFlight, waiting transfers.Transfer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{eu: newRegion(t, "eu", "us"), us: newRegion(t, "us", "eu")}
	w.a, w.b, w.c = w.eu.user(t, "eu0", 10_000, true), w.eu.user(t, "eu0", 0, true), w.eu.user(t, "eu1", 500, true)
	w.d, w.e = w.us.user(t, "us0", 2_000, true), w.us.user(t, "us1", 0, true)
	w.ghost = w.us.user(t, "us1", 0, false)
	w.eu.move(t, w.a, ledger.KindWithdrawal, 300)
	w.us.move(t, w.d, ledger.KindWithdrawal, 25)

	w.sameShard = w.eu.send(t, w.eu.transfers, w.a, w.b, 100)
	w.cancelledAtOnce = w.eu.send(t, w.eu.transfers, w.a, w.eu.user(t, "eu0", 0, false), 5)

	w.crossShard = w.eu.send(t, w.eu.transfers, w.a, w.c, 200)
	deliver(t, w.eu, transfers.MsgCredit, w.crossShard, "")
	deliver(t, w.eu, transfers.MsgCredited, w.crossShard, "")

	w.crossRegion = w.eu.send(t, w.eu.transfers, w.a, w.d, 300)
	deliver(t, w.us, transfers.MsgCredit, w.crossRegion, "")
	deliver(t, w.eu, transfers.MsgCredited, w.crossRegion, "")

	w.fromUS = w.us.send(t, w.us.transfers, w.d, w.c, 400)
	deliver(t, w.eu, transfers.MsgCredit, w.fromUS, "")
	deliver(t, w.us, transfers.MsgCredited, w.fromUS, "")

	w.refused = w.eu.send(t, w.eu.transfers, w.a, w.ghost, 50)
	deliver(t, w.us, transfers.MsgCredit, w.refused, "")
	deliver(t, w.eu, transfers.MsgRefused, w.refused, transfers.ReasonReceiverNotFound)

	// Expired at once: the sweep asks the receiver to cancel, which it does first.
	w.cancelled = w.eu.send(t, w.eu.expiring, w.a, w.e, 60)
	if n, err := w.eu.expiring.SweepOnce(context.Background(), "eu0"); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want the expired transfer's cancel requested", n, err)
	}
	deliver(t, w.us, transfers.MsgCancel, w.cancelled, "")
	deliver(t, w.eu, transfers.MsgCancelled, w.cancelled, transfers.ReasonExpired)

	// Credited, the reply not yet applied: in flight.
	w.inFlight = w.eu.send(t, w.eu.transfers, w.a, w.e, 70)
	deliver(t, w.us, transfers.MsgCredit, w.inFlight, "")
	// Held, the credit not yet delivered.
	w.waiting = w.eu.send(t, w.eu.transfers, w.a, w.d, 80)

	for _, tr := range []struct {
		tr   transfers.Transfer
		r    *region
		want string
	}{
		{w.sameShard, w.eu, transfers.StatusCompleted}, {w.crossShard, w.eu, transfers.StatusCompleted},
		{w.crossRegion, w.eu, transfers.StatusCompleted}, {w.fromUS, w.us, transfers.StatusCompleted},
		{w.refused, w.eu, transfers.StatusCancelled}, {w.cancelled, w.eu, transfers.StatusCancelled},
		{w.cancelledAtOnce, w.eu, transfers.StatusCancelled}, {w.inFlight, w.eu, transfers.StatusPending},
		{w.waiting, w.eu, transfers.StatusPending},
	} {
		got, err := tr.r.transfers.Get(context.Background(), tr.tr.ID)
		if err != nil || got.Status != tr.want {
			t.Fatalf("setting up: transfer %s is %q (%v), want %s", tr.tr.ID, got.Status, err, tr.want)
		}
	}
	return w
}

func (w *world) audit(t *testing.T, opts Options) Report {
	t.Helper()
	if opts.RecheckWait == 0 {
		opts.RecheckWait = 5 * time.Millisecond
	}
	rep, err := Run(context.Background(), []Region{w.eu.auditRegion(), w.us.auditRegion()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// exec runs SQL as the tables' owner on the shard holding key in r.
func (r *region) exec(t *testing.T, key, sql string, args ...any) {
	t.Helper()
	if _, err := r.shards.For(key).Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rewrite runs SQL with the ledger's append-only trigger disabled, as only the tables'
// owner can (modules/ledger/seal_test.go does the same).
func (r *region) rewrite(t *testing.T, key, sql string, args ...any) {
	t.Helper()
	err := pgdb.InTx(context.Background(), r.shards.For(key).Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update_delete`); err != nil {
			return err
		}
		if _, err := tx.Exec(context.Background(), sql, args...); err != nil {
			return err
		}
		_, err := tx.Exec(context.Background(), `ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update_delete`)
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// ids lists a report's discrepancies as "kind region/shard currency user transfer",
// sorted.
func ids(rep Report) []string {
	var out []string
	for _, d := range rep.Discrepancies {
		out = append(out, fmt.Sprintf("%s %s/%s %s %s %s", d.Kind, d.Region, d.Shard, d.Currency, d.UserID, d.TransferID))
	}
	slices.Sort(out)
	return out
}

func want(lines ...string) []string {
	slices.Sort(lines)
	return lines
}

// conservationIn is the report's account of currency, which the test needs to exist.
func conservationIn(t *testing.T, rep Report, currency string) Conservation {
	t.Helper()
	c, ok := rep.ConservationIn(currency)
	if !ok {
		t.Fatalf("no conservation in %s: %+v", currency, rep.Conservation)
	}
	return c
}

// shardIn is the sums of shard where in currency, which the test needs to exist.
func shardIn(t *testing.T, rep Report, where Where, currency string) (ShardSummary, ShardCurrency) {
	t.Helper()
	for _, s := range rep.Shards {
		if s.Where != where {
			continue
		}
		for _, c := range s.Currencies {
			if c.Currency == currency {
				return s, c
			}
		}
	}
	t.Fatalf("no sums of %s/%s in %s: %+v", where.Region, where.Shard, currency, rep.Shards)
	return ShardSummary{}, ShardCurrency{}
}

func TestACleanWorldIsClean(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rep := w.audit(t, Options{PendingOlderThan: time.Hour})
	if !rep.Clean || len(rep.Discrepancies) != 0 {
		t.Fatalf("discrepancies in a clean world: %v", ids(rep))
	}
	// Deposits 10000 + 500 + 2000, withdrawals 300 + 25; the in-flight transfer's 70
	// is on e's balance and still frozen on a's. All of it in euros, the one currency.
	c := conservationIn(t, rep, eur)
	if len(rep.Conservation) != 1 || c.Deposits != "12500" || c.Withdrawals != "325" || c.InFlight != "70" || c.InFlightTransfers != 1 ||
		c.Balances != "12245" || c.External != "0" || c.Skew != "0" || c.Unexplained != "0" {
		t.Fatalf("conservation = %+v", rep.Conservation)
	}
	if ts := rep.Transfers; ts.Total != 9 || ts.Completed != 4 || ts.Cancelled != 3 || ts.Pending != 2 || ts.Unknown != 0 || ts.Rechecked != 0 {
		t.Fatalf("transfers = %+v", ts)
	}
	if len(rep.Shards) != 4 || !slices.Equal(rep.Regions, []string{"eu", "us"}) {
		t.Fatalf("shards = %+v, regions %v", rep.Shards, rep.Regions)
	}
	if s, sums := shardIn(t, rep, Where{"eu", "eu0"}, eur); s.Users != 2 || len(s.Currencies) != 1 || sums.Frozen != "150" || s.Transfers != 8 || s.Holds != 6 {
		t.Fatalf("eu0 = %+v; want a and b, 70 + 80 frozen in %s alone, 8 transfers sent, 6 holds", s, eur)
	}
}

func TestOneRegionAloneIsCleanWithItsOtherHalvesExternal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rep, err := Run(context.Background(), []Region{w.eu.auditRegion()}, Options{RecheckWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// eu debited 300 to d, credited 400 from d; the in-flight 70 to e is frozen on a's
	// side, not yet debited, so it moves nothing in eu.
	if c := conservationIn(t, rep, eur); !rep.Clean || c.External != "100" || c.InFlight != "0" {
		t.Fatalf("eu alone = %v, conservation %+v", ids(rep), rep.Conservation)
	}
}

func TestAMissingCreditIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tr := w.crossRegion
	// The receiver's credit vanishes: barrier, entry and the balance it made.
	w.us.exec(t, tr.ToUserID, `DELETE FROM tcc_barriers WHERE transfer_id = $1`, tr.ID)
	w.us.rewrite(t, tr.ToUserID, `DELETE FROM ledger_entries WHERE transfer_id = $1`, tr.ID)
	w.us.exec(t, tr.ToUserID, `UPDATE balances SET balance = balance - 300 WHERE user_id = $1`, tr.ToUserID)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"missing_credit us/us0 EUR "+w.d+" "+tr.ID,
		"conservation / EUR  ",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if rep.Clean || conservationIn(t, rep, eur).Unexplained != "-300" || rep.Transfers.Rechecked != 1 || rep.Transfers.Resolved != 0 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestAnOrphanCreditIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// A credit of a transfer eu never made: the entry through the ledger's own
	// arithmetic, the barrier by hand.
	id := shard.NewTransferID("eu", w.a, 256)
	err := pgdb.InTx(context.Background(), w.us.shards.For(w.e).Pool, func(tx pgx.Tx) error {
		_, err := w.us.ledger.AppendManyTx(context.Background(), tx, w.e, []ledger.EntryInput{{UserID: w.e, Kind: ledger.KindTransferCredit, Amount: money.FromInt64(999), TransferID: id}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w.us.exec(t, w.e, `INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome) VALUES ($1, 'credit', $2, $3, $4, 999, 'credited')`, id, w.e, w.a, eur)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"orphan_credit us/us1 EUR "+w.e+" "+id,
		"orphan_credit us/us1 EUR "+w.e+" "+id,
		"conservation / EUR  ",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if conservationIn(t, rep, eur).Unexplained != "999" || rep.Transfers.Unknown != 1 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestAnOrphanHoldIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// An active hold of a transfer nobody made, frozen on the snapshot too.
	id := shard.NewTransferID("eu", w.c, 256)
	w.eu.exec(t, w.c, `INSERT INTO holds (transfer_id, user_id, currency, amount) VALUES ($1, $2, $3, 11)`, id, w.c, eur)
	w.eu.exec(t, w.c, `UPDATE balances SET frozen = frozen + 11 WHERE user_id = $1 AND currency = $2`, w.c, eur)
	// And the hold of a cancelled transfer active again, frozen again.
	w.eu.exec(t, w.a, `UPDATE holds SET status = 'active' WHERE transfer_id = $1`, w.refused.ID)
	w.eu.exec(t, w.a, `UPDATE balances SET frozen = frozen + 50 WHERE user_id = $1 AND currency = $2`, w.a, eur)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"orphan_hold eu/eu1 EUR "+w.c+" "+id,
		"orphan_hold eu/eu0 EUR "+w.a+" "+w.refused.ID,
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if conservationIn(t, rep, eur).Unexplained != "0" {
		t.Fatalf("a hold moves no money; conservation = %+v", rep.Conservation)
	}
}

func TestAChangedBalanceIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.eu.exec(t, w.b, `UPDATE balances SET balance = balance + 7 WHERE user_id = $1 AND currency = $2`, w.b, eur)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"shard_totals eu/eu0 EUR  ",
		"balance_drift eu/eu0 EUR "+w.b+" ",
		"conservation / EUR  ",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if conservationIn(t, rep, eur).Unexplained != "7" {
		t.Fatalf("conservation = %+v", rep.Conservation)
	}
	for _, d := range rep.Discrepancies {
		if d.Kind == KindBalanceDrift && d.Detail != "snapshot balance 107 EUR, entries sum to 100 EUR" {
			t.Fatalf("detail = %q", d.Detail)
		}
	}
}

func TestARewrittenEntryIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The deposit behind d's balance rewritten to a smaller one: the snapshot no longer
	// agrees with history, and neither does the sum of the deposits with the balances.
	w.us.rewrite(t, w.d, `UPDATE ledger_entries SET amount = 1500 WHERE user_id = $1 AND kind = 'deposit'`, w.d)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"shard_totals us/us0 EUR  ",
		"balance_drift us/us0 EUR "+w.d+" ",
		"conservation / EUR  ",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
}

func TestFrozenNotMatchingHoldsIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.eu.exec(t, w.a, `UPDATE balances SET frozen = frozen + 5 WHERE user_id = $1 AND currency = $2`, w.a, eur)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want("frozen_mismatch eu/eu0 EUR "+w.a+" ")) {
		t.Fatalf("discrepancies = %q", got)
	}
	if d := rep.Discrepancies[0]; d.Detail != "snapshot frozen 155 EUR, active holds sum to 150 EUR" {
		t.Fatalf("detail = %q", d.Detail)
	}
}

func TestStalePendingTransfersAreListedWithTheStepTheyWaitFor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rep := w.audit(t, Options{PendingOlderThan: time.Nanosecond})
	var got []string
	for _, d := range rep.Discrepancies {
		got = append(got, fmt.Sprintf("%s %s/%s %s %s %s", d.Kind, d.Region, d.Shard, d.UserID, d.TransferID, d.WaitingFor))
	}
	slices.Sort(got)
	if !slices.Equal(got, want(
		"stale_pending eu/eu0 "+w.a+" "+w.inFlight.ID+" capture",
		"stale_pending eu/eu0 "+w.a+" "+w.waiting.ID+" credit",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if c := conservationIn(t, rep, eur); c.Unexplained != "0" || c.InFlight != "70" || rep.Transfers.Rechecked != 0 {
		t.Fatalf("report = %+v", rep)
	}
}

func TestATransferThatMovesBetweenTwoReadsIsRightOnRecheck(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// The sender completes before the receiver's credit is seen: the first reading
	// catches eu after the capture and us before the credit, as two shards read a
	// moment apart can.
	tr := w.eu.send(t, w.eu.transfers, w.a, w.e, 90)
	deliver(t, w.eu, transfers.MsgCredited, tr, "")
	rep := w.audit(t, Options{beforeRecheck: func() { deliver(t, w.us, transfers.MsgCredit, tr, "") }})
	if !rep.Clean {
		t.Fatalf("discrepancies = %q", ids(rep))
	}
	if c := conservationIn(t, rep, eur); rep.Transfers.Rechecked != 1 || rep.Transfers.Resolved != 1 || c.Skew != "-90" || c.Unexplained != "0" {
		t.Fatalf("report = %+v", rep)
	}
}

func TestAnUnreachableShardIsAnError(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.us.shards.For(w.d).Pool.Close()
	_, err := Run(context.Background(), []Region{w.eu.auditRegion(), w.us.auditRegion()}, Options{})
	if err == nil || !strings.Contains(err.Error(), "region us shard us0") {
		t.Fatalf("err = %v, want the unreachable shard named", err)
	}
}

// dollars are the transfers addDollars made in USD.
type dollars struct {
	crossShard, crossRegion, inFlight transfers.Transfer
}

// addDollars moves dollars beside the world's euros, among the same users: deposits
// of 1000 to a and 700 to d, 250 from a to c (cross-shard, completed), a withdrawal of
// 50 by c, 100 from d to a (cross-region, completed), and 40 from a to e credited and
// not yet captured (in flight).
func (w *world) addDollars(t *testing.T) dollars {
	t.Helper()
	w.eu.moveIn(t, w.a, ledger.KindDeposit, usd, 1_000)
	w.us.moveIn(t, w.d, ledger.KindDeposit, usd, 700)
	var d dollars
	d.crossShard = w.eu.sendIn(t, w.eu.transfers, w.a, w.c, usd, 250)
	deliver(t, w.eu, transfers.MsgCredit, d.crossShard, "")
	deliver(t, w.eu, transfers.MsgCredited, d.crossShard, "")
	w.eu.moveIn(t, w.c, ledger.KindWithdrawal, usd, 50)

	d.crossRegion = w.us.sendIn(t, w.us.transfers, w.d, w.a, usd, 100)
	deliver(t, w.eu, transfers.MsgCredit, d.crossRegion, "")
	deliver(t, w.us, transfers.MsgCredited, d.crossRegion, "")

	d.inFlight = w.eu.sendIn(t, w.eu.transfers, w.a, w.e, usd, 40)
	deliver(t, w.us, transfers.MsgCredit, d.inFlight, "")

	for _, tr := range []struct {
		tr   transfers.Transfer
		r    *region
		want string
	}{{d.crossShard, w.eu, transfers.StatusCompleted}, {d.crossRegion, w.us, transfers.StatusCompleted}, {d.inFlight, w.eu, transfers.StatusPending}} {
		got, err := tr.r.transfers.Get(context.Background(), tr.tr.ID)
		if err != nil || got.Status != tr.want || got.Currency != usd {
			t.Fatalf("setting up: transfer %s is %q in %q (%v), want %s in %s", tr.tr.ID, got.Status, got.Currency, err, tr.want, usd)
		}
	}
	return d
}

func TestEachCurrencyIsConservedOnItsOwn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.addDollars(t)

	rep := w.audit(t, Options{PendingOlderThan: time.Hour})
	if !rep.Clean {
		t.Fatalf("discrepancies in a clean world of two currencies: %v", ids(rep))
	}
	if len(rep.Conservation) != 2 || rep.Conservation[0].Currency != eur || rep.Conservation[1].Currency != usd {
		t.Fatalf("conservation = %+v, want one account per currency, sorted", rep.Conservation)
	}
	// The euros are the clean world's, untouched by the dollars.
	if c := conservationIn(t, rep, eur); c.Deposits != "12500" || c.Withdrawals != "325" || c.InFlight != "70" || c.InFlightTransfers != 1 ||
		c.Balances != "12245" || c.Unexplained != "0" {
		t.Fatalf("conservation in %s = %+v", eur, c)
	}
	// Dollars: a 850 (40 of it frozen), c 200, d 600, e 40 in flight.
	if c := conservationIn(t, rep, usd); c.Deposits != "1700" || c.Withdrawals != "50" || c.InFlight != "40" || c.InFlightTransfers != 1 ||
		c.Balances != "1690" || c.External != "0" || c.Skew != "0" || c.Unexplained != "0" {
		t.Fatalf("conservation in %s = %+v", usd, c)
	}
	if ts := rep.Transfers; ts.Total != 12 || ts.Completed != 6 || ts.Pending != 3 {
		t.Fatalf("transfers = %+v", ts)
	}
	if s, sums := shardIn(t, rep, Where{"eu", "eu0"}, usd); len(s.Currencies) != 2 || sums.Balance != "850" || sums.Frozen != "40" ||
		sums.Deposits != "1000" || sums.TransferDebits != "250" || sums.TransferCredits != "100" {
		t.Fatalf("eu0 = %+v; want a's dollars beside the euros", s)
	}

	// eu alone: the dollars d sent a are half of a transfer whose other half is in us,
	// and count in dollars only.
	alone, err := Run(context.Background(), []Region{w.eu.auditRegion()}, Options{RecheckWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !alone.Clean || conservationIn(t, alone, eur).External != "100" || conservationIn(t, alone, usd).External != "100" {
		t.Fatalf("eu alone = %v, conservation %+v", ids(alone), alone.Conservation)
	}
}

func TestAChangedBalanceInOneCurrencyIsReportedInItAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.addDollars(t)
	// c's dollars grow by 9 and a's frozen dollars by 3; their euros are untouched.
	w.eu.exec(t, w.c, `UPDATE balances SET balance = balance + 9 WHERE user_id = $1 AND currency = $2`, w.c, usd)
	w.eu.exec(t, w.a, `UPDATE balances SET frozen = frozen + 3 WHERE user_id = $1 AND currency = $2`, w.a, usd)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"shard_totals eu/eu1 USD  ",
		"balance_drift eu/eu1 USD "+w.c+" ",
		"frozen_mismatch eu/eu0 USD "+w.a+" ",
		"conservation / USD  ",
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if eurs, dollars := conservationIn(t, rep, eur), conservationIn(t, rep, usd); eurs.Unexplained != "0" || dollars.Unexplained != "9" {
		t.Fatalf("conservation = %+v; want 9 unexplained in %s alone", rep.Conservation, usd)
	}
	for _, d := range rep.Discrepancies {
		if !strings.Contains(d.Detail, usd) || strings.Contains(d.Detail, eur) {
			t.Errorf("%s detail %q does not name %s alone", d.Kind, d.Detail, usd)
		}
		switch d.Kind {
		case KindBalanceDrift:
			if d.Detail != "snapshot balance 209 USD, entries sum to 200 USD" {
				t.Errorf("detail = %q", d.Detail)
			}
		case KindFrozenMismatch:
			if d.Detail != "snapshot frozen 43 USD, active holds sum to 40 USD" {
				t.Errorf("detail = %q", d.Detail)
			}
		}
	}
}

func TestARecordInAnotherCurrencyIsReportedWithItsIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	d := w.addDollars(t)
	// a's credited barrier of the dollars d sent, and a's captured hold of the dollars
	// it sent c, rewritten in euros. Neither moves a balance: conservation stays clean.
	w.eu.exec(t, w.a, `UPDATE tcc_barriers SET currency = $2 WHERE transfer_id = $1`, d.crossRegion.ID, eur)
	w.eu.exec(t, w.a, `UPDATE holds SET currency = $2 WHERE transfer_id = $1`, d.crossShard.ID, eur)

	rep := w.audit(t, Options{})
	if got := ids(rep); !slices.Equal(got, want(
		"currency_mismatch eu/eu0 USD "+w.a+" "+d.crossRegion.ID,
		"currency_mismatch eu/eu0 USD "+w.a+" "+d.crossShard.ID,
	)) {
		t.Fatalf("discrepancies = %q", got)
	}
	if conservationIn(t, rep, eur).Unexplained != "0" || conservationIn(t, rep, usd).Unexplained != "0" || rep.Transfers.Rechecked != 2 {
		t.Fatalf("report = %+v", rep)
	}
	for _, p := range rep.Discrepancies {
		if p.TransferID == d.crossRegion.ID && p.Detail != "credit barrier of 100 EUR; the transfer moves 100 USD" {
			t.Errorf("detail = %q", p.Detail)
		}
	}
}
