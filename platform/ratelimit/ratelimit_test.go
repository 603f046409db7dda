package ratelimit

import (
	"fmt"
	"testing"
)

// A flood of made-up user ids keeps at most MaxUsers buckets.
func TestMadeUpUsersCannotGrowMemory(t *testing.T) {
	l := New(Limits{PerUser: 1, Burst: 1, PerGateway: 1e9, PerReplica: 1e9, MaxUsers: 1000})
	for i := range 200_000 {
		l.Allow("gw", fmt.Sprint("eu_made_up_", i))
	}
	if n := len(l.users); n != 1000 || l.order.Len() != 1000 {
		t.Fatalf("%d buckets (%d in order) after 200,000 made-up users, want 1000", n, l.order.Len())
	}
}

// One gateway exhausting a user's allowance does not block the same user's requests
// from another gateway.
func TestOneGatewayCannotUseUpAnothersAllowance(t *testing.T) {
	l := New(Limits{PerUser: 0.001, Burst: 3, PerGateway: 1e9, PerReplica: 1e9, MaxUsers: 100})
	for range 3 {
		if ok, _, _ := l.Allow("attacker", "victim"); !ok {
			t.Fatal("the burst was refused")
		}
	}
	if ok, retry, which := l.Allow("attacker", "victim"); ok || which != "user" || retry < 1 {
		t.Fatalf("a fourth request = %v, %d, %q; want refused by the user limit with a Retry-After", ok, retry, which)
	}
	if ok, _, _ := l.Allow("bank", "victim"); !ok {
		t.Fatal("another gateway's request for the same user was refused")
	}
}

// The gateway and replica limits bound what all users together may send, and a refusal
// takes no token from any bucket.
func TestGatewayAndReplicaLimits(t *testing.T) {
	l := New(Limits{PerUser: 1e9, Burst: 1e9, PerGateway: 5, PerReplica: 8, MaxUsers: 100})
	allowed := map[string]int{}
	for _, gw := range []string{"a", "b"} {
		for i := range 20 {
			if ok, _, _ := l.Allow(gw, fmt.Sprint("u", i)); ok {
				allowed[gw]++
			}
		}
	}
	if allowed["a"] != 5 || allowed["b"] != 3 {
		t.Fatalf("allowed %v, want gateway a its 5 and b the 3 the replica had left", allowed)
	}
}
