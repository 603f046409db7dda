package transfers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/accounts"
	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/pgdb/pgtest"
	"example.com/wallet/platform/shard"
)

// The service is tested here as other Go code uses it, with no HTTP in sight: domain
// values in, domain values and errors out, and an answer encoder of the test's own.

type fixture struct {
	shards   *pgdb.Shards
	ledger   *ledger.Service
	accounts *accounts.Service
	svc      *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	byName, specs := pgtest.NewShards(t, "eu0", "eu1")
	cfg := &config.Config{Region: "eu", Buckets: 256, ShardList: specs, Peers: map[string]config.Peer{"us": {}}}
	shards := pgdb.NewShards(shard.NewRouter(cfg), byName)
	l := ledger.NewService(shards, nil)
	svc := NewService(Config{Buckets: 256, TTL: time.Minute, ResendAfter: time.Minute, ResendMax: time.Minute, MaxWaiters: 10},
		shards, l, idempotency.NewStore(time.Hour), NewMetrics(prometheus.NewRegistry()))
	return &fixture{shards: shards, ledger: l, accounts: accounts.NewService(shards, l, pgtest.DefaultCurrency), svc: svc}
}

// user creates a user of region eu on shard, holding amount.
func (f *fixture) user(t *testing.T, onShard, amount string) string {
	t.Helper()
	ctx := context.Background()
	for {
		id := shard.NewUserID("eu")
		if f.shards.For(id).Name != onShard {
			continue
		}
		if _, err := f.accounts.Create(ctx, id); err != nil {
			t.Fatal(err)
		}
		if amount != "0" {
			_, err := ledger.NewMovements(f.ledger, idempotency.NewStore(time.Hour)).Move(ctx,
				ledger.Movement{UserID: id, Kind: ledger.KindDeposit, Amount: money.MustParse(amount), Key: "seed"},
				func(ledger.Moved) (idempotency.Response, error) {
					return idempotency.Response{Status: 1, Body: []byte("seeded")}, nil
				})
			if err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
}

func (f *fixture) balance(t *testing.T, user string) (balance, frozen string) {
	t.Helper()
	b, err := f.ledger.Balance(context.Background(), user, "")
	if err != nil {
		t.Fatal(err)
	}
	return b.Balance.String(), b.Frozen.String()
}

// answerLine is the test's own encoding of a fresh transfer: the service stores and
// returns whatever bytes its caller's encoder makes.
func answerLine(t Transfer) (idempotency.Response, error) {
	return idempotency.Response{Status: 7, Body: fmt.Appendf(nil, "%s %s %s", t.ID, t.Status, t.Amount)}, nil
}

func TestSameShardTransferCompletesAndReplaysItsAnswer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu0", "0")

	req := Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("30"), Key: "k", Gateway: "gw"}
	created, err := f.svc.Create(ctx, req, answerLine)
	if err != nil {
		t.Fatal(err)
	}
	tr := created.Transfer
	if created.Replayed || tr.Status != StatusCompleted || tr.FromUserID != from || tr.ToUserID != to || tr.Amount.String() != "30" {
		t.Fatalf("created = %+v", created)
	}
	if want := fmt.Sprintf("%s completed 30", tr.ID); created.Answer.Status != 7 || string(created.Answer.Body) != want {
		t.Fatalf("answer = %d %q, want the encoder's %q", created.Answer.Status, created.Answer.Body, want)
	}
	if steps := fmt.Sprint(tr.Steps); len(tr.Steps) != 3 || tr.Steps[0].Step != "debited" || tr.Steps[2].Step != StatusCompleted {
		t.Fatalf("steps = %s", steps)
	}
	if b, fr := f.balance(t, from); b != "70" || fr != "0" {
		t.Fatalf("sender %s frozen %s", b, fr)
	}
	if b, _ := f.balance(t, to); b != "30" {
		t.Fatalf("receiver %s", b)
	}

	again, err := f.svc.Create(ctx, req, answerLine)
	if err != nil || !again.Replayed || string(again.Answer.Body) != string(created.Answer.Body) || again.Transfer.ID != "" {
		t.Fatalf("replay = %+v, %v; want the first answer, replayed", again, err)
	}
	other := req
	other.Amount = money.MustParse("31")
	if _, err := f.svc.Create(ctx, other, answerLine); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("the key with another amount = %v, want idempotency.ErrReused", err)
	}
	// The key is the gateway's: another gateway's same key is another transfer.
	fromOther := req
	fromOther.Gateway = "gw2"
	if c, err := f.svc.Create(ctx, fromOther, answerLine); err != nil || c.Replayed || c.Transfer.ID == tr.ID {
		t.Fatalf("another gateway's key = %+v, %v", c, err)
	}

	got, err := f.svc.Get(ctx, tr.ID)
	if err != nil || got.Status != StatusCompleted || len(got.Steps) != 3 || got.Waiting != nil || tr.Waiting != nil {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	out, err := f.svc.List(ctx, from, "out", "", "", 1)
	if err != nil || len(out.Transfers) != 1 || out.NextBefore == "" {
		t.Fatalf("one of the sender's two transfers = %+v, %v", out, err)
	}
	in, err := f.svc.List(ctx, to, "in", "", "", 10)
	if err != nil || len(in.Transfers) != 2 || in.Transfers[0].Status != StatusCompleted {
		t.Fatalf("the receiver's incoming = %+v, %v", in, err)
	}
}

func TestCrossShardTransferHoldsAndQueuesItsCredit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu1", "0")

	created, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("40"), Key: "x"}, answerLine)
	if err != nil || created.Transfer.Status != StatusPending {
		t.Fatalf("= %+v, %v", created, err)
	}
	if b, fr := f.balance(t, from); b != "100" || fr != "40" {
		t.Fatalf("sender %s frozen %s, want 100 with 40 frozen", b, fr)
	}
	var queued int
	if err := f.shards.For(from).Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE key = $1`, created.Transfer.ID).Scan(&queued); err != nil || queued != 1 {
		t.Fatalf("outbox holds %d messages for the transfer, %v; want its credit", queued, err)
	}
}

func TestRefusalsWriteNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "10"), f.user(t, "eu1", "0")
	ghost := shard.NewUserID("eu")

	cases := []struct {
		name string
		req  Request
		want error
	}{
		{"more than the balance", Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("11"), Key: "a"}, ledger.ErrInsufficientFunds},
		{"a sender that does not exist", Request{FromUserID: ghost, ToUserID: to, Amount: money.MustParse("1"), Key: "b"}, shard.ErrUserNotFound},
	}
	for _, c := range cases {
		if _, err := f.svc.Create(ctx, c.req, answerLine); !errors.Is(err, c.want) {
			t.Errorf("%s = %v, want %v", c.name, err, c.want)
		}
	}
	if b, fr := f.balance(t, from); b != "10" || fr != "0" {
		t.Fatalf("refusals changed the sender: %s frozen %s", b, fr)
	}
	if _, err := f.svc.Get(ctx, shard.NewTransferID("eu", from, 256)); !errors.Is(err, ErrTransferNotFound) {
		t.Fatalf("Get of an unknown transfer = %v", err)
	}
	if _, err := f.svc.List(ctx, ghost, "out", "", "", 10); !errors.Is(err, shard.ErrUserNotFound) {
		t.Fatalf("List of an unknown user = %v", err)
	}

	// A receiver that does not exist on the sender's shard: cancelled at once, and the
	// money never moves.
	nobody := ghost
	for f.shards.For(nobody).Name != "eu0" {
		nobody = shard.NewUserID("eu")
	}
	c, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: nobody, Amount: money.MustParse("1"), Key: "c"}, answerLine)
	if err != nil || c.Transfer.Status != StatusCancelled || c.Transfer.Reason != ReasonReceiverNotFound {
		t.Fatalf("to a missing receiver = %+v, %v", c, err)
	}
	if b, fr := f.balance(t, from); b != "10" || fr != "0" {
		t.Fatalf("a cancelled transfer moved money: %s frozen %s", b, fr)
	}
}

// A shard that cannot be reached is an error that says so by its behaviour, whatever
// the driver said: the HTTP edge answers 503 for it without knowing pgdb.
func TestAnUnreachableShardIsUnavailable(t *testing.T) {
	t.Parallel()
	specs := []config.ShardSpec{{Name: "eu0", FirstBucket: 0, LastBucket: 255, DSN: "postgres://wallet@127.0.0.1:1/none?connect_timeout=1", MaxConns: 1}}
	byName, err := pgdb.Open(context.Background(), specs)
	if err != nil {
		t.Fatal(err)
	}
	defer pgdb.Close(byName)
	shards := pgdb.NewShards(shard.NewRouter(&config.Config{Region: "eu", Buckets: 256, ShardList: specs}), byName)
	l := ledger.NewService(shards, nil)
	svc := NewService(Config{Buckets: 256, TTL: time.Minute, MaxWaiters: 1}, shards, l, idempotency.NewStore(time.Hour), NewMetrics(prometheus.NewRegistry()))
	user := shard.NewUserID("eu")

	var unavailable interface{ Unavailable() bool }
	errs := map[string]error{}
	_, errs["Get"] = svc.Get(context.Background(), shard.NewTransferID("eu", user, 256))
	_, errs["List"] = svc.List(context.Background(), user, "out", "", "", 10)
	_, errs["Create"] = svc.Create(context.Background(), Request{FromUserID: user, ToUserID: shard.NewUserID("eu"), Amount: money.MustParse("1"), Key: "k"}, answerLine)
	_, errs["Balance"] = l.Balance(context.Background(), user, "")
	_, errs["accounts.Get"] = accounts.NewService(shards, l, pgtest.DefaultCurrency).Get(context.Background(), user)
	for op, err := range errs {
		if !errors.As(err, &unavailable) || !unavailable.Unavailable() {
			t.Errorf("%s = %v, want an error that reports Unavailable", op, err)
		}
	}
}

// A pending transfer says what it waits for, from the same row the recovery sweep
// works on: the credit's reply, then, past the TTL, the cancel's; and nothing once final.
func TestPendingTransferSaysWhatItWaitsFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu1", "0")
	pool := f.shards.For(from).Pool

	created, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("40"), Key: "w"}, answerLine)
	if err != nil || created.Transfer.Status != StatusPending {
		t.Fatalf("= %+v, %v", created, err)
	}
	tr := created.Transfer
	// The fixture's TTL and resend interval are both a minute.
	want := Waiting{For: WaitingForCredit, Since: tr.CreatedAt, Attempts: 0,
		NextAttemptAt: tr.CreatedAt.Add(time.Minute), ExpiresAt: tr.CreatedAt.Add(time.Minute)}
	if tr.Waiting == nil || !sameWaiting(*tr.Waiting, want) {
		t.Fatalf("fresh waiting = %+v, want %+v", tr.Waiting, want)
	}
	got, err := f.svc.Get(ctx, tr.ID)
	if err != nil || got.Waiting == nil || !sameWaiting(*got.Waiting, want) {
		t.Fatalf("read waiting = %+v, %v; want %+v", got.Waiting, err, want)
	}

	// The credit's resend is due: the sweep sends it again and counts the attempt.
	if _, err := pool.Exec(ctx, `UPDATE transfers SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, tr.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SweepOnce(ctx, "eu0"); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	got, err = f.svc.Get(ctx, tr.ID)
	if err != nil || got.Waiting == nil || got.Waiting.For != WaitingForCredit || got.Waiting.Attempts != 1 ||
		!got.Waiting.Since.Equal(tr.CreatedAt) || !got.Waiting.CancelRequestedAt.IsZero() || !got.Waiting.NextAttemptAt.After(time.Now()) {
		t.Fatalf("after a resend, waiting = %+v, %v", got.Waiting, err)
	}

	// The TTL passes: the sweep requests the cancel, and the transfer now waits for
	// the cancel's reply, since the request.
	if _, err := pool.Exec(ctx, `UPDATE transfers SET expires_at = now() - interval '1 second', next_attempt_at = now() - interval '1 second' WHERE id = $1`, tr.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.SweepOnce(ctx, "eu0"); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	got, err = f.svc.Get(ctx, tr.ID)
	if err != nil || got.Status != StatusPending || got.Waiting == nil {
		t.Fatalf("after the TTL = %+v, %v", got, err)
	}
	w := got.Waiting
	if w.For != WaitingForCancelReply || w.Attempts != 2 || w.CancelRequestedAt.IsZero() || !w.Since.Equal(w.CancelRequestedAt) ||
		!w.ExpiresAt.Before(w.CancelRequestedAt) || !w.NextAttemptAt.After(w.CancelRequestedAt) {
		t.Fatalf("after the cancel request, waiting = %+v", w)
	}
	if last := got.Steps[len(got.Steps)-1]; last.Step != "cancel_requested" {
		t.Fatalf("last step = %+v, want cancel_requested", last)
	}
	listed, err := f.svc.List(ctx, from, "out", StatusPending, "", 10)
	if err != nil || len(listed.Transfers) != 1 || listed.Transfers[0].Waiting == nil || !sameWaiting(*listed.Transfers[0].Waiting, *w) {
		t.Fatalf("the sender's pending list = %+v, %v; want the same waiting", listed, err)
	}

	// The receiver's answer comes: the transfer is final and waits for nothing.
	reply := Inbound{Message: Message{Type: MsgCancelled, TransferID: tr.ID, FromUserID: from, ToUserID: to, Amount: "40"}, Amount: money.MustParse("40")}
	if err := f.svc.ApplyInbound(ctx, "eu0", []Inbound{reply}); err != nil {
		t.Fatal(err)
	}
	got, err = f.svc.Get(ctx, tr.ID)
	if err != nil || got.Status != StatusCancelled || got.Waiting != nil {
		t.Fatalf("after the reply = %+v, %v; want cancelled, waiting for nothing", got, err)
	}
	if b, fr := f.balance(t, from); b != "100" || fr != "0" {
		t.Fatalf("sender %s frozen %s, want the hold released", b, fr)
	}
}

func sameWaiting(a, b Waiting) bool {
	return a.For == b.For && a.Since.Equal(b.Since) && a.Attempts == b.Attempts && a.NextAttemptAt.Equal(b.NextAttemptAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.CancelRequestedAt.Equal(b.CancelRequestedAt)
}

// TestTransfersMoveOneCurrency: a transfer moves the currency it names, on one shard
// and across shards, and nothing converts: the sender's other currencies are
// untouched and cannot pay for it, and the receiver is credited in the same currency,
// which it need not have held before.
func TestTransfersMoveOneCurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to, far := f.user(t, "eu0", "100"), f.user(t, "eu0", "0"), f.user(t, "eu1", "0")
	_, err := ledger.NewMovements(f.ledger, idempotency.NewStore(time.Hour)).Move(ctx,
		ledger.Movement{UserID: from, Kind: ledger.KindDeposit, Currency: "USD", Amount: money.MustParse("50"), Key: "usd"},
		func(ledger.Moved) (idempotency.Response, error) {
			return idempotency.Response{Status: 1, Body: []byte("seeded")}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	holds := func(user, currency, balance, frozen string) {
		t.Helper()
		b, err := f.ledger.Balance(ctx, user, currency)
		if err != nil || b.Currency != currency || b.Balance.String() != balance || b.Frozen.String() != frozen {
			t.Fatalf("%s's %s = %+v, %v; want %s with %s frozen", user, currency, b, err, balance, frozen)
		}
	}

	req := Request{FromUserID: from, ToUserID: to, Currency: "USD", Amount: money.MustParse("30"), Key: "same", Gateway: "gw"}
	created, err := f.svc.Create(ctx, req, answerLine)
	if err != nil || created.Transfer.Status != StatusCompleted || created.Transfer.Currency != "USD" {
		t.Fatalf("same-shard USD transfer = %+v, %v", created, err)
	}
	holds(from, "USD", "20", "0")
	holds(from, "EUR", "100", "0")
	holds(to, "USD", "30", "0")
	holds(to, "EUR", "0", "0")

	// The same key naming another currency is another request.
	other := req
	other.Currency = "EUR"
	if _, err := f.svc.Create(ctx, other, answerLine); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("the key with another currency = %v, want idempotency.ErrReused", err)
	}
	// 100 EUR do not pay for 30 USD.
	short := Request{FromUserID: from, ToUserID: to, Currency: "USD", Amount: money.MustParse("30"), Key: "short", Gateway: "gw"}
	if _, err := f.svc.Create(ctx, short, answerLine); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("30 USD from 20 USD and 100 EUR = %v, want ledger.ErrInsufficientFunds", err)
	}
	// Naming no currency moves the sender's default.
	if c, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("5"), Key: "dflt"}, answerLine); err != nil || c.Transfer.Currency != "EUR" {
		t.Fatalf("a transfer naming no currency = %+v, %v; want EUR", c, err)
	}

	// Across shards the hold, the message and the credit are all in USD.
	created, err = f.svc.Create(ctx, Request{FromUserID: from, ToUserID: far, Currency: "USD", Amount: money.MustParse("20"), Key: "far"}, answerLine)
	if err != nil || created.Transfer.Status != StatusPending || created.Transfer.Currency != "USD" {
		t.Fatalf("cross-shard USD transfer = %+v, %v", created, err)
	}
	holds(from, "USD", "20", "20")
	holds(from, "EUR", "95", "0")
	var payload []byte
	if err := f.shards.For(from).Pool.QueryRow(ctx, `SELECT payload FROM outbox WHERE key = $1`, created.Transfer.ID).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	m, amount, err := DecodeMessage(payload)
	if err != nil || m.Currency != "USD" {
		t.Fatalf("the credit message = %+v, %v", m, err)
	}
	if err := f.svc.ApplyInbound(ctx, "eu1", []Inbound{{Message: m, Amount: amount}}); err != nil {
		t.Fatal(err)
	}
	holds(far, "USD", "20", "0")
	holds(far, "EUR", "0", "0")
	// The receiver's reply captures the sender's USD hold.
	if err := f.shards.For(far).Pool.QueryRow(ctx, `SELECT payload FROM outbox WHERE key = $1`, created.Transfer.ID).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	if m, amount, err = DecodeMessage(payload); err != nil || m.Type != MsgCredited || m.Currency != "USD" {
		t.Fatalf("the reply = %+v, %v", m, err)
	}
	if err := f.svc.ApplyInbound(ctx, "eu0", []Inbound{{Message: m, Amount: amount}}); err != nil {
		t.Fatal(err)
	}
	holds(from, "USD", "0", "0")
	holds(from, "EUR", "95", "0")
	if tr, err := f.svc.Get(ctx, created.Transfer.ID); err != nil || tr.Status != StatusCompleted || tr.Currency != "USD" {
		t.Fatalf("the transfer = %+v, %v", tr, err)
	}
	page, err := f.svc.List(ctx, far, "in", "", "", 10)
	if err != nil || len(page.Transfers) != 1 || page.Transfers[0].Currency != "USD" {
		t.Fatalf("the receiver's incoming transfers = %+v, %v", page, err)
	}
}
