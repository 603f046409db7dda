package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// walletOp is one client operation on a single wallet, as recorded by the client.
type walletOp struct {
	Kind   string // deposit, withdraw, read
	Amount int64
}

// walletResult is what the client saw: ok, insufficient, or a balance read.
type walletResult struct {
	OK      bool
	Balance int64
}

// walletModel is a sequential specification of one wallet: deposits add, withdrawals
// subtract when the balance allows and are refused otherwise, reads return the balance.
var walletModel = porcupine.Model{
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		balance, op, res := state.(int64), input.(walletOp), output.(walletResult)
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
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%v -> %v", input, output)
	},
}

// TestPerUserOperationsAreLinearizable has concurrent clients deposit, withdraw and read
// one user's balance through both regions, records every call and return, and checks
// the history against the sequential model with porcupine.
func TestPerUserOperationsAreLinearizable(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	u := createUser(t, s.EU, "us")
	const clients, opsPerClient = 8, 25
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 99))
			via := []*Region{s.EU, s.US}[c%2]
			for i := 0; i < opsPerClient; i++ {
				op := walletOp{Kind: []string{"deposit", "withdraw", "read"}[rng.IntN(3)], Amount: 1 + rng.Int64N(5)}
				call := time.Since(start).Nanoseconds()
				var res walletResult
				switch op.Kind {
				case "read":
					op.Amount = 0
					b := getBalance(t, via, u.ID)
					res.Balance, _ = strconv.ParseInt(b.Balance, 10, 64)
				default:
					path := map[string]string{"deposit": "deposits", "withdraw": "withdrawals"}[op.Kind]
					r := move(t, via, u.ID, path, strconv.FormatInt(op.Amount, 10), fmt.Sprintf("c%d-%d", c, i))
					switch {
					case r.Status == 201:
						res.OK = true
					case r.Status == 422 && r.Code() == "insufficient_funds":
					default:
						t.Errorf("%v = %d %s", op, r.Status, r.Body)
						return
					}
				}
				ret := time.Since(start).Nanoseconds()
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: op, Call: call, Output: res, Return: ret})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(history) != clients*opsPerClient {
		t.Fatalf("recorded %d operations", len(history))
	}
	if result := porcupine.CheckOperationsTimeout(walletModel, history, 60*time.Second); result != porcupine.Ok {
		t.Fatalf("the history of %d operations is not linearizable (%v)", len(history), result)
	}
}

// TestWalletModelRejectsAStaleRead guards the checker itself: a read that misses a
// deposit acknowledged before it began must be reported as not linearizable.
func TestWalletModelRejectsAStaleRead(t *testing.T) {
	history := []porcupine.Operation{
		{ClientId: 0, Input: walletOp{Kind: "deposit", Amount: 5}, Call: 0, Output: walletResult{OK: true}, Return: 10},
		{ClientId: 1, Input: walletOp{Kind: "read"}, Call: 20, Output: walletResult{Balance: 0}, Return: 30},
	}
	if porcupine.CheckOperations(walletModel, history) {
		t.Fatal("a stale read was accepted")
	}
	history[1].Output = walletResult{Balance: 5}
	if !porcupine.CheckOperations(walletModel, history) {
		t.Fatal("a fresh read was rejected")
	}
}
