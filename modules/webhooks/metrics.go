package webhooks

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhooks' metrics.
type Metrics struct {
	attempts *prometheus.CounterVec
}

// NewMetrics registers the webhook metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wallet_webhook_attempts_total",
		Help: "Webhook delivery attempts, by result (delivered, retry, failed, interrupted).",
	}, []string{"result"})}
	reg.MustRegister(m.attempts)
	return m
}

var (
	pendingDesc = prometheus.NewDesc("wallet_webhook_deliveries_pending",
		"Webhook deliveries waiting: due, being sent, or scheduled for a retry.", nil, nil)
	oldestDesc = prometheus.NewDesc("wallet_webhook_oldest_pending_seconds",
		"Age of the oldest webhook delivery still waiting (0 when none).", nil, nil)
)

// PendingCollector reads the deliveries waiting from the webhook shard at each scrape
// (one query over the pending rows, bounded by two seconds; a scrape that cannot read
// them leaves them out and logs why).
func (s *Service) PendingCollector(logger *slog.Logger) prometheus.Collector {
	return pendingCollector{s: s, logger: logger}
}

type pendingCollector struct {
	s      *Service
	logger *slog.Logger
}

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := c.s.q.PendingDeliveries(ctx, c.s.pool)
	if err != nil {
		c.logger.Warn("pending webhook deliveries not measured", "error", err.Error())
		return
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(r.Pending))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, r.OldestSeconds)
}
