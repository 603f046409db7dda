package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"example.com/wallet/modules/ledger/internal/ledgerdb"
	"example.com/wallet/platform/money"
)

// AuditTotals are one shard's ledger and snapshots summed, as one transaction saw them.
type AuditTotals struct {
	Users   int64
	Entries int64
	// Currencies are the sums per currency, of every currency with an entry or a
	// balance row on the shard.
	Currencies map[string]CurrencyTotals
}

// CurrencyTotals are one shard's ledger and snapshots summed in one currency.
type CurrencyTotals struct {
	// Balance and Frozen are the sums of every snapshot's balance and frozen.
	Balance, Frozen money.Amount
	// Deposits, Withdrawals, TransferDebits and TransferCredits are the sums of every
	// entry of each kind.
	Deposits, Withdrawals, TransferDebits, TransferCredits money.Amount
}

// FrozenMismatch is a user whose snapshot's frozen is not the sum of its active holds.
type FrozenMismatch struct {
	UserID       string
	Currency     string
	Frozen, Held money.Amount
}

// BalanceDrift is a user whose snapshot balance is not the sum of its entries. The
// sum is signed text: entries that take more than they give sum below zero.
type BalanceDrift struct {
	UserID       string
	Currency     string
	Balance      money.Amount
	EntriesTotal string
}

// TransferEntry is a transfer's debit or credit as one shard's ledger records it.
type TransferEntry struct {
	TransferID string
	Kind       string // KindTransferDebit or KindTransferCredit
	UserID     string
	Currency   string
	Amount     money.Amount
}

// auditMaxRows bounds the users a shard's drift queries name: a shard whose every
// snapshot is wrong needs a person, not a million lines.
const auditMaxRows = 1000

// AuditTotalsTx sums the shard's entries per currency and kind and its snapshots per
// currency, in the caller's transaction (the audit's REPEATABLE READ snapshot): three
// aggregates, no rows streamed.
func (s *Service) AuditTotalsTx(ctx context.Context, tx pgx.Tx) (AuditTotals, error) {
	t := AuditTotals{Currencies: map[string]CurrencyTotals{}}
	var err error
	if t.Users, err = s.q.AuditWallets(ctx, tx); err != nil {
		return t, err
	}
	snaps, err := s.q.AuditSnapshotTotals(ctx, tx)
	if err != nil {
		return t, err
	}
	for _, r := range snaps {
		c := t.Currencies[r.Currency]
		c.Balance, c.Frozen = r.Balance, r.Frozen
		t.Currencies[r.Currency] = c
	}
	kinds, err := s.q.AuditEntryTotals(ctx, tx)
	if err != nil {
		return t, err
	}
	for _, k := range kinds {
		t.Entries += k.Entries
		c := t.Currencies[k.Currency]
		switch k.Kind {
		case KindDeposit:
			c.Deposits = k.Total
		case KindWithdrawal:
			c.Withdrawals = k.Total
		case KindTransferDebit:
			c.TransferDebits = k.Total
		case KindTransferCredit:
			c.TransferCredits = k.Total
		case KindAccountFrozen, KindAccountUnfrozen, KindAccountClosed:
			// Events: amount 0, no money; the currency is the wallet's default.
		default:
			// The schema's CHECK allows no other kind.
			return t, fmt.Errorf("ledger: entries of unknown kind %q", k.Kind)
		}
		t.Currencies[k.Currency] = c
	}
	return t, nil
}

// AuditFrozenTx lists (up to a thousand) users of the shard whose snapshot's frozen
// in a currency is not the sum of their active holds in it, in the caller's
// transaction.
func (s *Service) AuditFrozenTx(ctx context.Context, tx pgx.Tx) ([]FrozenMismatch, error) {
	rows, err := s.q.AuditFrozenMismatches(ctx, tx, auditMaxRows)
	if err != nil {
		return nil, err
	}
	out := make([]FrozenMismatch, len(rows))
	for i, r := range rows {
		out[i] = FrozenMismatch{UserID: r.UserID, Currency: r.Currency, Frozen: r.Frozen, Held: r.Held}
	}
	return out, nil
}

// AuditBalanceDriftsTx lists (up to a thousand) users of the shard whose snapshot
// balance in a currency is not the sum of their entries in it, in the caller's
// transaction. It reads the
// whole ledger grouped by user: the audit asks only when the shard's totals disagree.
func (s *Service) AuditBalanceDriftsTx(ctx context.Context, tx pgx.Tx) ([]BalanceDrift, error) {
	rows, err := s.q.AuditBalanceDrifts(ctx, tx, auditMaxRows)
	if err != nil {
		return nil, err
	}
	out := make([]BalanceDrift, len(rows))
	for i, r := range rows {
		// A snapshot's balance is never negative (CHECK), so it parses as an amount.
		out[i] = BalanceDrift{UserID: r.UserID, Currency: r.Currency, Balance: money.MustParse(r.Balance), EntriesTotal: r.EntriesTotal}
	}
	return out, nil
}

// AuditTransferEntriesTx returns the shard's transfer debits and credits, of every
// transfer when transferIDs is nil, else of those transfers only, in the caller's
// transaction.
func (s *Service) AuditTransferEntriesTx(ctx context.Context, tx pgx.Tx, transferIDs []string) ([]TransferEntry, error) {
	var rows []ledgerdb.AuditTransferEntriesRow
	if transferIDs == nil {
		var err error
		if rows, err = s.q.AuditTransferEntries(ctx, tx); err != nil {
			return nil, err
		}
	} else {
		some, err := s.q.AuditTransferEntriesOf(ctx, tx, transferIDs)
		if err != nil {
			return nil, err
		}
		for _, r := range some {
			rows = append(rows, ledgerdb.AuditTransferEntriesRow(r))
		}
	}
	out := make([]TransferEntry, len(rows))
	for i, r := range rows {
		out[i] = TransferEntry{TransferID: r.TransferID, Kind: r.Kind, UserID: r.UserID, Currency: r.Currency}
		if err := out[i].Amount.Scan(r.Amount); err != nil {
			return nil, fmt.Errorf("ledger: transfer %s entry: %w", r.TransferID, err)
		}
	}
	return out, nil
}

// AuditHoldsTx returns the shard's holds in every status, of every transfer when
// transferIDs is nil, else of those transfers only, in the caller's transaction.
func (s *Service) AuditHoldsTx(ctx context.Context, tx pgx.Tx, transferIDs []string) ([]Hold, error) {
	var rows []ledgerdb.AuditHoldsRow
	if transferIDs == nil {
		var err error
		if rows, err = s.q.AuditHolds(ctx, tx); err != nil {
			return nil, err
		}
	} else {
		some, err := s.q.AuditHoldsOf(ctx, tx, transferIDs)
		if err != nil {
			return nil, err
		}
		for _, r := range some {
			rows = append(rows, ledgerdb.AuditHoldsRow(r))
		}
	}
	out := make([]Hold, len(rows))
	for i, r := range rows {
		out[i] = Hold{TransferID: r.TransferID, UserID: r.UserID, Currency: r.Currency, Status: r.Status}
		if err := out[i].Amount.Scan(r.Amount); err != nil {
			return nil, fmt.Errorf("ledger: hold of %s: %w", r.TransferID, err)
		}
	}
	return out, nil
}
