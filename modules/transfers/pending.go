package transfers

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// pendingAgeEdges are the lower edges, in seconds, of the age bands after the first in
// wallet_transfers_pending: under 10s, 10s to 1m, 1m to 5m, 5m to 15m, 15m to 1h, and
// an hour or more. A healthy transfer leaves the first band or two; the default TTL
// (30s) plus the resend backoff keeps a slow one under 5m.
var pendingAgeEdges = []float64{10, 60, 300, 900, 3600}

// pendingAgeBands names the bands of pendingAgeEdges, as the age label says them.
var pendingAgeBands = []string{"0s-10s", "10s-1m", "1m-5m", "5m-15m", "15m-1h", "1h+"}

// pendingScrapeTimeout bounds one shard's query during a scrape: a slow shard leaves
// its series out rather than stalling /metrics (wallet_dependency_up says why).
const pendingScrapeTimeout = 2 * time.Second

var (
	pendingDesc = prometheus.NewDesc("wallet_transfers_pending",
		"Pending transfers the shard sends, by age band since creation (read from the shard at scrape time).",
		[]string{"shard", "age"}, nil)
	pendingOldestDesc = prometheus.NewDesc("wallet_transfers_pending_oldest_seconds",
		"Age of the shard's oldest pending transfer since its creation; 0 when none is pending (read at scrape time).",
		[]string{"shard"}, nil)
	ttlDesc = prometheus.NewDesc("wallet_transfers_ttl_seconds",
		"The transfers' TTL (transfers.ttl): how long a pending transfer waits for the credit's answer before its cancel is requested.",
		nil, nil)
)

// PendingCollector is a Prometheus collector of the region's pending transfers by age
// and shard, and of the TTL they are measured against. Each scrape reads every shard
// (one grouped query over the pending rows, bounded by pendingScrapeTimeout); a shard
// that does not answer is left out of that scrape and logged. Every replica reports
// the same numbers for a shard: aggregate them with max, not sum.
func (s *Service) PendingCollector(logger *slog.Logger) prometheus.Collector {
	return pendingCollector{s: s, logger: logger}
}

type pendingCollector struct {
	s      *Service
	logger *slog.Logger
}

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- pendingOldestDesc
	ch <- ttlDesc
}

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(ttlDesc, prometheus.GaugeValue, c.s.ttl.Seconds())
	for _, sh := range c.s.shards.All() {
		counts, oldest, err := c.s.pendingByAge(sh.Name)
		if err != nil {
			c.logger.Warn("pending transfers not measured", "shard", sh.Name, "err", err)
			continue
		}
		for i, band := range pendingAgeBands {
			ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(counts[i]), sh.Name, band)
		}
		ch <- prometheus.MustNewConstMetric(pendingOldestDesc, prometheus.GaugeValue, oldest, sh.Name)
	}
}

// pendingByAge counts the pending transfers of a shard by band of pendingAgeBands and
// returns the age in seconds of the oldest (0 when none).
func (s *Service) pendingByAge(shardName string) (counts []int64, oldest float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), pendingScrapeTimeout)
	defer cancel()
	rows, err := s.q.PendingByAge(ctx, s.shard(shardName).Pool, pendingAgeEdges)
	if err != nil {
		return nil, 0, err
	}
	counts = make([]int64, len(pendingAgeBands))
	for _, r := range rows {
		// width_bucket answers 0 to len(pendingAgeEdges); the clamp only guards a
		// clock that puts a creation in the future (band 0 already).
		counts[min(max(int(r.Band), 0), len(counts)-1)] += r.Pending
		oldest = max(oldest, r.OldestSeconds)
	}
	return counts, oldest, nil
}
