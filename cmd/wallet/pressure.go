package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/modules/transfers"
	"example.com/wallet/platform/config"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/outbox"
	"example.com/wallet/platform/pgdb"
)

// pressure tells the transfers module when a shard's cross-shard work waits beyond
// its bounds (transfers.max_outbox_age, transfers.max_lane_backlog), so new transfers
// from that shard to other shards and regions are refused with 503 until it drains,
// while its same-shard work goes on. The outbox's age is read by every replica, once a
// second; the consumer lane is this replica's own.
type pressure struct {
	cfg       *config.Config
	outboxAge map[string]*atomic.Int64 // shard -> age of its oldest unpublished message, ns
	consumer  atomic.Pointer[kafkabus.Consumer[transfers.Inbound]]
	gauge     *prometheus.GaugeVec
}

func newPressure(cfg *config.Config, reg prometheus.Registerer) *pressure {
	p := &pressure{cfg: cfg, outboxAge: map[string]*atomic.Int64{},
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wallet_transfers_backlogged", Help: "1 while new transfers from the shard to other shards and regions are refused (back-pressure).",
		}, []string{"shard"})}
	for _, s := range cfg.ShardList {
		p.outboxAge[s.Name] = &atomic.Int64{}
	}
	reg.MustRegister(p.gauge)
	return p
}

// backlogged is transfers.Config.Backlogged.
func (p *pressure) backlogged(shard string) bool {
	if age, ok := p.outboxAge[shard]; ok && time.Duration(age.Load()) > p.cfg.Transfers.MaxOutboxAge {
		return true
	}
	if c := p.consumer.Load(); c != nil && c.Backlog(shard) > p.cfg.Transfers.MaxLaneBacklog {
		return true
	}
	return false
}

// run reads every shard's outbox age once a second until ctx ends. A shard that does
// not answer keeps its last reading: its own transfers fail anyway while it is away.
func (p *pressure) run(ctx context.Context, shards map[string]*pgdb.Shard) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		for name, s := range shards {
			readCtx, cancel := context.WithTimeout(ctx, time.Second)
			age, err := outbox.WaitingSince(readCtx, s.Pool, p.cfg.Regions())
			cancel()
			if err == nil {
				p.outboxAge[name].Store(int64(age))
			}
			flag := 0.0
			if p.backlogged(name) {
				flag = 1
			}
			p.gauge.WithLabelValues(name).Set(flag)
		}
	}
}
