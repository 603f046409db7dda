// Package audit answers "does the money add up across every shard and region right
// now" without stopping traffic.
//
// It reads each shard of every region it is given in one REPEATABLE READ READ ONLY
// transaction, through the ledger's and the transfers' own audit queries (reached
// through the Ledger and Transfers interfaces declared here), and then, with no I/O:
//
//   - checks each shard's snapshots against its entries in every currency (sums per
//     currency and kind, aggregated in SQL) and each user's frozen in every currency
//     against its active holds in it;
//   - gathers every record of every transfer from every shard (the sender's transfer
//     row, hold and debit; the receiver's barriers and credit) and judges them
//     together (Reconcile): a completed transfer has exactly one credit, a cancelled one
//     none, a pending one an active hold and no debit, every credit and every active
//     hold a transfer its sender knows, and every record is in the transfer's currency;
//   - accounts for conservation per currency and per transfer: in each currency, the
//     sum of all balances equals all deposits minus all withdrawals plus the transfers
//     legitimately in flight (credited and not yet captured).
//
// Currencies are never added to each other: nothing in the wallet converts, so money
// in one currency can neither explain nor hide a discrepancy in another. Every
// discrepancy names the currency it is in (Discrepancy.Currency, and its Detail).
//
// Shards are read at slightly different moments, so a transfer that moved between two
// reads can look wrong. Every transfer that looks wrong is read again from every shard
// after a short bounded wait, and reported only if it still looks wrong.
package audit
