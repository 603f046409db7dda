package transfers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"example.com/wallet/platform/shard"
)

// SignatureHeader carries a TCC message's signature: hex HMAC-SHA256, under the key
// of the two regions the message travels between, over its destination region, its
// key and its payload. Whoever can write to a TCC topic but holds no key cannot mint a
// credit or fake a refusal; a genuine message copied to another region's topic does
// not verify there; a genuine message repeated where it belongs is a duplicate, which
// every step already absorbs (its barrier).
const SignatureHeader = "wallet-signature"

// ErrBadSignature marks a message whose signature is missing or wrong. It is never
// applied: the consumer dead-letters it, and it stays there (a replay keeps the
// signature it came with).
var ErrBadSignature = errors.New("TCC message without a valid signature")

// Sign returns the signature of a message for region dest under key (the key of dest
// and the region sending it).
func Sign(key []byte, dest string, msgKey, payload []byte) string {
	return hex.EncodeToString(signature(key, dest, msgKey, payload))
}

func signature(key []byte, dest string, msgKey, payload []byte) []byte {
	mac := hmac.New(sha256.New, key)
	for _, field := range [][]byte{[]byte("wallet tcc v1"), []byte(dest), msgKey, payload} {
		// Length-prefixed, so no two different messages share an encoding.
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(field)))
		mac.Write(n[:])
		mac.Write(field)
	}
	return mac.Sum(nil)
}

// senderRegion is the region that sends m: the coordinator's (the transfer's region)
// for credit and cancel, the participant's (the receiver's) for the replies.
func senderRegion(m Message) string {
	if m.Type == MsgCredit || m.Type == MsgCancel {
		region, _ := shard.TransferRegion(m.TransferID)
		return region
	}
	region, _ := shard.UserRegion(m.ToUserID)
	return region
}

// checkSignature verifies a decoded message received by region self under the key it
// shares with the message's sender region.
func (s *Service) checkSignature(m Message, msgKey, payload []byte, sig string) error {
	from := senderRegion(m)
	key := s.messageKeys[from]
	if key == nil {
		return fmt.Errorf("%w: %s of transfer %s from region %s, with which region %s shares no key", ErrBadSignature, m.Type, m.TransferID, from, s.router().Region())
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, signature(key, s.router().Region(), msgKey, payload)) {
		return fmt.Errorf("%w: %s of transfer %s from region %s", ErrBadSignature, m.Type, m.TransferID, from)
	}
	return nil
}
