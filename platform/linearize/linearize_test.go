package linearize

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestTheModelJudges guards the checker itself: a read that misses a deposit
// acknowledged before it began is not linearizable, one that sees it or overlaps it
// is, and a withdrawal refused while the balance covered it is not.
func TestTheModelJudges(t *testing.T) {
	cases := []struct {
		name    string
		initial int64
		history []porcupine.Operation
		want    porcupine.CheckResult
	}{
		{"a stale read", 0, []porcupine.Operation{
			{ClientId: 0, Input: Op{Kind: "deposit", Amount: 5}, Call: 0, Output: Result{OK: true}, Return: 10},
			{ClientId: 1, Input: Op{Kind: "read"}, Call: 20, Output: Result{Balance: 0}, Return: 30},
		}, porcupine.Illegal},
		{"a fresh read", 0, []porcupine.Operation{
			{ClientId: 0, Input: Op{Kind: "deposit", Amount: 5}, Call: 0, Output: Result{OK: true}, Return: 10},
			{ClientId: 1, Input: Op{Kind: "read"}, Call: 20, Output: Result{Balance: 5}, Return: 30},
		}, porcupine.Ok},
		{"a read overlapping the deposit", 0, []porcupine.Operation{
			{ClientId: 0, Input: Op{Kind: "deposit", Amount: 5}, Call: 0, Output: Result{OK: true}, Return: 30},
			{ClientId: 1, Input: Op{Kind: "read"}, Call: 10, Output: Result{Balance: 0}, Return: 20},
		}, porcupine.Ok},
		{"a withdrawal refused with money there", 7, []porcupine.Operation{
			{ClientId: 0, Input: Op{Kind: "withdraw", Amount: 5}, Call: 0, Output: Result{OK: false}, Return: 10},
		}, porcupine.Illegal},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperationsTimeout(Wallet(c.initial), c.history, 10*time.Second); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
