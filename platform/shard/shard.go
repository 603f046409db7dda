// Package shard turns ids into places: which region a user or transfer lives in, and
// which shard of that region holds it. Routing needs nothing but the id, never a
// directory lookup: the region is written into the id, and the shard is
// hash(id) mod B mapped through the region's bucket ranges.
package shard

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"example.com/wallet/platform/config"
)

// ErrBadID is returned for ids that are not well-formed wallet ids.
var ErrBadID = errors.New("malformed id")

// ErrUserNotFound: the id is well formed and names a region of this wallet, but no user
// with it lives on its shard. Every module that looks a user up says so with this one
// error.
var ErrUserNotFound = errors.New("no such user")

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var (
	userIDRe     = regexp.MustCompile(`^([a-z]{2,8})_[0-9A-HJKMNP-TV-Z]{26}$`)
	transferIDRe = regexp.MustCompile(`^([a-z]{2,8})_tr_[0-9A-HJKMNP-TV-Z]{26}$`)
	webhookIDRe  = regexp.MustCompile(`^([a-z]{2,8})_wh_[0-9A-HJKMNP-TV-Z]{26}$`)
)

// NewWebhookID makes a fresh webhook endpoint id of region: "<region>_wh_" and a ULID,
// so a request about the endpoint reaches the region that delivers to it.
func NewWebhookID(region string) string {
	return region + "_wh_" + newULID(time.Now())
}

// WebhookRegion returns the region written in a webhook endpoint id.
func WebhookRegion(id string) (string, error) {
	m := webhookIDRe.FindStringSubmatch(id)
	if m == nil {
		return "", ErrBadID
	}
	return m[1], nil
}

// NewUserID makes a fresh user id homed in region: "<region>_" and a ULID (48 bits of
// milliseconds, 80 random bits), so ids sort by creation time.
func NewUserID(region string) string {
	return region + "_" + newULID(time.Now())
}

// DerivedUserID makes the user id that a create with this idempotency key always gets:
// the same gateway and key give the same id, so a retried create finds the user the
// first attempt made instead of making a second one.
func DerivedUserID(region, gateway, idempotencyKey string) string {
	sum := sha256.Sum256([]byte("wallet-user\x00" + gateway + "\x00" + idempotencyKey))
	var id [16]byte
	copy(id[:], sum[:16])
	return region + "_" + encodeULID(id)
}

// NewTransferID makes a fresh transfer id homed in the sender's region whose bucket is
// the sender's bucket, so the transfer row always sits on the sender's shard and
// GET /v1/transfers/{id} finds it from the id alone, even after buckets move.
//
// It draws one ULID and then searches only its last two characters (ten of its 80
// random bits) for a pair that lands the id in the sender's bucket: FNV-1a of the
// rest is computed once, so a candidate costs two multiplications instead of a fresh
// random draw and a whole hash (drawing whole ids took a sixth of a region's CPU under
// cross-shard load). With more than 1024 buckets, or when no pair fits, it draws again.
func NewTransferID(region, senderID string, buckets int) string {
	want := uint32(Bucket(senderID, buckets))
	for {
		id := []byte(region + "_tr_" + newULID(time.Now()))
		prefix := fnv1a(fnvOffset, id[:len(id)-2])
		for _, a := range []byte(crockford) {
			h := (prefix ^ uint32(a)) * fnvPrime
			for _, b := range []byte(crockford) {
				if ((h^uint32(b))*fnvPrime)%uint32(buckets) == want {
					id[len(id)-2], id[len(id)-1] = a, b
					return string(id)
				}
			}
		}
	}
}

// FNV-1a, 32 bits, as hash/fnv computes it.
const (
	fnvOffset uint32 = 2166136261
	fnvPrime  uint32 = 16777619
)

func fnv1a(h uint32, b []byte) uint32 {
	for _, c := range b {
		h = (h ^ uint32(c)) * fnvPrime
	}
	return h
}

// UserRegion returns the home region written in a user id.
func UserRegion(id string) (string, error) {
	m := userIDRe.FindStringSubmatch(id)
	if m == nil {
		return "", ErrBadID
	}
	return m[1], nil
}

// TransferRegion returns the sender's region written in a transfer id.
func TransferRegion(id string) (string, error) {
	m := transferIDRe.FindStringSubmatch(id)
	if m == nil {
		return "", ErrBadID
	}
	return m[1], nil
}

// Bucket is the user's bucket: FNV-1a of the id modulo the bucket count. It must never
// change, since it decides where existing rows are.
func Bucket(id string, buckets int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(buckets))
}

// Router maps ids of this region to shard names.
type Router struct {
	region  string
	buckets int
	shards  []config.ShardSpec // sorted by first bucket, covering 0..buckets-1
	known   map[string]bool
}

// NewRouter builds the router of a validated configuration.
func NewRouter(cfg *config.Config) *Router {
	known := map[string]bool{}
	for _, r := range cfg.Regions() {
		known[r] = true
	}
	return &Router{region: cfg.Region, buckets: cfg.Buckets, shards: cfg.ShardList, known: known}
}

// Region is the region this router serves.
func (r *Router) Region() string { return r.region }

// KnownRegion reports whether region is this one or a configured peer.
func (r *Router) KnownRegion(region string) bool { return r.known[region] }

// ShardOf returns the shard holding a key of this region (a user id, or any other
// string placed by the same rule).
func (r *Router) ShardOf(key string) string {
	b := Bucket(key, r.buckets)
	for _, s := range r.shards {
		if b >= s.FirstBucket && b <= s.LastBucket {
			return s.Name
		}
	}
	// Unreachable for a validated config: the ranges cover every bucket.
	panic(fmt.Sprintf("shard: bucket %d is in no shard", b))
}

// Shards lists this region's shard names in bucket order.
func (r *Router) Shards() []string {
	out := make([]string, len(r.shards))
	for i, s := range r.shards {
		out[i] = s.Name
	}
	return out
}

// IsUserID reports whether id is a well-formed user id (of any region).
func IsUserID(id string) bool { return userIDRe.MatchString(id) }

func newULID(t time.Time) string {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], uint64(t.UnixMilli())<<16)
	if _, err := rand.Read(id[6:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return encodeULID(id)
}

// encodeULID writes 128 bits as 26 Crockford base32 characters, most significant first.
func encodeULID(id [16]byte) string {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	var b strings.Builder
	b.Grow(26)
	// 26 characters carry 130 bits; the top two are always zero.
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		b.WriteByte(crockford[v&31])
	}
	return b.String()
}
