// Package transfers moves money between users.
//
// Between two users of one shard, a transfer is one transaction: both snapshot rows
// locked in id order, debit and credit appended, the transfer completed.
//
// Between shards or regions it runs Try-Confirm-Cancel over Kafka, coordinated by
// the sender's shard:
//
//	Try (API request, sender shard)      hold the amount, transfer pending, outbox "credit"
//	participant (receiver shard)         barrier (t, credit); credit or refuse; outbox reply
//	coordinator (sender shard)           "credited": capture the hold (debit), completed
//	                                     "refused"/"cancelled": release the hold, cancelled
//	expiry (sender shard)                past the TTL: outbox "cancel", never a release
//	participant on "cancel"              barrier (t, cancel) and "cancelled", or, if it
//	                                     already credited, "credited" again
//
// Every step is one shard transaction that also writes its outgoing messages to the
// outbox; every step is idempotent through a barrier row or a unique key, so
// duplicated, replayed or reordered messages change nothing. The decisions themselves
// are pure functions in tcc.go.
package transfers
