package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/wallet/modules/webhooks"
)

// hookReceiver is a gateway's webhook endpoint in the test: one per region (its path),
// each verifying with its region's secret. It answers 500 to the first attempts of
// each region's first delivery, then 204, and records every verified delivery.
type hookReceiver struct {
	mu       sync.Mutex
	secrets  map[string]string   // by region
	failures map[string]int      // 500s still to answer, by region
	received map[string][]string // verified event ids, in arrival order, by region
	bodies   map[string][]byte   // by event id
	bad      []string            // deliveries that did not verify
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region := strings.TrimPrefix(r.URL.Path, "/")
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := webhooks.Verify(h.secrets[region], r.Header, body, time.Now()); err != nil {
		h.bad = append(h.bad, fmt.Sprintf("%s %s: %v", region, r.Header.Get("webhook-id"), err))
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if h.failures[region] > 0 {
		h.failures[region]--
		http.Error(w, "receiver down", http.StatusInternalServerError)
		return
	}
	id := r.Header.Get("webhook-id")
	h.received[region] = append(h.received[region], id)
	h.bodies[id] = body
	w.WriteHeader(http.StatusNoContent)
}

// ids returns the distinct event ids region's endpoint accepted, in first-arrival order.
func (h *hookReceiver) ids(region string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, id := range h.received[region] {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

type webhookEndpoint struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

type webhookDelivery struct {
	ID             int64  `json:"id"`
	EventID        string `json:"event_id"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastStatusCode int    `json:"last_status_code"`
}

// TestWebhooksFollowATransferAndItsRefund follows a transfer from eu to us and its
// refund through both regions' event streams and through a gateway's webhook
// endpoint registered in each region: every event arrives signed, each user's in the
// stream's order, after the endpoint answered its first attempts with 500s; the
// delivery log shows the retries, and a delivery asked for again arrives again.
func TestWebhooksFollowATransferAndItsRefund(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_WEBHOOKS__RETRY_DELAYS=200ms,200ms,200ms,200ms")
	rc := &hookReceiver{secrets: map[string]string{}, failures: map[string]int{"eu": 2, "us": 2},
		received: map[string][]string{}, bodies: map[string][]byte{}}
	server := httptest.NewServer(rc)
	defer server.Close()

	// Registered first: an endpoint gets the events that happen after it exists.
	endpoints := map[string]webhookEndpoint{}
	for _, via := range []*Region{s.EU, s.US} {
		resp := via.Do(t, Call{Method: "POST", Path: "/v1/webhooks", Body: map[string]any{
			"url": server.URL + "/" + via.Name, "event_types": []string{"wallet.user.created", "wallet.deposit.created",
				"wallet.transfer.created", "wallet.transfer.completed", "wallet.transfer.cancelled", "wallet.transfer.credited"},
			"description": "gateway " + via.Name,
		}})
		var ep webhookEndpoint
		resp.JSON(t, &ep)
		if resp.Status != 201 || !strings.HasPrefix(ep.ID, via.Name+"_wh_") || !strings.HasPrefix(ep.Secret, "whsec_") ||
			resp.Header.Get("Location") != "/v1/webhooks/"+ep.ID {
			t.Fatalf("register in %s = %d %s", via.Name, resp.Status, resp.Body)
		}
		endpoints[via.Name] = ep
		rc.mu.Lock()
		rc.secrets[via.Name] = ep.Secret
		rc.mu.Unlock()
	}
	// Read through the other region, which forwards; the secret is never shown again.
	var listed webhookEndpoint
	if resp := s.EU.Do(t, Call{Method: "GET", Path: "/v1/webhooks/" + endpoints["us"].ID}); resp.Status != 200 {
		t.Fatalf("GET the us endpoint through eu = %d %s", resp.Status, resp.Body)
	} else if resp.JSON(t, &listed); listed.Secret != "" || listed.URL != server.URL+"/us" {
		t.Fatalf("GET the us endpoint = %s", resp.Body)
	}

	alice, bob := fund(t, s, "eu", "100"), createUser(t, s.US, "us").ID
	_, paid := send(t, s.EU, alice, bob, "60", "pay", "Prefer", "wait=20")
	resp, back := refund(t, s.US, paid.ID, "25", "back")
	if paid.Status != "completed" || resp.Status != 201 || back.Status != "completed" {
		t.Fatalf("transfer %+v, refund %d %s", paid, resp.Status, resp.Body)
	}

	// The streams: alice's creation, deposit, transfer created and completed, and the
	// refund credited on eu's; bob's creation, the transfer credited, and the refund
	// created and completed on us's.
	streams := map[string]map[string][]event{"eu": readEvents(t, s, "eu", 5), "us": readEvents(t, s, "us", 4)}
	for region, user := range map[string]string{"eu": alice, "us": bob} {
		var want []string
		for _, e := range streams[region][user] {
			want = append(want, e.ID)
		}
		eventually(t, 30*time.Second, region+"'s endpoint to receive "+user+"'s events", func() bool {
			return len(rc.ids(region)) >= len(want)
		})
		if got := rc.ids(region); !slices.Equal(got, want) {
			t.Fatalf("%s's endpoint received %v; want the stream's order %v", region, got, want)
		}
		// The body is the event as the stream has it.
		for _, e := range streams[region][user] {
			var sent, delivered map[string]any
			_ = json.Unmarshal(e.Data, &sent)
			rc.mu.Lock()
			_ = json.Unmarshal(rc.bodies[e.ID], &delivered)
			rc.mu.Unlock()
			if fmt.Sprint(delivered["data"]) != fmt.Sprint(sent) || delivered["type"] != e.Type {
				t.Fatalf("%s delivered as %s", e.ID, rc.bodies[e.ID])
			}
		}
	}
	var refundEvents int
	for _, e := range streams["us"][bob] {
		if strings.Contains(string(e.Data), `"refund_of":"`+paid.ID+`"`) {
			refundEvents++
		}
	}
	if refundEvents != 2 {
		t.Fatalf("bob's stream holds %d events of the refund naming %s, want 2 (created, completed)", refundEvents, paid.ID)
	}
	rc.mu.Lock()
	bad := rc.bad
	rc.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("deliveries that did not verify: %v", bad)
	}

	// The log: the first delivery took three attempts (two 500s), the rest one. An
	// attempt is recorded once the endpoint's answer is in, just after the endpoint saw
	// the event: wait for the log to have them all.
	var page struct {
		Deliveries []webhookDelivery `json:"deliveries"`
	}
	eventually(t, 10*time.Second, "eu's log to record 5 deliveries delivered", func() bool {
		s.US.Do(t, Call{Method: "GET", Path: "/v1/webhooks/" + endpoints["eu"].ID + "/deliveries"}).JSON(t, &page)
		delivered := 0
		for _, d := range page.Deliveries {
			if d.Status == "delivered" {
				delivered++
			}
		}
		return delivered == 5
	})
	if len(page.Deliveries) != 5 {
		t.Fatalf("eu's log holds %d deliveries, want 5", len(page.Deliveries))
	}
	first := page.Deliveries[len(page.Deliveries)-1]
	if first.Status != "delivered" || first.Attempts != 3 || first.LastStatusCode != 204 {
		t.Fatalf("the first delivery = %+v, want delivered on its third attempt", first)
	}
	for _, d := range page.Deliveries[:len(page.Deliveries)-1] {
		if d.Status != "delivered" || d.Attempts != 1 {
			t.Fatalf("a later delivery = %+v, want delivered at once", d)
		}
	}

	// Asked for again, a delivery arrives again, with the same webhook-id.
	rc.mu.Lock()
	before := len(rc.received["eu"])
	rc.mu.Unlock()
	if resp := s.EU.Do(t, Call{Method: "POST", Path: fmt.Sprintf("/v1/webhooks/%s/deliveries/%d/redeliver", endpoints["eu"].ID, first.ID)}); resp.Status != 202 {
		t.Fatalf("redeliver = %d %s", resp.Status, resp.Body)
	}
	eventually(t, 10*time.Second, "the redelivery", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.received["eu"]) == before+1 && rc.received["eu"][before] == first.EventID
	})

	// Deleted, an endpoint is gone for its gateway, whichever region is asked.
	if resp := s.US.Do(t, Call{Method: "DELETE", Path: "/v1/webhooks/" + endpoints["eu"].ID}); resp.Status != 204 {
		t.Fatalf("DELETE = %d %s", resp.Status, resp.Body)
	}
	if resp := s.EU.Do(t, Call{Method: "GET", Path: "/v1/webhooks/" + endpoints["eu"].ID}); resp.Status != 404 || resp.Code() != "webhook_not_found" {
		t.Fatalf("GET a deleted endpoint = %d %s", resp.Status, resp.Body)
	}
}
