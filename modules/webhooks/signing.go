package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// The headers of a delivery, as Standard Webhooks names them.
const (
	// HeaderID is the event's id: the same on every attempt, for deduplication.
	HeaderID = "webhook-id"
	// HeaderTimestamp is the attempt's time, in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature is one or more space-separated "v1,<base64 HMAC-SHA256>"
	// signatures: one per secret that currently signs (two after a rotation).
	HeaderSignature = "webhook-signature"
)

// secretPrefix starts every secret, so one pasted in the wrong place is recognized.
const secretPrefix = "whsec_"

// NewSecret makes an endpoint's signing secret: "whsec_" and 32 random bytes in
// base64, as Standard Webhooks formats them.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// errBadSecret is a stored secret that is not one NewSecret made.
var errBadSecret = errors.New("webhooks: malformed secret")

// Sign is the v1 signature of a delivery under secret: HMAC-SHA256, keyed by the
// secret's bytes, of "<id>.<timestamp>.<body>", in base64 and prefixed "v1,".
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || !strings.HasPrefix(secret, secretPrefix) {
		return "", errBadSecret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}
