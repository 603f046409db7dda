// Package account is the status of a user's account and the refusals it causes, which
// the ledger enforces (it decides every debit and credit), the accounts module changes
// (freeze, unfreeze, close) and the HTTP edge answers with one problem each.
package account

import "errors"

// Statuses. A frozen account refuses new debits (withdrawals, holds, transfers out) and
// still accepts credits; a hold taken before the freeze still completes. A closed
// account refuses everything, and is closed only empty.
const (
	StatusActive = "active"
	StatusFrozen = "frozen"
	StatusClosed = "closed"
)

// Refusals of an account's status.
var (
	// ErrFrozen: the account is frozen and takes no new debit.
	ErrFrozen = errors.New("account: frozen")
	// ErrClosed: the account is closed and takes nothing.
	ErrClosed = errors.New("account: closed")
	// ErrNotEmpty: an account is closed only with no money and nothing frozen (so no
	// transfer out is pending).
	ErrNotEmpty = errors.New("account: still holds money")
)

// State is what the ledger keeps of an account beside its money: its status and its
// default currency (the one requests that name none mean, set when the user is
// created from the region's default).
type State struct {
	Status          string
	DefaultCurrency string
}
