package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/wallet/platform/events"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/pgdb/pgtest"
)

func TestSignaturesVerify(t *testing.T) {
	secret, other := NewSecret(), NewSecret()
	body := []byte(`{"id":"e1"}`)
	now := time.Now()
	sig, err := Sign(secret, "e1", now.Unix(), body)
	if err != nil {
		t.Fatal(err)
	}
	headers := func(id string, at time.Time, sigs string) http.Header {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, fmt.Sprint(at.Unix()))
		h.Set(HeaderSignature, sigs)
		return h
	}
	if err := Verify(secret, headers("e1", now, sig), body, now); err != nil {
		t.Fatalf("a genuine delivery: %v", err)
	}
	otherSig, _ := Sign(other, "e1", now.Unix(), body)
	if err := Verify(secret, headers("e1", now, otherSig+" "+sig), body, now); err != nil {
		t.Fatalf("two signatures (a rotation), one good: %v", err)
	}
	for name, c := range map[string]struct {
		h    http.Header
		body string
		now  time.Time
	}{
		"another body":         {headers("e1", now, sig), `{"id":"e2"}`, now},
		"another id":           {headers("e2", now, sig), string(body), now},
		"another secret's":     {headers("e1", now, otherSig), string(body), now},
		"six minutes old":      {headers("e1", now, sig), string(body), now.Add(6 * time.Minute)},
		"no timestamp":         {http.Header{HeaderID: {"e1"}, HeaderSignature: {sig}}, string(body), now},
		"no signature":         {headers("e1", now, ""), string(body), now},
		"a v2 of the same mac": {headers("e1", now, "v2"+strings.TrimPrefix(sig, "v1")), string(body), now},
	} {
		if err := Verify(secret, c.h, []byte(c.body), c.now); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
	if _, err := Sign("not-a-secret", "e1", 1, body); !errors.Is(err, errBadSecret) {
		t.Fatalf("Sign with a malformed secret = %v", err)
	}
}

// TestTheDocsShowTheTestedVerify: docs/webhooks.md shows Verify as it is.
func TestTheDocsShowTheTestedVerify(t *testing.T) {
	src, err := os.ReadFile("verify.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	code := string(src[strings.Index(string(src), "func Verify("):])
	if !strings.Contains(string(doc), "```go\n"+code+"```") {
		t.Fatalf("docs/webhooks.md does not show Verify as verify.go has it:\n%s", code)
	}
	if lines := strings.Count(code, "\n"); lines > 20 {
		t.Fatalf("Verify is %d lines; the docs promise a receiver 20", lines)
	}
}

func TestOnlyPublicAddressesAreEndpoints(t *testing.T) {
	for addr, public := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true, "8.8.8.8": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false, "224.0.0.1": false, "198.18.0.1": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "fd12:3456::1": false, "::ffff:10.0.0.1": false,
		"::ffff:127.0.0.1": false, "64:ff9b::a00:1": false, "2002:a00:1::1": false,
	} {
		if got := publicAddress(netip.MustParseAddr(addr)); got != public {
			t.Errorf("publicAddress(%s) = %v, want %v", addr, got, public)
		}
	}
	ctx := context.Background()
	production := addressPolicy{resolver: net.DefaultResolver}
	for _, u := range []string{
		"http://93.184.216.34/hook", "https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook",
		"https://169.254.169.254/latest/meta-data", "https://user:pass@93.184.216.34/", "https://93.184.216.34/#x",
		"/relative", "https://", "ftp://93.184.216.34/", "https://" + strings.Repeat("a", 2100) + ".example/",
	} {
		if _, err := production.check(ctx, u); !errors.Is(err, ErrUnsafeURL) {
			t.Errorf("check(%.60s) = %v, want ErrUnsafeURL", u, err)
		}
	}
	if _, err := production.check(ctx, "https://93.184.216.34/hook"); err != nil {
		t.Errorf("a public address: %v", err)
	}
	if err := production.dialControl("tcp", "127.0.0.1:443", nil); !errors.Is(err, ErrUnsafeURL) {
		t.Errorf("dialing loopback = %v, want ErrUnsafeURL", err)
	}
	if err := production.dialControl("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("dialing a public address: %v", err)
	}
	local := addressPolicy{allowInternal: true}
	if _, err := local.check(ctx, "http://127.0.0.1:8080/hook"); err != nil {
		t.Errorf("the local profile refuses a loopback receiver: %v", err)
	}
}

// receiver is an endpoint of the test: it answers 500 to the first failures
// deliveries, then 204, and keeps what it accepted, verified.
type receiver struct {
	mu       sync.Mutex
	secret   string
	failures int
	got      []string // event ids, in the order accepted
	attempts int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if err := Verify(rc.secret, r.Header, body, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.failures > 0 {
		rc.failures--
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, r.Header.Get(HeaderID))
	w.WriteHeader(http.StatusNoContent)
}

func newService(t *testing.T) (*Service, *pgxpool.Pool) {
	t.Helper()
	byName, _ := pgtest.NewShards(t, "eu0")
	pool := byName["eu0"].Pool
	return NewService(pool, Config{Region: "eu", RetryDelays: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond},
		Timeout: 2 * time.Second, Senders: 8, PerEndpoint: 2, AllowInternal: true, SecretOverlap: time.Hour}, NewMetrics(prometheus.NewRegistry())), pool
}

func event(id, typ, user string, at time.Time) kafkabus.Message {
	return kafkabus.Message{Key: []byte(user), Value: fmt.Appendf(nil, `{"id":%q,"type":%q,"time":%q}`, id, typ, at.Format(time.RFC3339Nano))}
}

// TestDeliveriesArriveInOrderPerUserAndAreRetried runs the consumer's Apply and the
// dispatcher against a receiver that fails its first deliveries: each event arrives,
// verified, once per user in order, after retries the log records; an event of a type
// not subscribed, or from before the endpoint, is not sent; a redelivery is.
func TestDeliveriesArriveInOrderPerUserAndAreRetried(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	rc := &receiver{failures: 2}
	server := httptest.NewServer(rc)
	defer server.Close()
	before := time.Now().Add(-time.Minute)
	ep, err := svc.Register(ctx, "gw", server.URL, []string{events.TypeDepositCreated, events.TypeTransferCompleted}, "test")
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = ep.Secret
	rc.mu.Unlock()
	if _, err := svc.Register(ctx, "gw", server.URL, []string{"wallet.nothing"}, ""); !errors.Is(err, ErrUnknownEventType) {
		t.Fatalf("an unknown type = %v", err)
	}

	now := time.Now()
	msgs := []kafkabus.Message{
		event("a1", events.TypeDepositCreated, "alice", now), event("b1", events.TypeDepositCreated, "bob", now),
		event("a2", events.TypeTransferCompleted, "alice", now), event("a3", events.TypeUserCreated, "alice", now),
		event("old", events.TypeDepositCreated, "alice", before), event("a4", events.TypeDepositCreated, "alice", now),
	}
	batch := decodeAll(t, svc, msgs...)
	if _, _, err := svc.Decode(kafkabus.Message{Value: []byte("{")}); !IsPermanent(err) {
		t.Fatalf("a malformed event = %v, want permanent", err)
	}
	// Read twice, as at least once allows: one delivery each.
	for range 2 {
		if err := svc.Apply(ctx, Lane, batch); err != nil {
			t.Fatal(err)
		}
	}
	dispatch(t, svc)

	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		got := strings.Join(rc.got, " ")
		rc.mu.Unlock()
		alice := strings.Join(filter(strings.Fields(got), "a"), " ")
		if len(strings.Fields(got)) == 4 {
			if alice != "a1 a2 a4" || !strings.Contains(got, "b1") {
				t.Fatalf("received %q; want alice's a1 a2 a4 in order, and bob's b1", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %q after 20 s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An attempt is recorded once the endpoint's answer is in, just after the endpoint
	// saw the event: wait until the log has every delivery's.
	var page DeliveryPage
	for deadline := time.Now().Add(10 * time.Second); ; {
		if page, err = svc.Deliveries(ctx, "gw", ep.ID, 0, 10); err != nil || len(page.Deliveries) != 4 {
			t.Fatalf("the log = %+v, %v", page, err)
		}
		recorded := 0
		for _, d := range page.Deliveries {
			if d.Status == StatusDelivered {
				recorded++
			}
		}
		if recorded == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log records %d of 4 deliveries delivered: %+v", recorded, page.Deliveries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	attempts := 0
	for _, d := range page.Deliveries {
		if d.DeliveredAt.IsZero() || d.LastStatusCode != http.StatusNoContent {
			t.Fatalf("a delivery = %+v", d)
		}
		attempts += d.Attempts
	}
	if attempts != 6 {
		t.Fatalf("%d attempts recorded, want 6 (4 deliveries, 2 failed before)", attempts)
	}
	if _, err := svc.Deliveries(ctx, "other-gateway", ep.ID, 0, 10); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("another gateway's log = %v", err)
	}

	// Redelivered on request, with the rotated secret (the old one signs beside it).
	rotated, err := svc.RotateSecret(ctx, "gw", ep.ID)
	if err != nil || rotated.Secret == ep.Secret {
		t.Fatalf("rotate = %+v, %v", rotated, err)
	}
	if _, err := svc.Redeliver(ctx, "gw", ep.ID, page.Deliveries[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeliver(ctx, "gw", ep.ID, 1<<40); !errors.Is(err, ErrDeliveryNotFound) {
		t.Fatalf("an unknown delivery = %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redelivery did not arrive: %d received", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The redelivery's attempt is recorded once its answer is in.
	for deadline := time.Now().Add(10 * time.Second); ; {
		page, err := svc.Deliveries(ctx, "gw", ep.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if page.Deliveries[0].Status == StatusDelivered && page.Deliveries[0].Attempts == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the redelivery is not recorded: %+v", page.Deliveries[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The log keeps ended deliveries for its retention: none ended before now, all
	// four delivered ones (the redelivered one included) before a minute from now.
	if n, err := svc.forgetEnded(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("forgetting deliveries ended an hour ago = %d, %v; want none", n, err)
	}
	if n, err := svc.forgetEnded(ctx, time.Now().Add(time.Minute)); err != nil || n != 4 {
		t.Fatalf("forgetting every ended delivery = %d, %v; want 4", n, err)
	}
	if err := svc.Delete(ctx, "gw", ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, "gw", ep.ID); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("a deleted endpoint = %v", err)
	}
}

// dispatch runs svc's dispatcher until the test ends.
func dispatch(t *testing.T, svc *Service) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.RunDispatcher(ctx, slog.New(slog.DiscardHandler)); close(done) }()
	t.Cleanup(func() { stop(); <-done })
}

// decodeAll decodes messages of the event stream as the consumer would.
func decodeAll(t *testing.T, svc *Service, msgs ...kafkabus.Message) []Event {
	t.Helper()
	var out []Event
	for _, m := range msgs {
		e, lane, err := svc.Decode(m)
		if err != nil || lane != Lane {
			t.Fatalf("Decode(%s) = %v, lane %q", m.Value, err, lane)
		}
		out = append(out, e)
	}
	return out
}

// filter keeps the ids that start with prefix.
func filter(ids []string, prefix string) []string {
	var out []string
	for _, id := range ids {
		if strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	return out
}

// TestAFailingDeliveryIsGivenUpAfterTheSchedule: a receiver that always fails gets
// one attempt plus one per delay, then the delivery is failed and the next event of
// the same user goes.
func TestAFailingDeliveryIsGivenUpAfterTheSchedule(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	rc := &receiver{failures: 3}
	server := httptest.NewServer(rc)
	defer server.Close()
	ep, err := svc.Register(ctx, "gw", server.URL, []string{events.TypeDepositCreated}, "")
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	now := time.Now()
	batch := decodeAll(t, svc, event("x1", events.TypeDepositCreated, "u", now), event("x2", events.TypeDepositCreated, "u", now))
	if err := svc.Apply(ctx, Lane, batch); err != nil {
		t.Fatal(err)
	}
	dispatch(t, svc)
	for deadline := time.Now().Add(20 * time.Second); ; {
		rc.mu.Lock()
		got := strings.Join(rc.got, " ")
		rc.mu.Unlock()
		if got == "x2" {
			break
		}
		if got != "" || time.Now().After(deadline) {
			t.Fatalf("received %q, want x2 alone (x1 given up after 3 attempts)", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	page, err := svc.Deliveries(ctx, "gw", ep.ID, 0, 10)
	if err != nil || len(page.Deliveries) != 2 {
		t.Fatalf("the log = %+v, %v", page, err)
	}
	x1 := page.Deliveries[1]
	if x1.EventID != "x1" || x1.Status != StatusFailed || x1.Attempts != 3 || x1.LastStatusCode != 500 || x1.LastError != "HTTP 500" {
		t.Fatalf("x1 = %+v, want failed after 3 attempts answered 500", x1)
	}
}

// TestADeliveryNeverConnectsToAnInternalAddress: an endpoint whose name resolves to an
// internal address after it was registered (here written straight to the table, as
// if the name had been re-pointed) gets no connection: the dial itself is refused,
// and the attempt says why.
func TestADeliveryNeverConnectsToAnInternalAddress(t *testing.T) {
	byName, _ := pgtest.NewShards(t, "eu0")
	pool := byName["eu0"].Pool
	svc := NewService(pool, Config{Region: "eu", RetryDelays: []time.Duration{time.Hour}, Timeout: 2 * time.Second,
		Senders: 4, PerEndpoint: 2, SecretOverlap: time.Hour}, NewMetrics(prometheus.NewRegistry()))
	ctx := context.Background()
	var hits int
	var mu sync.Mutex
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer server.Close()
	id := "eu_wh_01JD60A1B2C3D4E5F6G7H8J9K0"
	if _, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (id, gateway, url, event_types, secret, created_at, updated_at)
		VALUES ($1, 'gw', $2, $3, $4, now() - interval '1 hour', now())`, id, server.URL, []string{events.TypeDepositCreated}, NewSecret()); err != nil {
		t.Fatal(err)
	}
	if err := svc.Apply(ctx, Lane, decodeAll(t, svc, event("e1", events.TypeDepositCreated, "u", time.Now()))); err != nil {
		t.Fatal(err)
	}
	dispatch(t, svc)
	for deadline := time.Now().Add(10 * time.Second); ; {
		page, err := svc.Deliveries(ctx, "gw", id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := page.Deliveries[0]; d.Attempts == 1 && d.LastError != "" {
			if !strings.Contains(d.LastError, "internal address") || d.LastStatusCode != 0 || d.Status != StatusPending {
				t.Fatalf("the attempt = %+v, want refused for its internal address", d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt recorded: %+v", page.Deliveries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Fatalf("the internal endpoint got %d requests", hits)
	}
}

// TestASlowEndpointDelaysOnlyItself: an endpoint that holds every request until its
// timeout takes at most its share of the senders; another endpoint's deliveries go
// out meanwhile.
func TestASlowEndpointDelaysOnlyItself(t *testing.T) {
	byName, _ := pgtest.NewShards(t, "eu0")
	// Attempts may last a minute: the slow endpoint holds its senders all the while.
	svc := NewService(byName["eu0"].Pool, Config{Region: "eu", RetryDelays: []time.Duration{time.Hour}, Timeout: time.Minute,
		Senders: 8, PerEndpoint: 2, AllowInternal: true, SecretOverlap: time.Hour}, NewMetrics(prometheus.NewRegistry()))
	ctx := context.Background()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	rc := &receiver{}
	fast := httptest.NewServer(rc)
	defer fast.Close()
	if _, err := svc.Register(ctx, "gw", slow.URL, []string{events.TypeDepositCreated}, "slow"); err != nil {
		t.Fatal(err)
	}
	ep, err := svc.Register(ctx, "gw", fast.URL, []string{events.TypeDepositCreated}, "fast")
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = ep.Secret
	rc.mu.Unlock()
	// Twenty users, one event each: the slow endpoint could take every sender if
	// nothing bounded it.
	var msgs []kafkabus.Message
	now := time.Now()
	for i := range 20 {
		msgs = append(msgs, event(fmt.Sprint("s", i), events.TypeDepositCreated, fmt.Sprint("user", i), now))
	}
	if err := svc.Apply(ctx, Lane, decodeAll(t, svc, msgs...)); err != nil {
		t.Fatal(err)
	}
	dispatch(t, svc)
	// The slow endpoint answers nothing until the test ends; the fast endpoint's
	// twenty deliveries all arrive meanwhile (were the slow one to hold every sender,
	// none would before its minute-long attempts ran out).
	eventually := time.Now().Add(30 * time.Second)
	for {
		rc.mu.Lock()
		n := len(rc.got)
		rc.mu.Unlock()
		if n == 20 {
			break
		}
		if time.Now().After(eventually) {
			t.Fatalf("the fast endpoint got %d of 20 deliveries while the slow one held its senders", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
