package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/kafkabus"
)

// fault is one injected fault: what, on what, when and for how long.
type fault struct {
	kind   string
	target string
	at     time.Duration // since the workload started
	lasted time.Duration
	err    string
}

// profile says how many faults of each kind a run injects, and over how long.
type profile struct {
	name    string
	window  time.Duration // faults are spread over this
	counts  map[string]int
	clients int
	rate    float64 // requests per second per client
}

var profiles = map[string]profile{
	"short": {name: "short", window: 100 * time.Second, clients: 16, rate: 12, counts: map[string]int{
		"kill9": 3, "freeze": 1, "broker": 1, "pgcrash": 1, "pglink": 2, "regionlink": 1, "expiry": 1, "poison": 1,
	}},
	"long": {name: "long", window: 9 * time.Minute, clients: 16, rate: 15, counts: map[string]int{
		"kill9": 10, "freeze": 3, "broker": 3, "pgcrash": 2, "pglink": 6, "regionlink": 4, "expiry": 2, "poison": 3,
	}},
}

// schedule orders a profile's faults with the seed and spreads them over the window,
// one at a time, each with its target drawn from the seed too.
func schedule(p profile, seed uint64, c *cluster) []fault {
	rng := rand.New(rand.NewPCG(seed, seed^0xfa17))
	var kinds []string
	for _, kind := range []string{"kill9", "freeze", "broker", "pgcrash", "pglink", "regionlink", "expiry", "poison"} {
		for range p.counts[kind] {
			kinds = append(kinds, kind)
		}
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	slot := p.window / time.Duration(len(kinds))
	var out []fault
	for i, kind := range kinds {
		f := fault{kind: kind, at: 5*time.Second + time.Duration(i)*slot + time.Duration(rng.Int64N(int64(slot/4)))}
		switch kind {
		case "kill9", "freeze":
			f.target = c.replicas[rng.IntN(len(c.replicas))].name
		case "pglink":
			f.target = chaosRegions[rng.IntN(2)] + "/" + []string{"slow", "reset", "blackhole"}[rng.IntN(3)]
		case "regionlink":
			f.target = chaosRegions[rng.IntN(2)] + "/" + []string{"slow", "reset", "blackhole"}[rng.IntN(3)]
		case "expiry", "poison":
			f.target = chaosRegions[rng.IntN(2)]
		}
		out = append(out, f)
	}
	return out
}

// inject runs the schedule against the cluster until it is done or ctx ends, and
// returns what was injected.
func inject(ctx context.Context, c *cluster, w *workload, plan []fault, ttl time.Duration) []fault {
	var done []fault
	for _, f := range plan {
		select {
		case <-ctx.Done():
			return done
		case <-time.After(time.Until(w.t0.Add(f.at))):
		}
		f.at = w.now()
		if err := apply(ctx, c, w, f, ttl); err != nil {
			f.err = err.Error()
			c.log("  fault %s %s failed: %v", f.kind, f.target, err)
		}
		f.lasted = w.now() - f.at
		c.log("  %6.1fs  %-10s %-14s %5.1fs", f.at.Seconds(), f.kind, f.target, f.lasted.Seconds())
		done = append(done, f)
	}
	return done
}

func apply(ctx context.Context, c *cluster, w *workload, f fault, ttl time.Duration) error {
	hold := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	named := func(name string) *replica {
		i := slices.IndexFunc(c.replicas, func(r *replica) bool { return r.name == name })
		return c.replicas[i]
	}
	link := func(links map[string]*proxy, target string) error {
		region, mode := target[:2], target[3:]
		p := links[region]
		switch mode {
		case "slow":
			p.set(linkSlow)
			hold(5 * time.Second)
			p.set(linkPass)
		case "reset":
			p.reset()
		case "blackhole":
			p.set(linkBlackhole)
			hold(6 * time.Second)
			p.set(linkPass)
			// What the silence swallowed is gone from these streams: end them, as the
			// peers' timeouts would, and let them reconnect.
			p.reset()
		}
		return nil
	}
	switch f.kind {
	case "kill9":
		r := named(f.target)
		c.kill9(r)
		if err := c.start(r); err != nil {
			return err
		}
		return c.waitReady(ctx, r, 60*time.Second)
	case "freeze":
		// Longer than the consumer group's session and the relay's lease: the others
		// must take over, and this one must not act on what it believed when it wakes.
		r := named(f.target)
		c.freeze(r)
		hold(12 * time.Second)
		c.thaw(r)
	case "broker":
		if err := c.script(ctx, []string{"KAFKA_BROKERS="}, "scripts/kafka.sh", "down"); err != nil {
			return err
		}
		hold(6 * time.Second)
		return c.script(ctx, []string{"KAFKA_BROKERS="}, "scripts/kafka.sh", "up")
	case "pgcrash":
		return c.script(ctx, pgEnv(), "scripts/postgres.sh", "crash")
	case "pglink":
		return link(c.pgLink, f.target)
	case "regionlink":
		return link(c.entry, f.target)
	case "expiry":
		// A whole region away for longer than the TTL: the other region's pending
		// transfers to it expire and their coordinated cancels race its credits.
		var frozen []*replica
		for _, r := range c.replicas {
			if r.region == f.target {
				c.freeze(r)
				frozen = append(frozen, r)
			}
		}
		hold(ttl + 3*time.Second)
		for _, r := range frozen {
			c.thaw(r)
		}
	case "poison":
		return w.poisonTopic(ctx, f.target)
	default:
		return fmt.Errorf("unknown fault %q", f.kind)
	}
	return nil
}

// poisonTopic writes messages that can never be applied onto region's TCC topic.
func (w *workload) poisonTopic(ctx context.Context, region string) error {
	wr := kafkabus.NewWriter([]string{w.c.brokers})
	defer wr.Close()
	topic := w.c.cfg[region].TopicTCC(region)
	w.mu.Lock()
	first := w.poison
	w.poison += 2
	w.mu.Unlock()
	msgs := []kafka.Message{
		{Topic: topic, Key: []byte(fmt.Sprint("poison-", first)), Value: []byte("not json")},
		{Topic: topic, Key: []byte(fmt.Sprint("poison-", first+1)), Value: []byte(`{"type":"explode"}`)},
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return wr.WriteMessages(wctx, msgs...)
}
