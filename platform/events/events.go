// Package events is the wallet's event stream: every change a gateway cares about
// (a user created, a deposit, a withdrawal, a transfer created, completed, cancelled
// or credited to its receiver, an account frozen, unfrozen or closed), as a CloudEvents 1.0 JSON
// document. A module writes the events of a transaction to the outbox
// (platform/outbox) in that transaction, one row for all of them (Outbox), so an event
// exists exactly when its change does; the relay unpacks the row (Unpack) and
// publishes each event to the region's topic <prefix>.<region>.events, keyed by the
// user it concerns, so one user's events stay in order.
//
// Delivery is at least once: a relay that dies between publishing and recording it
// publishes again. Every event's id is derived from the change itself (a user's
// ledger entry, a transfer's status), never drawn at random, so a consumer that keeps
// the ids it has handled drops a redelivery by its id alone.
//
// The data of every type is described in api/openapi.yaml (components/schemas,
// Event*), which the tests validate every published event against.
package events

import (
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"example.com/wallet/platform/outbox"
)

// Event types. Each is "wallet." + what changed + "." + what happened to it.
const (
	TypeUserCreated       = "wallet.user.created"
	TypeDepositCreated    = "wallet.deposit.created"
	TypeWithdrawalCreated = "wallet.withdrawal.created"
	TypeTransferCreated   = "wallet.transfer.created"
	TypeTransferCompleted = "wallet.transfer.completed"
	TypeTransferCancelled = "wallet.transfer.cancelled"
	// TypeTransferCredited is on the receiver's region's stream, keyed by the
	// receiver: the money of a transfer reached its balance.
	TypeTransferCredited = "wallet.transfer.credited"
	TypeAccountFrozen    = "wallet.account.frozen"
	TypeAccountUnfrozen  = "wallet.account.unfrozen"
	TypeAccountClosed    = "wallet.account.closed"
)

// Types lists every event type, in the order above: what a webhook may subscribe to.
var Types = []string{TypeUserCreated, TypeDepositCreated, TypeWithdrawalCreated, TypeTransferCreated, TypeTransferCompleted,
	TypeTransferCancelled, TypeTransferCredited, TypeAccountFrozen, TypeAccountUnfrozen, TypeAccountClosed}

// outboxType is the type of the outbox row that holds the events of one transaction.
const outboxType = "wallet.events"

// Destination is the outbox destination of events: the relay publishes them in a loop
// of their own, apart from the TCC messages of every region, so an event stream that
// cannot be written (its topic missing, its cluster away) never holds back a
// transfer, and back-pressure on transfers never counts events. It cannot be a
// region's name (those are lowercase letters).
const Destination = "_events"

// IsEvent reports whether an outbox message of type messageType holds events (for the
// region's event stream, see Unpack) rather than a TCC message.
func IsEvent(messageType string) bool { return messageType == outboxType }

// Event is one change, to be wrapped as a CloudEvent.
type Event struct {
	// ID is unique among the region's events and the same every time the same change
	// is announced (see the package comment).
	ID   string
	Type string
	// Subject is what the event is about: a user id, or a transfer id.
	Subject string
	// UserID is the user whose events this one is ordered with: the topic's key.
	UserID string
	Time   time.Time
	// Data is the event's data, encoded as JSON.
	Data any
	// Trace is the span of the step that made the change, if any: the event's
	// publish joins its trace.
	Trace trace.SpanContext
}

// cloudEvent is the CloudEvents 1.0 JSON format of an event.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// Source is the CloudEvents source of region's events.
func Source(region string) string { return "/wallet/regions/" + region }

// Outbox packs evs, the events of one transaction of region, into the outbox message
// the relay publishes to region's event stream: one row to insert, publish and clear
// however many events the transaction announces (group commit announces one per
// request), which the relay unpacks (Unpack) into one Kafka message per event, in
// order. No events, no message. The row carries the trace of the first event that has
// one.
func Outbox(region string, evs []Event) ([]outbox.Message, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	rows := make([]packed, len(evs))
	var sc trace.SpanContext
	for i, ev := range evs {
		doc, err := encode(region, ev)
		if err != nil {
			return nil, err
		}
		rows[i] = packed{Key: ev.UserID, Event: doc}
		if !sc.IsValid() {
			sc = ev.Trace
		}
	}
	payload, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	return []outbox.Message{{Region: Destination, Key: evs[0].UserID, Type: outboxType, Payload: payload, Trace: sc}}, nil
}

// packed is one event in an outbox row: its key on the topic and its document.
type packed struct {
	Key   string          `json:"key"`
	Event json.RawMessage `json:"event"`
}

// Published is one event as the relay publishes it: its key (the user it concerns) and
// its CloudEvents document.
type Published struct {
	Key   string
	Value []byte
}

// Unpack reads the events an outbox row of type IsEvent holds, in order.
func Unpack(payload []byte) ([]Published, error) {
	var rows []packed
	if err := json.Unmarshal(payload, &rows); err != nil {
		return nil, fmt.Errorf("events: an outbox row of events: %w", err)
	}
	out := make([]Published, len(rows))
	for i, r := range rows {
		out[i] = Published{Key: r.Key, Value: r.Event}
	}
	return out, nil
}

// encode is ev as region's CloudEvents 1.0 JSON document.
func encode(region string, ev Event) ([]byte, error) {
	data, err := json.Marshal(ev.Data)
	if err != nil {
		return nil, fmt.Errorf("events: %s %s: %w", ev.Type, ev.ID, err)
	}
	doc, err := json.Marshal(cloudEvent{
		SpecVersion: "1.0", ID: ev.ID, Source: Source(region), Type: ev.Type,
		Time: ev.Time.UTC().Format(time.RFC3339Nano), Subject: ev.Subject, DataContentType: "application/json", Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("events: %s %s: %w", ev.Type, ev.ID, err)
	}
	return doc, nil
}

// The data of each event type: the event stream's wire format, described by the
// Event* schemas of api/openapi.yaml. Amounts are strings of digits in the currency's
// minor units, times RFC 3339 in UTC.

// UserData is the data of TypeUserCreated.
type UserData struct {
	UserID          string `json:"user_id"`
	Region          string `json:"region"`
	DefaultCurrency string `json:"default_currency"`
	CreatedAt       string `json:"created_at"`
}

// EntryData is the data of TypeDepositCreated and TypeWithdrawalCreated: the user's
// ledger entry and the balance after it.
type EntryData struct {
	UserID       string            `json:"user_id"`
	Seq          int64             `json:"seq"`
	Currency     string            `json:"currency"`
	Amount       string            `json:"amount"`
	BalanceAfter string            `json:"balance_after"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	CreatedAt    string            `json:"created_at"`
}

// AccountData is the data of TypeAccountFrozen, TypeAccountUnfrozen and
// TypeAccountClosed: the account's new status and the ledger entry recording it.
type AccountData struct {
	UserID    string `json:"user_id"`
	Status    string `json:"status"`
	Seq       int64  `json:"seq"`
	CreatedAt string `json:"created_at"`
}

// TransferData is the data of TypeTransferCreated, TypeTransferCompleted and
// TypeTransferCancelled: the transfer as its sender's region then knows it.
type TransferData struct {
	ID         string            `json:"id"`
	FromUserID string            `json:"from_user_id"`
	ToUserID   string            `json:"to_user_id"`
	Currency   string            `json:"currency"`
	Amount     string            `json:"amount"`
	Status     string            `json:"status"`
	Reason     string            `json:"reason,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// RefundOf names the transfer a refund refunds; absent on other transfers.
	RefundOf  string `json:"refund_of,omitempty"`
	CreatedAt string `json:"created_at"`
}

// CreditData is the data of TypeTransferCredited: the transfer and the receiver's
// ledger entry that credited it.
type CreditData struct {
	TransferID   string `json:"transfer_id"`
	FromUserID   string `json:"from_user_id"`
	ToUserID     string `json:"to_user_id"`
	Currency     string `json:"currency"`
	Amount       string `json:"amount"`
	Seq          int64  `json:"seq"`
	BalanceAfter string `json:"balance_after"`
	// RefundOf names the transfer a refund refunds; absent on other transfers.
	RefundOf  string `json:"refund_of,omitempty"`
	CreatedAt string `json:"created_at"`
}

// Timestamp formats t as every event's times are.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
