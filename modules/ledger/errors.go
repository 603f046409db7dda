package ledger

import (
	"net/http"

	"example.com/wallet/platform/httpapi"
)

// Domain errors of the ledger, each already the API problem it maps to.
var (
	// ErrUserNotFound: no wallet on this shard for the user id.
	ErrUserNotFound = httpapi.NewProblem(http.StatusNotFound, httpapi.CodeUserNotFound, "no such user")
	// ErrInsufficientFunds: the amount exceeds the available balance; nothing was written.
	ErrInsufficientFunds = httpapi.NewProblem(http.StatusUnprocessableEntity, "insufficient_funds", "the amount exceeds the available balance")
	// ErrBalanceLimit: the balance would exceed what the schema can hold.
	ErrBalanceLimit = httpapi.NewProblem(http.StatusUnprocessableEntity, "balance_limit_exceeded", "the resulting balance would exceed 78 digits")
)
