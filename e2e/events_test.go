package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/api/apitest"
	"example.com/wallet/platform/kafkabus"
)

// event is a CloudEvent of a region's stream, as a consumer reads it.
type event struct {
	ID      string          `json:"id"`
	Source  string          `json:"source"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
	key     string
}

// eventSchemas names the schema of each event type's data in api/openapi.yaml.
var eventSchemas = map[string]string{
	"wallet.user.created": "EventUserData", "wallet.deposit.created": "EventEntryData", "wallet.withdrawal.created": "EventEntryData",
	"wallet.transfer.created": "EventTransferData", "wallet.transfer.completed": "EventTransferData", "wallet.transfer.cancelled": "EventTransferData",
	"wallet.transfer.credited": "EventCreditData",
	"wallet.account.frozen":    "EventAccountData", "wallet.account.unfrozen": "EventAccountData", "wallet.account.closed": "EventAccountData",
}

// readEvents reads region's event stream until want events (by distinct id) are there
// or 30 s pass, checks every one against the document's schemas, and returns them in
// the stream's order per key, each id once: delivery is at least once, and a consumer
// drops a redelivery by its id.
func readEvents(t *testing.T, s *Stack, region string, want int) map[string][]event {
	t.Helper()
	validator, err := apitest.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	schemas := validator.Doc().Components.Schemas
	topic := s.TopicPrefix + "." + region + ".events"
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msgs, err := kafkabus.ReadAll(ctx, []string{brokers(t)}, topic)
		cancel()
		byKey, seen := map[string][]event{}, map[string]bool{}
		for _, m := range msgs {
			var doc map[string]any
			if err := json.Unmarshal(m.Value, &doc); err != nil {
				t.Fatalf("%s: %s is not JSON: %v", topic, m.Value, err)
			}
			if err := schemas["Event"].Value.VisitJSON(doc); err != nil {
				t.Fatalf("%s: %s breaks the Event schema: %v", topic, m.Value, err)
			}
			var e event
			_ = json.Unmarshal(m.Value, &e)
			var data any
			_ = json.Unmarshal(e.Data, &data)
			if err := schemas[eventSchemas[e.Type]].Value.VisitJSON(data); err != nil {
				t.Fatalf("%s: the data of %s breaks %s: %v", topic, m.Value, eventSchemas[e.Type], err)
			}
			if ct := header(m.Headers, "content-type"); ct != "application/cloudevents+json" || e.Source != "/wallet/regions/"+region {
				t.Fatalf("%s: %s with content-type %q", topic, m.Value, ct)
			}
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			e.key = string(m.Key)
			byKey[e.key] = append(byKey[e.key], e)
		}
		if err == nil && len(seen) >= want {
			if len(seen) > want {
				t.Fatalf("%s holds %d events, want %d: %v", topic, len(seen), want, byKey)
			}
			return byKey
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d events after 30 s (%v), want %d: %v", topic, len(seen), err, want, byKey)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func header(headers []kafka.Header, key string) string {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestEventsAnnounceEveryChange: every change a gateway cares about is on its region's
// event stream as a CloudEvent the document describes, keyed by its user and in the
// order the user's changes happened: a user's creation, deposits and withdrawals, a
// cross-region transfer created and completed on its sender's stream and credited on
// its receiver's, one cancelled, an account frozen and unfrozen.
func TestEventsAnnounceEveryChange(t *testing.T) {
	t.Parallel()
	s := StartStack(t)
	alice, bob := createUser(t, s.EU, "eu").ID, createUser(t, s.US, "us").ID
	for _, r := range []Response{move(t, s.EU, alice, "deposits", "100", "d1"), move(t, s.US, alice, "withdrawals", "30", "w1")} {
		if r.Status != 201 {
			t.Fatalf("= %d %s", r.Status, r.Body)
		}
	}
	_, completed := send(t, s.EU, alice, bob, "50", "t1", "Prefer", "wait=20")
	nobody := strings.Replace(bob, bob[3:9], "000000", 1) // a well-formed us id no one has
	_, cancelled := send(t, s.EU, alice, nobody, "5", "t2", "Prefer", "wait=20")
	if completed.Status != "completed" || cancelled.Status != "cancelled" || cancelled.Reason != "receiver_not_found" {
		t.Fatalf("transfers = %+v and %+v", completed, cancelled)
	}
	wantUserStatus(t, control(t, s.EU, bob, "freeze"), "frozen")
	wantUserStatus(t, control(t, s.US, bob, "unfreeze"), "active")

	eu := readEvents(t, s, "eu", 7)
	got := func(es []event) string {
		var out []string
		for _, e := range es {
			out = append(out, strings.TrimPrefix(e.Type, "wallet.")+" "+e.Subject+" "+e.ID)
		}
		return strings.Join(out, "\n")
	}
	want := strings.Join([]string{
		fmt.Sprintf("user.created %s %s:created", alice, alice),
		fmt.Sprintf("deposit.created %s %s:1", alice, alice),
		fmt.Sprintf("withdrawal.created %s %s:2", alice, alice),
		fmt.Sprintf("transfer.created %s %s:created", completed.ID, completed.ID),
		fmt.Sprintf("transfer.completed %s %s:completed", completed.ID, completed.ID),
		fmt.Sprintf("transfer.created %s %s:created", cancelled.ID, cancelled.ID),
		fmt.Sprintf("transfer.cancelled %s %s:cancelled", cancelled.ID, cancelled.ID),
	}, "\n")
	if len(eu) != 1 || got(eu[alice]) != want {
		t.Fatalf("eu's stream, by key:\n%s\nwant, keyed by %s:\n%s", got(eu[alice]), alice, want)
	}
	var data struct {
		Currency, Amount, Status, Reason string
	}
	_ = json.Unmarshal(eu[alice][6].Data, &data)
	if data.Currency != "EUR" || data.Amount != "5" || data.Status != "cancelled" || data.Reason != "receiver_not_found" {
		t.Fatalf("the cancelled transfer's data = %s", eu[alice][6].Data)
	}
	us := readEvents(t, s, "us", 4)
	want = strings.Join([]string{
		fmt.Sprintf("user.created %s %s:created", bob, bob),
		fmt.Sprintf("transfer.credited %s %s:credited", completed.ID, completed.ID),
		fmt.Sprintf("account.frozen %s %s:2", bob, bob),
		fmt.Sprintf("account.unfrozen %s %s:3", bob, bob),
	}, "\n")
	if len(us) != 1 || got(us[bob]) != want {
		t.Fatalf("us's stream:\n%s\nwant, keyed by %s:\n%s", got(us[bob]), bob, want)
	}
}

// TestAnEventStreamThatCannotBeWrittenHoldsBackNoTransfer: with region eu's event
// topic gone, its transfers across shards still complete and back-pressure does not
// refuse them (events wait in a relay loop of their own); once the topic is back, every
// event that waited is published.
func TestAnEventStreamThatCannotBeWrittenHoldsBackNoTransfer(t *testing.T) {
	t.Parallel()
	s := StartStack(t, "WALLET_TRANSFERS__MAX_OUTBOX_AGE=1s")
	topic := s.TopicPrefix + ".eu.events"
	createUser(t, s.EU, "eu")
	readEvents(t, s, "eu", 1) // the stream works before it goes
	ctx := context.Background()
	if err := kafkabus.DeleteTopics(ctx, []string{brokers(t)}, topic); err != nil {
		t.Fatal(err)
	}
	from, to := userOnShard(t, s, "eu", "eu0", "100"), userOnShard(t, s, "eu", "eu1", "0")
	want := []string{from + ":created", from + ":1", to + ":created"}
	for i := range 4 {
		_, tr := send(t, s.EU, from, to, "10", fmt.Sprint("while-gone-", i), "Prefer", "wait=20")
		if tr.Status != "completed" {
			t.Fatalf("transfer %d while the event stream is gone = %+v", i, tr)
		}
		want = append(want, tr.ID+":created", tr.ID+":completed", tr.ID+":credited")
		if i == 2 {
			// Events now wait longer than the outbox's bound for transfers: the next
			// transfer must not be refused for them.
			time.Sleep(1500 * time.Millisecond)
		}
	}
	if err := kafkabus.EnsureTopics(ctx, []string{brokers(t)}, 1, topic); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := kafkabus.ReadAll(ctx, []string{brokers(t)}, topic)
		seen := map[string]bool{}
		for _, m := range msgs {
			var e event
			_ = json.Unmarshal(m.Value, &e)
			seen[e.ID] = true
		}
		var missing []string
		for _, id := range want {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		if err == nil && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the topic came back, %d events still missing (%v): %v", len(missing), err, missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
