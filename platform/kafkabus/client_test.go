package kafkabus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// secureBroker is the test broker's SASL_SSL listener and the CA that signed its
// certificate (scripts/kafka.sh makes both; scripts/test.sh exports them).
func secureBroker(t *testing.T) (addr, caFile string) {
	t.Helper()
	addr, caFile = os.Getenv("KAFKA_SECURE_BROKERS"), os.Getenv("KAFKA_CA_FILE")
	if addr == "" || caFile == "" {
		t.Fatal("KAFKA_SECURE_BROKERS and KAFKA_CA_FILE are not set: run the tests with `make test`, " +
			"or export 127.0.0.1:9094 and .cache/kafka/tls/ca.pem after `scripts/kafka.sh up`")
	}
	return addr, caFile
}

// TestSCRAMOverTLS: a client built from a region's Security reaches a broker that
// demands TLS and SCRAM, and everything the wallet does with Kafka works through it
// (ping, topics, acks=all writes, group reads). A wrong password, or a broker whose
// certificate the CA did not sign, is refused.
func TestSCRAMOverTLS(t *testing.T) {
	plain := testBrokers(t)
	secure, caFile := secureBroker(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	user, password := "wallet-test-"+hex.EncodeToString(b[:4]), hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := (Client{}).SetSCRAMPassword(ctx, plain, user, password); err != nil {
		t.Fatal(err)
	}

	client, err := NewClient(Security{TLS: true, CAFile: caFile, Mechanism: "SCRAM-SHA-512", Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	brokers := []string{secure}
	// A new SCRAM credential reaches the broker through the metadata log: allow it a
	// moment to be known (the first attempts may be refused).
	deadline := time.Now().Add(15 * time.Second)
	for err = client.Ping(ctx, brokers); err != nil && time.Now().Before(deadline); err = client.Ping(ctx, brokers) {
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("ping over TLS and SCRAM: %v", err)
	}

	topic := uniqueName(t, "topic")
	if err := client.EnsureTopics(ctx, brokers, 1, topic); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, plain, topic)
	w := client.NewWriter(brokers)
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("over TLS")}); err != nil {
		t.Fatalf("write over TLS and SCRAM: %v", err)
	}
	r := client.NewGroupReader(brokers, uniqueName(t, "group"), topic, nil)
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil || string(m.Value) != "over TLS" {
		t.Fatalf("group read over TLS and SCRAM = %q, %v", m.Value, err)
	}

	wrong, _ := NewClient(Security{TLS: true, CAFile: caFile, Mechanism: "SCRAM-SHA-512", Username: user, Password: "not the password"})
	if err := wrong.Ping(ctx, brokers); err == nil {
		t.Error("a wrong password was accepted")
	}
	untrusted, _ := NewClient(Security{TLS: true, Mechanism: "SCRAM-SHA-512", Username: user, Password: password})
	if err := untrusted.Ping(ctx, brokers); err == nil {
		t.Error("a broker certificate from an unknown CA was accepted")
	}
	if err := (Client{}).Ping(ctx, brokers); err == nil {
		t.Error("a plaintext client was accepted by the TLS listener")
	}
}

// TestNewClientRefusesWhatItCannotUse: a mechanism it does not speak, or a CA file
// that holds no certificate, is an error at start, not at the first message.
func TestNewClientRefusesWhatItCannotUse(t *testing.T) {
	if _, err := NewClient(Security{Mechanism: "PLAIN", Username: "u", Password: "p"}); err == nil {
		t.Error("mechanism PLAIN was accepted")
	}
	empty := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(Security{TLS: true, CAFile: empty}); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
	if _, err := NewClient(Security{TLS: true, CAFile: t.TempDir() + "/missing.pem"}); err == nil {
		t.Error("a missing CA file was accepted")
	}
	c, err := NewClient(Security{})
	if err != nil || c.TLS != nil || c.SASL != nil {
		t.Errorf("the zero Security = %+v, %v; want a plaintext client", c, err)
	}
}
