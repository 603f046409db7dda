package transfers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"example.com/wallet/modules/ledger"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/money"
)

// refund asks for a refund of transfer id by its receiver: amount "" is the remainder.
func (f *fixture) refund(id, receiver, amount, key string) (Created, error) {
	req := RefundRequest{TransferID: id, ReceiverID: receiver, Key: key, Gateway: "gw"}
	if amount != "" {
		req.Amount = money.MustParse(amount)
	}
	return f.svc.Refund(context.Background(), req, answerLine)
}

func TestRefundsMoveMoneyBackUpToTheOriginalAmount(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu0", "50")
	original, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("30"), Key: "pay", Gateway: "gw"}, answerLine)
	if err != nil || original.Transfer.Status != StatusCompleted {
		t.Fatalf("original = %+v, %v", original, err)
	}
	id := original.Transfer.ID

	first, err := f.refund(id, to, "10", "r1")
	if err != nil {
		t.Fatal(err)
	}
	r := first.Transfer
	if r.Status != StatusCompleted || r.RefundOf != id || r.FromUserID != to || r.ToUserID != from || r.Amount.String() != "10" || r.Currency != "EUR" {
		t.Fatalf("refund = %+v", r)
	}
	if again, err := f.refund(id, to, "10", "r1"); err != nil || !again.Replayed || string(again.Answer.Body) != string(first.Answer.Body) {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	if _, err := f.refund(id, to, "11", "r1"); !errors.Is(err, idempotency.ErrReused) {
		t.Fatalf("the key with another amount = %v, want idempotency.ErrReused", err)
	}
	if _, err := f.refund(id, to, "21", "r2"); !errors.Is(err, ErrRefundExceedsRemainder) {
		t.Fatalf("21 of the 20 left = %v, want ErrRefundExceedsRemainder", err)
	}
	rest, err := f.refund(id, to, "", "r3")
	if err != nil || rest.Transfer.Amount.String() != "20" || rest.Transfer.Status != StatusCompleted {
		t.Fatalf("the remainder = %+v, %v; want 20, completed", rest, err)
	}
	if _, err := f.refund(id, to, "", "r4"); !errors.Is(err, ErrRefundExceedsRemainder) {
		t.Fatalf("a refund of a refunded transfer = %v, want ErrRefundExceedsRemainder", err)
	}
	if _, err := f.refund(r.ID, from, "", "r5"); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("a refund of a refund = %v, want ErrNotRefundable", err)
	}
	if _, err := f.refund(id, from, "", "r6"); !errors.Is(err, ErrTransferNotFound) {
		t.Fatalf("a refund by the sender = %v, want ErrTransferNotFound (it was never credited to them)", err)
	}
	if b, fr := f.balance(t, from); b != "100" || fr != "0" {
		t.Fatalf("sender %s frozen %s, want 100: all of it came back", b, fr)
	}
	if b, _ := f.balance(t, to); b != "50" {
		t.Fatalf("receiver %s, want 50", b)
	}
	got, err := f.svc.Get(ctx, id)
	if err != nil || len(got.Refunds) != 2 || got.Refunds[0].ID != r.ID || got.Refunds[1].Amount.String() != "20" {
		t.Fatalf("the original's refunds = %+v, %v", got.Refunds, err)
	}
	page, err := f.svc.List(ctx, from, "out", "", "", 10)
	if err != nil || len(page.Transfers) != 1 || len(page.Transfers[0].Refunds) != 2 {
		t.Fatalf("the sender's list = %+v, %v", page, err)
	}
}

func TestARefundIsRefusedWhenTheReceiverCannotCoverIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to, third := f.user(t, "eu0", "100"), f.user(t, "eu0", "0"), f.user(t, "eu0", "0")
	original, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("30"), Key: "pay"}, answerLine)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Create(ctx, Request{FromUserID: to, ToUserID: third, Amount: money.MustParse("25"), Key: "spent"}, answerLine); err != nil {
		t.Fatal(err)
	}
	if _, err := f.refund(original.Transfer.ID, to, "", "r"); !errors.Is(err, ledger.ErrInsufficientFunds) {
		t.Fatalf("a refund of 30 from 5 = %v, want ledger.ErrInsufficientFunds", err)
	}
	// The refusal counted nothing: what the receiver holds can still go back.
	if c, err := f.refund(original.Transfer.ID, to, "5", "r2"); err != nil || c.Transfer.Status != StatusCompleted {
		t.Fatalf("a refund of 5 = %+v, %v", c, err)
	}
}

// TestConcurrentRefundsNeverExceedTheOriginal races refunds of one transfer, each with
// its own key: however their transactions interleave (group commit puts several in
// one), exactly the original amount goes back and every other is refused.
func TestConcurrentRefundsNeverExceedTheOriginal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu0", "1000")
	original, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("100"), Key: "pay"}, answerLine)
	if err != nil {
		t.Fatal(err)
	}
	const racers = 32
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.refund(original.Transfer.ID, to, "7", fmt.Sprint("race-", i))
		}()
	}
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRefundExceedsRemainder):
			refused++
		default:
			t.Fatalf("refund: %v", err)
		}
	}
	if ok != 14 || refused != racers-14 {
		t.Fatalf("%d refunds of 7 went through and %d were refused; want 14 (98 of 100) and %d", ok, refused, racers-14)
	}
	if b, _ := f.balance(t, from); b != "98" {
		t.Fatalf("sender %s, want 98", b)
	}
	if c, err := f.refund(original.Transfer.ID, to, "", "last"); err != nil || c.Transfer.Amount.String() != "2" {
		t.Fatalf("the remainder = %+v, %v; want 2", c, err)
	}
}

// TestACrossShardRefundRunsTCCAndTheOriginalShowsIt follows a refund whose receiver
// is on another shard through its credit and reply, applied as the consumer would.
func TestACrossShardRefundRunsTCCAndTheOriginalShowsIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	from, to := f.user(t, "eu0", "100"), f.user(t, "eu0", "0")
	original, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: to, Amount: money.MustParse("40"), Key: "pay"}, answerLine)
	if err != nil {
		t.Fatal(err)
	}
	// A receiver on another shard, credited by a transfer of its own.
	other := f.user(t, "eu1", "0")
	pay, err := f.svc.Create(ctx, Request{FromUserID: from, ToUserID: other, Amount: money.MustParse("25"), Key: "pay2"}, answerLine)
	if err != nil || pay.Transfer.Status != StatusPending {
		t.Fatalf("cross-shard = %+v, %v", pay, err)
	}
	f.deliver(t, pay.Transfer.ID, "eu0", "eu1") // the credit
	f.deliver(t, pay.Transfer.ID, "eu1", "eu0") // its reply
	if got, err := f.svc.Get(ctx, pay.Transfer.ID); err != nil || got.Status != StatusCompleted {
		t.Fatalf("the transfer to eu1 = %+v, %v", got, err)
	}

	refund, err := f.refund(pay.Transfer.ID, other, "15", "back")
	if err != nil || refund.Transfer.Status != StatusPending || refund.Transfer.RefundOf != pay.Transfer.ID {
		t.Fatalf("refund = %+v, %v; want pending across shards", refund, err)
	}
	if _, err := f.refund(pay.Transfer.ID, other, "11", "more"); !errors.Is(err, ErrRefundExceedsRemainder) {
		t.Fatalf("11 of the 10 left while 15 are in flight = %v, want ErrRefundExceedsRemainder", err)
	}
	f.deliver(t, refund.Transfer.ID, "eu1", "eu0")
	f.deliver(t, refund.Transfer.ID, "eu0", "eu1")
	got, err := f.svc.Get(ctx, pay.Transfer.ID)
	if err != nil || len(got.Refunds) != 1 || got.Refunds[0].ID != refund.Transfer.ID || got.Refunds[0].Amount.String() != "15" {
		t.Fatalf("the original's refunds = %+v, %v", got.Refunds, err)
	}
	if r, err := f.svc.Get(ctx, refund.Transfer.ID); err != nil || r.Status != StatusCompleted {
		t.Fatalf("the refund = %+v, %v", r, err)
	}
	if b, fr := f.balance(t, from); b != "50" || fr != "0" {
		t.Fatalf("sender %s frozen %s, want 100-40-25+15 = 50", b, fr)
	}
	if b, fr := f.balance(t, other); b != "10" || fr != "0" {
		t.Fatalf("receiver %s frozen %s, want 10", b, fr)
	}
	if untouched, err := f.svc.Get(ctx, original.Transfer.ID); err != nil || len(untouched.Refunds) != 0 {
		t.Fatalf("an unrefunded transfer shows refunds: %+v, %v", untouched.Refunds, err)
	}
}

// deliver applies, on shard to, the newest unsent TCC message that shard from queued
// for transfer id, as the region's consumer would, and marks it sent.
func (f *fixture) deliver(t *testing.T, id, from, to string) {
	t.Helper()
	ctx := context.Background()
	src, _ := f.shards.Named(from)
	var payload []byte
	var seq int64
	err := src.Pool.QueryRow(ctx, `SELECT id, payload FROM outbox WHERE key = $1 AND sent_at IS NULL AND type <> 'wallet.events' ORDER BY id DESC LIMIT 1`, id).Scan(&seq, &payload)
	if err != nil {
		t.Fatalf("no message of %s on %s: %v", id, from, err)
	}
	if _, err := src.Pool.Exec(ctx, `UPDATE outbox SET sent_at = now() WHERE id = $1`, seq); err != nil {
		t.Fatal(err)
	}
	m, amount, err := DecodeMessage(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ApplyInbound(ctx, to, []Inbound{{Message: m, Amount: amount}}); err != nil {
		t.Fatal(err)
	}
}
