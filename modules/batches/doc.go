// Package batches takes up to a thousand deposits, withdrawals and transfers in one
// request (POST /v1/batches).
//
// A batch is not atomic. Each item is applied exactly as it would have been alone: it
// is handed to the same route a request of its own would have reached (authentication,
// scopes, rate limits, validation, its own Idempotency-Key, forwarding to the user's
// home region), and its result is that request's status and body, byte for byte. Items
// of one user (a deposit's or withdrawal's user, a transfer's sender) are applied in
// the batch's order; items of different users run concurrently, so they reach each
// shard together and group commit applies them in a few transactions. What a batch
// saves is the round trips and the connections, never a check.
package batches
