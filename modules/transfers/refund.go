package transfers

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/idempotency"
	"example.com/wallet/platform/metadata"
	"example.com/wallet/platform/money"
)

// A refund is a transfer of its own, from a transfer's receiver back to its sender,
// in its currency, that names the transfer it refunds (Transfer.RefundOf). It takes
// the paths of any transfer: one transaction when both users share a shard, TCC across
// shards and regions. What makes it a refund is where and under which lock it is
// created:
//
//   - on the original receiver's shard, in its home region, where the credit barrier
//     of the original transfer says who was credited, how much and in which currency;
//   - under the original transfer's refund key (LockRefundKeys), inside the refund's
//     own create transaction, which sums the refunds not cancelled and refuses one
//     that would exceed the original amount. Every refund of a transfer is created on
//     that one shard, so refunds racing through two regions serialize on that lock.
//
// A refund cancelled (its receiver closed, or the TTL passed) gives its amount back
// to the remainder. A refund is never refunded itself: its sender sends a transfer.

// The refunds' own refusals.
var (
	// ErrNotRefundable: the transfer is not completed (nothing was credited to
	// refund), or it is itself a refund.
	ErrNotRefundable = errors.New("transfers: the transfer cannot be refunded")
	// ErrRefundExceedsRemainder: the refund asks for more than the original amount
	// less the refunds not cancelled, or nothing is left to refund.
	ErrRefundExceedsRemainder = errors.New("transfers: the refund exceeds what is left to refund")
)

// RefundRequest is a client's refund of a completed transfer, already validated for
// shape and routed to the home region of the transfer's receiver.
type RefundRequest struct {
	// TransferID is the transfer refunded.
	TransferID string
	// ReceiverID is its receiver, the refund's sender, as the transfer's own region
	// read it; the receiver's credit barrier confirms it.
	ReceiverID string
	// Amount to move back; zero is whatever is left to refund.
	Amount   money.Amount
	Metadata map[string]string
	Key      string
	Gateway  string
}

// Refund moves money of a completed transfer back from its receiver to its sender,
// exactly once per idempotency key (scoped to the receiver, like the receiver's own
// transfers), as a new transfer whose RefundOf names the original. Beyond Create's
// refusals: ErrTransferNotFound when the receiver's shard holds no credit of the
// transfer for ReceiverID, ErrNotRefundable for a refund of a refund, and
// ErrRefundExceedsRemainder. A refusal writes nothing.
func (s *Service) Refund(ctx context.Context, req RefundRequest, answer Answer) (Created, error) {
	return s.create(ctx, Request{FromUserID: req.ReceiverID, refundOf: req.TransferID, Amount: req.Amount,
		Metadata: req.Metadata, Key: req.Key, Gateway: req.Gateway}, answer)
}

// refundFingerprint identifies a refund request for its key: the transfer, the
// amount asked for ("" for the remainder, which is another request than naming it)
// and the metadata.
func refundFingerprint(r Request) []byte {
	amount := ""
	if !r.Amount.IsZero() {
		amount = r.Amount.String()
	}
	return idempotency.Fingerprint("refund", r.refundOf, amount, string(metadata.Canonical(r.Metadata)))
}

// refundBook is what the refunds of one create batch may move, read under their
// transfers' refund keys: each refunded transfer's credit on this shard, and what its
// refunds not cancelled hold back, including those this batch has decided.
type refundBook struct {
	credited map[string]transfersdb.CreditedTransfersRow
	refunded map[string]money.Amount
}

// lockRefundsTx takes the refund keys of the transfers that the batch's refunds
// name (in id order, before any wallet's lock) and reads their credits and
// refunded amounts. It takes nothing for a batch without refunds.
func (s *Service) lockRefundsTx(ctx context.Context, tx pgx.Tx, refunded []string) (refundBook, error) {
	book := refundBook{credited: map[string]transfersdb.CreditedTransfersRow{}, refunded: map[string]money.Amount{}}
	if len(refunded) == 0 {
		return book, nil
	}
	slices.Sort(refunded)
	refunded = slices.Compact(refunded)
	if err := s.q.LockRefundKeys(ctx, tx, refunded); err != nil {
		return book, err
	}
	credits, err := s.q.CreditedTransfers(ctx, tx, refunded)
	if err != nil {
		return book, err
	}
	for _, c := range credits {
		book.credited[c.TransferID] = c
	}
	sums, err := s.q.RefundedAmounts(ctx, tx, refunded)
	if err != nil {
		return book, err
	}
	for _, r := range sums {
		book.refunded[r.TransferID] = r.Refunded
	}
	return book, nil
}

// parties completes a refund request with what the credit of its transfer says: the
// refund goes to the original sender, in the original currency. It is checked before
// any wallet is locked, since the receiver decides which wallets are.
func (b refundBook) parties(r Request) (Request, error) {
	c, ok := b.credited[r.refundOf]
	switch {
	case !ok || c.ToUserID != r.FromUserID:
		return Request{}, ErrTransferNotFound
	case c.RefundOf != nil:
		return Request{}, ErrNotRefundable
	}
	r.ToUserID, r.Currency = c.FromUserID, c.Currency
	return r, nil
}

// amount decides how much a refund moves: what it asks for, or the whole remainder,
// refused when that is more than is left (or nothing is).
func (b refundBook) amount(r Request) (money.Amount, error) {
	left, _ := b.credited[r.refundOf].Amount.Sub(b.refunded[r.refundOf])
	amount := r.Amount
	if amount.IsZero() {
		amount = left
	}
	if left.IsZero() || amount.Cmp(left) > 0 {
		return money.Amount{}, ErrRefundExceedsRemainder
	}
	return amount, nil
}

// count adds a refund this batch decided (and did not cancel) to its transfer's
// refunded amount, so the batch's next refund of it sees the smaller remainder.
func (b refundBook) count(t Transfer) {
	if t.RefundOf != "" && t.Status != StatusCancelled {
		b.refunded[t.RefundOf] = b.refunded[t.RefundOf].Add(t.Amount)
	}
}

// Refund is a refund credited back to a transfer's sender, as the transfer shows it.
type Refund struct {
	ID         string
	Amount     money.Amount
	CreditedAt time.Time
}

// attachRefunds reads the refunds credited back to the senders of ts, which live on
// the shard db (their senders'), oldest first. Only a completed transfer that is not a
// refund can have any: a pending transfer polled until it is final costs no query.
func (s *Service) attachRefunds(ctx context.Context, db transfersdb.DBTX, ts []Transfer) error {
	var ids []string
	index := map[string]int{}
	for i, t := range ts {
		if t.Status == StatusCompleted && t.RefundOf == "" {
			ids = append(ids, t.ID)
			index[t.ID] = i
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := s.q.RefundsCredited(ctx, db, ids)
	if err != nil {
		return err
	}
	for _, r := range rows {
		i := index[r.RefundOf]
		ts[i].Refunds = append(ts[i].Refunds, Refund{ID: r.TransferID, Amount: r.Amount, CreditedAt: r.CreatedAt.UTC()})
	}
	return nil
}
