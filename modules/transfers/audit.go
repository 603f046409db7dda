package transfers

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/transfers/internal/transfersdb"
	"example.com/wallet/platform/money"
)

// AuditTransfer is a transfer as its sender's shard records it, with what the audit
// needs to judge it and to say what a pending one waits for.
type AuditTransfer struct {
	ID, FromUserID, ToUserID string
	Currency                 string
	Amount                   money.Amount
	Status, Reason           string
	CreatedAt                time.Time
	// CancelRequestedAt is when the coordinator asked the receiver to cancel; nil
	// while it has not.
	CancelRequestedAt *time.Time
	Attempts          int
}

// AuditBarrier is a participant's barrier row: what a receiver's shard decided about
// a transfer's credit (branch credit: outcome credited or refused) or cancel (branch
// cancel: outcome cancelled). Same-shard transfers record their receiver's credited
// barrier too.
type AuditBarrier struct {
	TransferID, Branch   string
	ToUserID, FromUserID string
	Currency             string
	Amount               money.Amount
	Outcome, Reason      string
}

// AuditRecords are one shard's transfer records: the transfers it sends and the
// barriers of the transfers it receives.
type AuditRecords struct {
	Transfers []AuditTransfer
	Barriers  []AuditBarrier
}

// AuditTx reads the shard's transfers and barriers in the caller's transaction (the
// audit's REPEATABLE READ snapshot): all of them when ids is nil, else those of the
// transfers ids only.
func (s *Service) AuditTx(ctx context.Context, tx pgx.Tx, ids []string) (AuditRecords, error) {
	var recs AuditRecords
	var transfers []transfersdb.AuditTransfersRow
	var barriers []transfersdb.AuditBarriersRow
	if ids == nil {
		var err error
		if transfers, err = s.q.AuditTransfers(ctx, tx); err != nil {
			return recs, err
		}
		if barriers, err = s.q.AuditBarriers(ctx, tx); err != nil {
			return recs, err
		}
	} else {
		ts, err := s.q.AuditTransfersOf(ctx, tx, ids)
		if err != nil {
			return recs, err
		}
		for _, t := range ts {
			transfers = append(transfers, transfersdb.AuditTransfersRow(t))
		}
		bs, err := s.q.AuditBarriersOf(ctx, tx, ids)
		if err != nil {
			return recs, err
		}
		for _, b := range bs {
			barriers = append(barriers, transfersdb.AuditBarriersRow(b))
		}
	}
	recs.Transfers = make([]AuditTransfer, len(transfers))
	for i, t := range transfers {
		recs.Transfers[i] = AuditTransfer{
			ID: t.ID, FromUserID: t.FromUserID, ToUserID: t.ToUserID, Currency: t.Currency, Status: t.Status, Reason: t.Reason,
			CreatedAt: t.CreatedAt.UTC(), CancelRequestedAt: t.CancelRequestedAt, Attempts: int(t.Attempts),
		}
		if err := recs.Transfers[i].Amount.Scan(t.Amount); err != nil {
			return recs, fmt.Errorf("transfers: transfer %s: %w", t.ID, err)
		}
	}
	recs.Barriers = make([]AuditBarrier, len(barriers))
	for i, b := range barriers {
		recs.Barriers[i] = AuditBarrier{
			TransferID: b.TransferID, Branch: b.Branch, ToUserID: b.ToUserID, FromUserID: b.FromUserID, Currency: b.Currency,
			Outcome: b.Outcome, Reason: b.Reason,
		}
		// Amounts come as text (see sql/queries/transfers/audit.sql): a barrier's is
		// unchecked by the schema, so a corrupt one is an error, not a panic.
		if err := recs.Barriers[i].Amount.Scan(b.Amount); err != nil {
			return recs, fmt.Errorf("transfers: barrier %s/%s: %w", b.TransferID, b.Branch, err)
		}
	}
	return recs, nil
}
