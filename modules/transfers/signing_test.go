package transfers

import (
	"errors"
	"testing"

	"example.com/wallet/platform/config"
	"example.com/wallet/platform/kafkabus"
	"example.com/wallet/platform/pgdb"
	"example.com/wallet/platform/shard"
)

// TestInboundMessagesMustBeSignedByTheirSender: region us accepts a credit from eu
// only under the eu-us key and a reply from its own shards only under its own key;
// unsigned, mis-signed, re-addressed or altered messages are refused as
// ErrBadSignature, which is permanent (dead-lettered, never retried).
func TestInboundMessagesMustBeSignedByTheirSender(t *testing.T) {
	cfg := &config.Config{Region: "us", Buckets: 256, Peers: map[string]config.Peer{"eu": {}},
		ShardList: []config.ShardSpec{{Name: "us0", FirstBucket: 0, LastBucket: 255}}}
	euUS, usOwn, euAP := []byte("eu-us key"), []byte("us key"), []byte("eu-ap key")
	svc := &Service{shards: pgdb.NewShards(shard.NewRouter(cfg), map[string]*pgdb.Shard{"us0": {Name: "us0"}}), messageKeys: map[string][]byte{"eu": euUS, "us": usOwn}}

	euUser, usUser, usOther := shard.NewUserID("eu"), shard.NewUserID("us"), shard.NewUserID("us")
	credit := Message{Type: MsgCredit, TransferID: shard.NewTransferID("eu", euUser, 256), FromUserID: euUser, ToUserID: usUser, Amount: "5"}
	// A reply to a transfer of us between two users of us (their shards talk through us's topic).
	local := Message{Type: MsgCredited, TransferID: shard.NewTransferID("us", usOther, 256), FromUserID: usOther, ToUserID: usUser, Amount: "5"}

	msg := func(m Message, sig string) kafkabus.Message {
		km := kafkabus.Message{Key: []byte(m.TransferID), Value: m.encode()}
		if sig != "" {
			km.Headers = map[string]string{SignatureHeader: sig}
		}
		return km
	}
	sign := func(key []byte, dest string, m Message) string {
		return Sign(key, dest, []byte(m.TransferID), m.encode())
	}
	altered := credit
	altered.Amount = "5000"

	cases := []struct {
		name string
		km   kafkabus.Message
		ok   bool
	}{
		{"credit signed by eu for us", msg(credit, sign(euUS, "us", credit)), true},
		{"reply signed by us's own key", msg(local, sign(usOwn, "us", local)), true},
		{"unsigned credit", msg(credit, ""), false},
		{"credit under another pair's key", msg(credit, sign(euAP, "us", credit)), false},
		{"credit signed for another region", msg(credit, sign(euUS, "ap", credit)), false},
		{"credit under us's own key", msg(credit, sign(usOwn, "us", credit)), false},
		{"reply under the eu-us key", msg(local, sign(euUS, "us", local)), false},
		{"credit with its amount changed", msg(altered, sign(euUS, "us", credit)), false},
		{"signature that is not hex", msg(credit, "zz"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := svc.DecodeInbound(c.km)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && (!errors.Is(err, ErrBadSignature) || !IsPermanent(err)) {
				t.Fatalf("= %v, want a permanent ErrBadSignature", err)
			}
		})
	}
}
