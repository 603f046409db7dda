package main

import (
	"context"
	"fmt"
	"io"
)

func ledgerCmd(ctx context.Context, args, environ []string, stdout io.Writer) error {
	return fmt.Errorf("%w: ledger verify and rebuild are not built yet", errUsage)
}
