package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"example.com/wallet/modules/webhooks/internal/webhooksdb"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/pgdb"
)

// Event is an event of the region's stream, as the webhooks keep it: its id, type
// and time decide who gets it, its key (the user) its queue, and its bytes are the
// body every endpoint receives.
type Event struct {
	ID, Type, Key string
	Time          time.Time
	Payload       []byte
}

// ErrMalformedEvent marks an event the webhooks cannot read: it can never be
// delivered, so the consumer dead-letters it.
var ErrMalformedEvent = errors.New("webhooks: malformed event")

// Lane is the one lane of the webhook consumer: its deliveries are written to one
// database, the webhook shard.
const Lane = "webhooks"

// Decode reads a message of the event stream for the webhook consumer.
func (s *Service) Decode(m kafkabus.Message) (Event, string, error) {
	var head struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Time string `json:"time"`
	}
	if err := json.Unmarshal(m.Value, &head); err != nil || head.ID == "" || head.Type == "" {
		return Event{}, "", fmt.Errorf("%w: %s", ErrMalformedEvent, m.Value)
	}
	at, err := time.Parse(time.RFC3339Nano, head.Time)
	if err != nil {
		return Event{}, "", fmt.Errorf("%w: time %q", ErrMalformedEvent, head.Time)
	}
	return Event{ID: head.ID, Type: head.Type, Key: string(m.Key), Time: at, Payload: m.Value}, Lane, nil
}

// IsPermanent reports the errors of Apply that retrying cannot cure.
func IsPermanent(err error) bool { return errors.Is(err, ErrMalformedEvent) }

// Apply writes a delivery of each event of batch to every endpoint subscribed to its
// type and registered before it happened, in one statement (so in one transaction,
// and one round trip: the consumer reads every event of the region, and most regions
// have few endpoints). An event read again (the stream is read at least once) adds
// nothing: a delivery is unique per endpoint and event.
func (s *Service) Apply(ctx context.Context, _ string, batch []Event) error {
	p := webhooksdb.InsertDeliveriesParams{Now: time.Now().UTC()}
	for _, ev := range batch {
		p.EventIds = append(p.EventIds, ev.ID)
		p.EventTypes = append(p.EventTypes, ev.Type)
		p.OrderingKeys = append(p.OrderingKeys, ev.Key)
		p.EventTimes = append(p.EventTimes, ev.Time)
		p.Payloads = append(p.Payloads, ev.Payload)
	}
	return pgdb.InterpretError(s.q.InsertDeliveries(ctx, s.pool, p), nil)
}
