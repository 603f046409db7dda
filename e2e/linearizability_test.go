package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"example.com/wallet/platform/linearize"
)

// TestPerUserOperationsAreLinearizable has concurrent clients deposit, withdraw and read
// one user's balance through both regions, records every call and return, and checks
// the history against the sequential model of one wallet (platform/linearize) with
// porcupine.
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
				op := linearize.Op{Kind: []string{"deposit", "withdraw", "read"}[rng.IntN(3)], Amount: 1 + rng.Int64N(5)}
				call := time.Since(start).Nanoseconds()
				var res linearize.Result
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
	if result := porcupine.CheckOperationsTimeout(linearize.Wallet(0), history, 60*time.Second); result != porcupine.Ok {
		t.Fatalf("the history of %d operations is not linearizable (%v)", len(history), result)
	}
}
