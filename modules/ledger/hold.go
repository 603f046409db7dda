package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/money"
)

// Hold states.
const (
	HoldActive   = "active"
	HoldCaptured = "captured"
	HoldReleased = "released"
)

// HoldTx freezes amount of userID's available balance for transferID, the TCC Try:
// the frozen amount is staged on p (whose lock on the user's snapshot the caller's
// transaction holds) and the hold row is written in tx. The money stays in balance but
// leaves available until the hold is captured (debited) or released.
// ErrInsufficientFunds when available is short; nothing is staged or written then.
func (s *Service) HoldTx(ctx context.Context, tx pgx.Tx, p *Postings, userID, transferID string, amount money.Amount) error {
	if err := p.Freeze(userID, amount); err != nil {
		return err
	}
	return s.q.InsertHold(ctx, tx, ledgerdb.InsertHoldParams{TransferID: transferID, UserID: userID, Amount: amount})
}

// CaptureTx turns transferID's active hold into the transfer's debit entry, in the
// caller's transaction. Capturing an already captured hold is a no-op (false); a
// released hold cannot be captured.
func (s *Service) CaptureTx(ctx context.Context, tx pgx.Tx, transferID string) (bool, error) {
	hold, err := s.q.GetHoldForUpdate(ctx, tx, transferID)
	if err != nil {
		return false, fmt.Errorf("ledger: hold of %s: %w", transferID, err)
	}
	switch hold.Status {
	case HoldCaptured:
		return false, nil
	case HoldReleased:
		return false, fmt.Errorf("ledger: hold of %s was released and cannot be captured", transferID)
	}
	if _, _, err := s.AppendTx(ctx, tx, EntryInput{
		UserID: hold.UserID, Kind: KindTransferDebit, Amount: hold.Amount, TransferID: transferID, CaptureHold: true,
	}); err != nil {
		return false, err
	}
	return true, s.q.SetHoldStatus(ctx, tx, ledgerdb.SetHoldStatusParams{TransferID: transferID, Status: HoldCaptured})
}

// ReleaseTx unfreezes transferID's active hold, in the caller's transaction, writing
// no entry: no money moved. Releasing twice is a no-op (false); a captured hold cannot
// be released.
func (s *Service) ReleaseTx(ctx context.Context, tx pgx.Tx, transferID string) (bool, error) {
	hold, err := s.q.GetHoldForUpdate(ctx, tx, transferID)
	if err != nil {
		return false, fmt.Errorf("ledger: hold of %s: %w", transferID, err)
	}
	switch hold.Status {
	case HoldReleased:
		return false, nil
	case HoldCaptured:
		return false, fmt.Errorf("ledger: hold of %s was captured and cannot be released", transferID)
	}
	snap, err := s.q.GetBalanceForUpdate(ctx, tx, hold.UserID)
	if err != nil {
		return false, err
	}
	frozen, ok := snap.Frozen.Sub(hold.Amount)
	if !ok {
		return false, fmt.Errorf("ledger: releasing %s exceeds frozen %s of %s", hold.Amount, snap.Frozen, hold.UserID)
	}
	if err := s.q.UpdateBalance(ctx, tx, ledgerdb.UpdateBalanceParams{
		UserID: hold.UserID, Balance: snap.Balance, Frozen: frozen, LastSeq: snap.LastSeq, LastHash: snap.LastHash,
	}); err != nil {
		return false, err
	}
	return true, s.q.SetHoldStatus(ctx, tx, ledgerdb.SetHoldStatusParams{TransferID: transferID, Status: HoldReleased})
}

// ExistsTx reports whether userID has a wallet on the shard of tx.
func (s *Service) ExistsTx(ctx context.Context, tx pgx.Tx, userID string) (bool, error) {
	_, err := s.q.GetBalance(ctx, tx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
