package e2e

import (
	"net/http"
	"testing"
	"time"
)

func TestBothRegionsBecomeReady(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	for _, r := range []*Region{s.EU, s.US} {
		resp := r.Do(t, Call{Method: "GET", Path: "/readyz", Token: "-"})
		var body struct {
			Status       string            `json:"status"`
			Region       string            `json:"region"`
			Dependencies map[string]string `json:"dependencies"`
		}
		resp.JSON(t, &body)
		if resp.Status != 200 || body.Status != "ready" || body.Region != r.Name {
			t.Fatalf("%s /readyz = %d %s", r.Name, resp.Status, resp.Body)
		}
		for _, dep := range []string{"shard/" + r.Name + "0", "shard/" + r.Name + "1", "kafka"} {
			if body.Dependencies[dep] != "up" {
				t.Errorf("%s: dependency %s is %q, want up (%s)", r.Name, dep, body.Dependencies[dep], resp.Body)
			}
		}
		if live := r.Do(t, Call{Method: "GET", Path: "/livez", Token: "-"}); live.Status != 200 {
			t.Errorf("%s /livez = %d", r.Name, live.Status)
		}
		metrics, err := http.Get(r.AdminURL + "/metrics")
		if err != nil || metrics.StatusCode != 200 {
			t.Fatalf("%s admin /metrics: %v", r.Name, err)
		}
		metrics.Body.Close()
	}
}

func TestUnknownRouteIsAProblem(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	resp := s.EU.Do(t, Call{Method: "GET", Path: "/no/such/route", OffSpec: true})
	if resp.Status != 404 || resp.Header.Get("Content-Type") != "application/problem+json" || resp.Code() != "not_found" {
		t.Fatalf("unknown route = %d %s %s", resp.Status, resp.Header.Get("Content-Type"), resp.Body)
	}
	resp = s.EU.Do(t, Call{Method: "GET", Path: "/v1/users", Token: "-", OffSpec: true})
	if resp.Status != 405 && resp.Status != 401 {
		t.Fatalf("GET /v1/users = %d %s", resp.Status, resp.Body)
	}
}

// TestBrokerOutageIsReportedNotFatal stops the Kafka broker: /readyz keeps answering
// 200 (the region still serves every shard) and reports kafka down; once the broker is
// back, kafka is reported up again. It is not parallel: it stops the broker that the
// other tests use.
func TestBrokerOutageIsReportedNotFatal(t *testing.T) {
	s := StartStack(t)
	waitFor := func(state string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		var last Response
		for time.Now().Before(deadline) {
			last = s.EU.Do(t, Call{Method: "GET", Path: "/readyz", Token: "-"})
			var body struct {
				Dependencies map[string]string `json:"dependencies"`
			}
			last.JSON(t, &body)
			if last.Status != 200 {
				t.Fatalf("/readyz = %d during a broker outage, want 200: %s", last.Status, last.Body)
			}
			if body.Dependencies["kafka"] == state {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("kafka never reported %s: %s", state, last.Body)
	}
	kafkaScript(t, "down")
	t.Cleanup(func() { kafkaScript(t, "up") })
	waitFor("down")
	kafkaScript(t, "up")
	waitFor("up")
}
