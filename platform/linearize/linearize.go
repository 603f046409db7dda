// Package linearize is the sequential specification of one wallet that the e2e suite
// and the chaos suite check client histories against with porcupine: deposits add,
// withdrawals subtract when the balance allows and are refused otherwise, reads return
// the balance. One definition, so the two suites judge by the same rules.
package linearize

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Op is one client operation on one wallet, as the client issued it.
type Op struct {
	Kind   string // deposit, withdraw, read
	Amount int64
}

// Result is what the client saw: OK for an applied deposit or withdrawal (false: a
// withdrawal refused for insufficient funds), Balance for a read.
type Result struct {
	OK      bool
	Balance int64
}

// Wallet is the model of one wallet holding initial before the history begins.
func Wallet(initial int64) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return initial },
		Step: func(state, input, output any) (bool, any) {
			balance, op, res := state.(int64), input.(Op), output.(Result)
			switch op.Kind {
			case "deposit":
				return res.OK, balance + op.Amount
			case "withdraw":
				if res.OK {
					return balance >= op.Amount, balance - op.Amount
				}
				return balance < op.Amount, balance
			default:
				return res.Balance == balance, balance
			}
		},
		DescribeOperation: func(input, output any) string { return fmt.Sprintf("%v -> %v", input, output) },
	}
}
