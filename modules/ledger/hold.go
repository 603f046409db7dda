package ledger

import (
	"context"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/platform/money"
)

// Hold states.
const (
	HoldActive   = "active"
	HoldCaptured = "captured"
	HoldReleased = "released"
)

// Hold is money frozen for one transfer.
type Hold struct {
	TransferID string
	UserID     string
	Currency   string
	Amount     money.Amount
	Status     string
}

// LockHoldsTx locks the holds of transferIDs, in transfer id order, and returns those
// that exist by transfer id. Lock holds before their users' wallets (LockTx), as
// every path that takes both does.
func (s *Service) LockHoldsTx(ctx context.Context, tx pgx.Tx, transferIDs []string) (map[string]Hold, error) {
	rows, err := s.q.LockHolds(ctx, tx, transferIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Hold, len(rows))
	for _, r := range rows {
		out[r.TransferID] = Hold{TransferID: r.TransferID, UserID: r.UserID, Currency: r.Currency, Amount: r.Amount, Status: r.Status}
	}
	return out, nil
}
