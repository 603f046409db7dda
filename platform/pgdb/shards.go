package pgdb

import (
	"example.com/wallet/platform/shard"
)

// Shards are a region's open shards with the router that places keys on them: the one
// way the modules reach the shard of a user, of a transfer or of any other key.
type Shards struct {
	router *shard.Router
	byName map[string]*Shard
}

// NewShards joins the region's router and its open shards (from Open), which must name
// the same shards.
func NewShards(router *shard.Router, byName map[string]*Shard) *Shards {
	return &Shards{router: router, byName: byName}
}

// For returns the shard holding key: a user id of this region, or any other key placed
// by the same rule (a transfer id, for instance, lives with its sender).
func (s *Shards) For(key string) *Shard { return s.byName[s.router.ShardOf(key)] }

// Named returns the shard called name, if the region has one.
func (s *Shards) Named(name string) (*Shard, bool) {
	sh, ok := s.byName[name]
	return sh, ok
}

// All lists the region's shards in bucket order.
func (s *Shards) All() []*Shard {
	out := make([]*Shard, 0, len(s.byName))
	for _, name := range s.router.Shards() {
		out = append(out, s.byName[name])
	}
	return out
}

// Router is the router that places keys on these shards.
func (s *Shards) Router() *shard.Router { return s.router }
