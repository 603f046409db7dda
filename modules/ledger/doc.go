// Package ledger is the source of truth for money: an append-only, hash-chained list
// of entries per user, and a balance snapshot (balance, frozen) updated in the same
// transaction as every entry or hold, so reads are O(1) and always agree with history.
//
// Every change to a user's money locks that user's snapshot row first
// (GetBalanceForUpdate), which serializes a user's deposits, withdrawals and transfer
// steps: per user, the ledger is linearizable.
package ledger
