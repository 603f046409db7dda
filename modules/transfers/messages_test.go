package transfers

import (
	"errors"
	"testing"

	"example.com/wallet/platform/shard"
)

func TestDecodeMessage(t *testing.T) {
	from, to := shard.NewUserID("eu"), shard.NewUserID("us")
	id := shard.NewTransferID("eu", from, 256)
	good := Message{Type: MsgCredit, TransferID: id, FromUserID: from, ToUserID: to, Amount: "42", Metadata: map[string]string{"a": "b"}}
	m, amount, err := DecodeMessage(good.encode())
	if err != nil || m.TransferID != id || amount.String() != "42" || m.Metadata["a"] != "b" {
		t.Fatalf("round trip = %+v %s %v", m, amount, err)
	}
	refund := good
	refund.RefundOf = shard.NewTransferID("us", to, 256)
	if m, _, err := DecodeMessage(refund.encode()); err != nil || m.RefundOf != refund.RefundOf {
		t.Fatalf("a refund's credit = %+v, %v", m, err)
	}
	bad := []string{
		``, `{}`, `not json`, `{"type":"credit"}`,
		`{"type":"explode","transfer_id":"` + id + `","from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"1"}`,
		`{"type":"credit","transfer_id":"` + id + `","from_user_id":"` + to + `","to_user_id":"` + from + `","amount":"1"}`,
		`{"type":"credit","transfer_id":"` + id + `","from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"0"}`,
		`{"type":"credit","transfer_id":"` + id + `","from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"1","extra":1}`,
		`{"type":"credit","transfer_id":"` + id + `","from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"1"} {}`,
		`{"type":"credit","transfer_id":"` + id + `","from_user_id":"` + from + `","to_user_id":"` + to + `","amount":"1","refund_of":"` + from + `"}`,
	}
	for _, b := range bad {
		if _, _, err := DecodeMessage([]byte(b)); !errors.Is(err, ErrMalformedMessage) {
			t.Errorf("DecodeMessage(%s) = %v, want ErrMalformedMessage", b, err)
		}
	}
}

// FuzzDecodeMessage: no input panics, and an accepted message encodes back to one
// that decodes the same.
func FuzzDecodeMessage(f *testing.F) {
	from, to := shard.NewUserID("eu"), shard.NewUserID("us")
	id := shard.NewTransferID("eu", from, 256)
	f.Add(string(Message{Type: MsgCredit, TransferID: id, FromUserID: from, ToUserID: to, Amount: "1"}.encode()))
	f.Add(`{"type":"cancel"}`)
	f.Add(`\x00`)
	f.Fuzz(func(t *testing.T, s string) {
		m, amount, err := DecodeMessage([]byte(s))
		if err != nil {
			return
		}
		again, amount2, err := DecodeMessage(m.encode())
		if err != nil || again.TransferID != m.TransferID || amount2.Cmp(amount) != 0 {
			t.Fatalf("re-encoding %q broke it: %v", s, err)
		}
	})
}
