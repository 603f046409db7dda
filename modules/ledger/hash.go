package ledger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"example.com/wallet/platform/metadata"
)

// currentHashVersion is the version of the entries the ledger writes (see entryHash).
const currentHashVersion = 2

// entryHash chains an entry to its predecessor: SHA-256 over the previous hash and
// every field an auditor relies on, each length-prefixed so no two different entries
// share an encoding. Changing any stored field, or removing or reordering an entry,
// breaks every later hash of that user.
//
// Version 2 covers the entry's currency; version 1, the entries written before
// balances per currency, does not (they hash exactly as they did then, and are all in
// the wallet's default currency: verify checks that instead). The version is itself
// hashed, so relabelling an entry's version breaks its hash.
func entryHash(prev []byte, e Entry) []byte {
	h := sha256.New()
	h.Write(prev)
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(e.Seq))
	h.Write(seq[:])
	if e.HashVersion >= 2 {
		field("v2")
		field(e.UserID)
		field(e.Kind)
		field(e.Currency)
	} else {
		field("v1")
		field(e.UserID)
		field(e.Kind)
	}
	field(e.Amount.String())
	field(e.BalanceAfter.String())
	field(e.TransferID)
	field(e.IdempotencyKey)
	field(string(metadata.Canonical(e.Metadata)))
	field(e.CreatedAt.UTC().Format(time.RFC3339Nano))
	// Entries written before the ledger recorded gateways have none and hash exactly
	// as they did; the extra length-prefixed field keeps the encodings distinct.
	if e.Gateway != "" {
		field(e.Gateway)
	}
	return h.Sum(nil)
}

func hexString(b []byte) string { return hex.EncodeToString(b) }

// sealOf is the seal of an entry whose hash is hash: HMAC-SHA256 under key, which the
// database never holds. Because each hash covers every earlier entry of the user, a
// valid seal vouches for the whole history up to its entry; rewriting any of it means
// recomputing hashes, and no one without the key can recompute the seal. Empty (no
// seal) when key is nil.
func sealOf(key, hash []byte) []byte {
	if key == nil {
		return []byte{}
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(hash)
	return mac.Sum(nil)
}
