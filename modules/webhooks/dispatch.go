package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"example.com/wallet/modules/webhooks/internal/webhooksdb"
)

// httpSender makes the attempts: no proxy, no redirects followed (a 3xx is a failed
// attempt: a redirect could lead inside the network), every connection's address
// checked by the policy.
type httpSender struct {
	client *http.Client
}

func newHTTPSender(policy addressPolicy, timeout time.Duration) *httpSender {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: policy.dialControl}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
	}
	return &httpSender{client: &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// send makes one attempt and returns the answer's status (0 when there was none).
func (h *httpSender) send(ctx context.Context, url, eventID string, timestamp int64, signatures string, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", "wallet-webhooks/1")
	req.Header.Set(HeaderID, eventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	req.Header.Set(HeaderSignature, signatures)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Read a little, so the connection can be used again; the body says nothing we keep.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// pollInterval is how often an idle dispatcher looks for due deliveries.
const pollInterval = 200 * time.Millisecond

// RunRetention forgets, every hour until ctx ends, the deliveries that ended more
// than Config.LogRetention ago (forgetEnded). Every replica runs it; they delete
// different rows or none.
func (s *Service) RunRetention(ctx context.Context, logger *slog.Logger) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	for {
		if _, err := s.forgetEnded(ctx, time.Now().Add(-s.cfg.LogRetention)); err != nil && ctx.Err() == nil {
			logger.Warn("forgetting old webhook deliveries", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// forgetEnded removes the deliveries that ended (delivered or failed) and were created
// before before, a thousand at a time so no statement holds its locks for long, and
// returns how many.
func (s *Service) forgetEnded(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.q.ForgetDeliveries(ctx, s.pool, webhooksdb.ForgetDeliveriesParams{Before: before, Batch: 1000})
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// RunDispatcher sends due deliveries until ctx ends, up to Config.Senders at once.
// Every replica runs one: a claim leases its deliveries, so two never send the same
// one at once. On return, the attempts in flight have finished and been recorded.
func (s *Service) RunDispatcher(ctx context.Context, logger *slog.Logger) {
	inflight := map[string]int{} // attempts in flight by endpoint
	total := 0
	done := make(chan string, s.cfg.Senders)
	finished := func(endpoint string) {
		total--
		if inflight[endpoint]--; inflight[endpoint] == 0 {
			delete(inflight, endpoint)
		}
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		claimedAll := false
		if free := s.cfg.Senders - total; free > 0 && ctx.Err() == nil {
			var busy []string
			for ep, n := range inflight {
				if n >= s.cfg.PerEndpoint {
					busy = append(busy, ep)
				}
			}
			claimed, endpoints, err := s.claim(ctx, busy, free)
			if err != nil && ctx.Err() == nil {
				logger.Warn("claiming webhook deliveries", "error", err.Error())
			}
			for _, d := range claimed {
				inflight[d.EndpointID]++
				total++
				go func() {
					s.attempt(ctx, logger, endpoints[d.EndpointID], d)
					done <- d.EndpointID
				}()
			}
			claimedAll = len(claimed) == free
		}
		if ctx.Err() != nil {
			if total == 0 {
				return
			}
			// Stopping: wait for the attempts in flight (ctx cancels their requests).
			finished(<-done)
			continue
		}
		if claimedAll {
			// More may be due: look again once a sender is free.
			finished(<-done)
			continue
		}
		select {
		case ep := <-done:
			finished(ep)
		case <-ticker.C:
		case <-ctx.Done():
		}
	}
}

// claim leases up to n due deliveries and reads their endpoints.
func (s *Service) claim(ctx context.Context, busy []string, n int) ([]webhooksdb.ClaimDeliveriesRow, map[string]webhooksdb.WebhookEndpoint, error) {
	claimed, err := s.q.ClaimDeliveries(ctx, s.pool, webhooksdb.ClaimDeliveriesParams{
		// An attempt ends within Timeout; past the lease, a replica that died while
		// sending leaves the delivery to another.
		LeaseUntil: time.Now().Add(s.cfg.Timeout + 10*time.Second), Busy: busy, PerEndpoint: int64(s.cfg.PerEndpoint), Batch: int32(n),
	})
	if err != nil || len(claimed) == 0 {
		return nil, nil, err
	}
	var ids []string
	for _, d := range claimed {
		ids = append(ids, d.EndpointID)
	}
	rows, err := s.q.EndpointsByID(ctx, s.pool, ids)
	if err != nil {
		// The leases lapse and the deliveries are claimed again.
		return nil, nil, err
	}
	endpoints := map[string]webhooksdb.WebhookEndpoint{}
	for _, r := range rows {
		endpoints[r.ID] = r
	}
	return claimed, endpoints, nil
}

// attempt sends one claimed delivery and records what came of it: delivered on a
// 2xx, else pending again after the schedule's next delay, or failed once the
// schedule is spent. An endpoint deleted meanwhile has taken its deliveries with it.
func (s *Service) attempt(ctx context.Context, logger *slog.Logger, ep webhooksdb.WebhookEndpoint, d webhooksdb.ClaimDeliveriesRow) {
	if ep.ID == "" {
		return
	}
	now := time.Now()
	signatures, err := signaturesOf(ep, d.EventID, now, d.Payload)
	code := 0
	if err == nil {
		code, err = s.client.send(ctx, ep.Url, d.EventID, now.Unix(), signatures, d.Payload)
	}
	rec := webhooksdb.RecordAttemptParams{ID: d.ID, Status: StatusDelivered, NextAttemptAt: now}
	result := "delivered"
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// Shutting down: not the endpoint's failure; the next replica sends it at once.
		rec.Status, result = StatusPending, "interrupted"
	case int(d.Attempts) > len(s.cfg.RetryDelays):
		rec.Status, result = StatusFailed, "failed"
	default:
		rec.Status, result = StatusPending, "retry"
		rec.NextAttemptAt = now.Add(jitter(s.cfg.RetryDelays[d.Attempts-1]))
	}
	if code != 0 {
		c := int32(code)
		rec.StatusCode = &c
	}
	if err != nil {
		msg := err.Error()
		if len(msg) > 300 {
			msg = msg[:300]
		}
		rec.Error = &msg
	}
	s.metrics.attempts.WithLabelValues(result).Inc()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.q.RecordAttempt(rctx, s.pool, rec); err != nil {
		// The lease lapses and the delivery is sent again: at least once.
		logger.Warn("recording a webhook attempt", "delivery", d.ID, "error", err.Error())
	}
	if result != "delivered" {
		logger.Info("webhook attempt failed", "endpoint", ep.ID, "delivery", d.ID, "event", d.EventID, "attempt", d.Attempts,
			"result", result, "error", deref(rec.Error))
	}
}

// signaturesOf signs a delivery with the endpoint's secret, and with its previous
// secret while that still signs.
func signaturesOf(ep webhooksdb.WebhookEndpoint, id string, at time.Time, payload []byte) (string, error) {
	secrets := []string{ep.Secret}
	if ep.PreviousSecret != nil && ep.PreviousSecretExpiresAt != nil && at.Before(*ep.PreviousSecretExpiresAt) {
		secrets = append(secrets, *ep.PreviousSecret)
	}
	var sigs []string
	for _, secret := range secrets {
		sig, err := Sign(secret, id, at.Unix(), payload)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// jitter spreads d by up to a fifth either way, so the retries of many deliveries
// that failed together do not return together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
