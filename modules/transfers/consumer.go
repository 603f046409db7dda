package transfers

import (
	"context"
	"errors"

	"github.com/segmentio/kafka-go"

	"example.com/wallet/platform/pgdb"
)

// HandleMessage applies one message from the region's TCC topic: credits and cancels
// as the participant, replies as the coordinator. It is the kafkabus handler.
func (s *Service) HandleMessage(ctx context.Context, km kafka.Message) error {
	m, amount, err := DecodeMessage(km.Value)
	if err != nil {
		return err
	}
	switch m.Type {
	case MsgCredit, MsgCancel:
		return s.HandleCreditOrCancel(ctx, m, amount)
	default:
		return s.HandleReply(ctx, m)
	}
}

// IsTransient says which handler failures to retry for as long as they last (a shard
// or the network is away) rather than dead-letter after a bounded number of tries.
func IsTransient(err error) bool {
	if errors.Is(err, ErrMalformedMessage) || errors.Is(err, ErrProtocolViolation) {
		return false
	}
	return pgdb.IsUnavailable(err)
}
