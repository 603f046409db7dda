package ledger

import (
	"errors"
)

// The ledger's refusals. Each leaves the ledger as it was. A user that does not exist
// is shard.ErrUserNotFound, the one error every module says it with; an account's
// status refuses with platform/account's errors. The HTTP edge
// (http.go) maps each to the problem a client sees.
var (
	// ErrInsufficientFunds: the amount exceeds the available balance.
	ErrInsufficientFunds = errors.New("ledger: the amount exceeds the available balance")
	// ErrBalanceLimit: the balance would exceed what the schema can hold (78 digits).
	ErrBalanceLimit = errors.New("ledger: the resulting balance would exceed 78 digits")
)
