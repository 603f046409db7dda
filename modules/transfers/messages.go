package transfers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"example.com/wallet/platform/currency"
	"example.com/wallet/platform/money"
	"example.com/wallet/platform/shard"
)

// Message is every TCC message, in both directions. Each carries the whole transfer
// (ids and amount), so any step can be performed from the message alone; the key on
// the topic is the transfer id, which keeps one transfer's messages in order.
type Message struct {
	Type       string `json:"type"`
	TransferID string `json:"transfer_id"`
	FromUserID string `json:"from_user_id"`
	ToUserID   string `json:"to_user_id"`
	// Currency of the transfer. Messages written before currencies have none: they
	// are in the one unit every region then held, each region's default.
	Currency string            `json:"currency,omitempty"`
	Amount   string            `json:"amount"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	// RefundOf, on a refund's credit, names the transfer it refunds: the receiver's
	// shard records the refund against it (the original transfer shows its refunds).
	RefundOf string `json:"refund_of,omitempty"`
}

// ErrMalformedMessage wraps every reason a message cannot be decoded. Such a message
// can never succeed: it is dead-lettered.
var ErrMalformedMessage = errors.New("malformed TCC message")

// DecodeMessage parses and checks a message strictly: known type, well-formed ids of
// the right kind, a positive amount, and the transfer's region matching the sender's.
func DecodeMessage(b []byte) (Message, money.Amount, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, money.Amount{}, fmt.Errorf("%w: %v", ErrMalformedMessage, err)
	}
	if dec.More() {
		return Message{}, money.Amount{}, fmt.Errorf("%w: trailing data", ErrMalformedMessage)
	}
	switch m.Type {
	case MsgCredit, MsgCancel, MsgCredited, MsgRefused, MsgCancelled:
	default:
		return Message{}, money.Amount{}, fmt.Errorf("%w: unknown type %q", ErrMalformedMessage, m.Type)
	}
	txRegion, err := shard.TransferRegion(m.TransferID)
	if err != nil {
		return Message{}, money.Amount{}, fmt.Errorf("%w: transfer_id %q", ErrMalformedMessage, m.TransferID)
	}
	fromRegion, err := shard.UserRegion(m.FromUserID)
	if err != nil || fromRegion != txRegion {
		return Message{}, money.Amount{}, fmt.Errorf("%w: from_user_id %q", ErrMalformedMessage, m.FromUserID)
	}
	if _, err := shard.UserRegion(m.ToUserID); err != nil {
		return Message{}, money.Amount{}, fmt.Errorf("%w: to_user_id %q", ErrMalformedMessage, m.ToUserID)
	}
	if m.Currency != "" && !currency.ValidCode(m.Currency) {
		return Message{}, money.Amount{}, fmt.Errorf("%w: currency %q", ErrMalformedMessage, m.Currency)
	}
	if m.RefundOf != "" {
		if _, err := shard.TransferRegion(m.RefundOf); err != nil {
			return Message{}, money.Amount{}, fmt.Errorf("%w: refund_of %q", ErrMalformedMessage, m.RefundOf)
		}
	}
	amount, err := money.ParsePositive(m.Amount)
	if err != nil {
		return Message{}, money.Amount{}, fmt.Errorf("%w: amount: %v", ErrMalformedMessage, err)
	}
	return m, amount, nil
}

func (m Message) encode() []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings and a map of strings
	}
	return b
}
