package kafkabus

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Client is how this process reaches brokers: over TLS or not, with a SASL identity or
// none. Its zero value is plaintext without authentication, which is what the local
// stack and the tests use; production sets both (see Security). Every function of
// this package has a method of the same name on Client; the functions use the zero
// Client.
type Client struct {
	// TLS, when not nil, encrypts every connection and authenticates the brokers.
	TLS *tls.Config
	// SASL, when not nil, authenticates this process to the brokers.
	SASL sasl.Mechanism
}

// Security is how a region's configuration describes its connections to Kafka.
type Security struct {
	// TLS turns TLS on; CAFile (PEM) replaces the system's roots for checking the
	// brokers' certificates, and ServerName the name they are checked against.
	TLS        bool
	CAFile     string
	ServerName string
	// Mechanism is "" (no SASL), SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism          string
	Username, Password string
}

// NewClient builds the client Security describes. Its error names what is wrong (an
// unreadable CA file, an unknown mechanism).
func NewClient(s Security) (Client, error) {
	var c Client
	if s.TLS {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.ServerName}
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return Client{}, fmt.Errorf("kafka TLS CA file: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				return Client{}, fmt.Errorf("kafka TLS CA file %s holds no PEM certificate", s.CAFile)
			}
			c.TLS.RootCAs = roots
		}
	}
	switch s.Mechanism {
	case "":
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA512
		if s.Mechanism == "SCRAM-SHA-256" {
			algo = scram.SHA256
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return Client{}, fmt.Errorf("kafka SASL: %w", err)
		}
		c.SASL = m
	default:
		return Client{}, fmt.Errorf("kafka SASL mechanism %q is not SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	return c, nil
}

// dialer is a dialer with the client's TLS and SASL; timeout 0 means none beyond the
// caller's context.
func (c Client) dialer(timeout time.Duration) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, Timeout: timeout, DualStack: true, TLS: c.TLS, SASLMechanism: c.SASL}
}

// Ping is Client.Ping with the zero Client.
func Ping(ctx context.Context, brokers []string) error { return Client{}.Ping(ctx, brokers) }

// EnsureTopics is Client.EnsureTopics with the zero Client.
func EnsureTopics(ctx context.Context, brokers []string, partitions int, topics ...string) error {
	return Client{}.EnsureTopics(ctx, brokers, partitions, topics...)
}

// NewWriter is Client.NewWriter with the zero Client.
func NewWriter(brokers []string) *kafka.Writer { return Client{}.NewWriter(brokers) }

// NewGroupReader is Client.NewGroupReader with the zero Client.
func NewGroupReader(brokers []string, group, topic string, errorLog *slog.Logger) *kafka.Reader {
	return Client{}.NewGroupReader(brokers, group, topic, errorLog)
}

// DeleteTopics is Client.DeleteTopics with the zero Client.
func DeleteTopics(ctx context.Context, brokers []string, topics ...string) error {
	return Client{}.DeleteTopics(ctx, brokers, topics...)
}

// ReadAll is Client.ReadAll with the zero Client.
func ReadAll(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	return Client{}.ReadAll(ctx, brokers, topic)
}

// SetSCRAMPassword creates user, or changes its password, for SCRAM-SHA-512 logins,
// through brokers (any listener this process may use as an administrator). The local
// stack and the tests make their users with it; a production cluster's users are its
// operators' business.
func (c Client) SetSCRAMPassword(ctx context.Context, brokers []string, user, password string) error {
	if len(brokers) == 0 {
		return errors.New("kafkabus: set SCRAM password: no broker addresses")
	}
	ctx, cancel := withDefaultTimeout(ctx, DefaultEnsureTimeout)
	defer cancel()
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	const iterations = 4096
	salted, err := pbkdf2.Key(sha512.New, password, salt, iterations, sha512.Size)
	if err != nil {
		return err
	}
	admin := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: &kafka.Transport{TLS: c.TLS, SASL: c.SASL, ClientID: clientID}}
	resp, err := admin.AlterUserScramCredentials(ctx, &kafka.AlterUserScramCredentialsRequest{
		Upsertions: []kafka.UserScramCredentialsUpsertion{{Name: user, Mechanism: kafka.ScramMechanismSha512,
			Iterations: iterations, Salt: salt, SaltedPassword: salted}},
	})
	if err != nil {
		return fmt.Errorf("kafkabus: set SCRAM password of %s: %w", user, err)
	}
	for _, r := range resp.Results {
		if r.Error != nil {
			return fmt.Errorf("kafkabus: set SCRAM password of %s: %w", user, r.Error)
		}
	}
	return nil
}
