-- Read-only queries of `wallet audit`, run in the audit's one REPEATABLE READ
-- transaction per shard. Totals are aggregated here, so conservation costs one scan of
-- the entries and no rows leave the database; only transfer entries and holds, which
-- the audit matches against other shards, are returned row by row, their amounts as
-- text: decoding NUMERIC's binary form took most of the audit's time.

-- name: AuditEntryTotals :many
-- The shard's whole ledger summed per currency and kind.
SELECT currency, kind, count(*)::bigint AS entries, coalesce(sum(amount), 0)::numeric AS total
FROM ledger_entries
GROUP BY currency, kind
ORDER BY currency, kind;

-- name: AuditWallets :one
-- The shard's users.
SELECT count(*)::bigint AS users FROM wallets;

-- name: AuditSnapshotTotals :many
-- The shard's snapshots summed per currency: what its users hold and have frozen.
SELECT currency, coalesce(sum(balance), 0)::numeric AS balance, coalesce(sum(frozen), 0)::numeric AS frozen
FROM balances
GROUP BY currency
ORDER BY currency;

-- name: AuditFrozenMismatches :many
-- Users whose snapshot's frozen in a currency is not the sum of their active holds in
-- it, including active holds of users without a snapshot in their currency.
SELECT coalesce(b.user_id, h.user_id)::text AS user_id,
       coalesce(b.currency, h.currency)::text AS currency,
       coalesce(b.frozen, 0)::numeric AS frozen,
       coalesce(h.held, 0)::numeric AS held
FROM (SELECT user_id, currency, frozen FROM balances WHERE frozen > 0) b
FULL JOIN (SELECT user_id, currency, sum(amount) AS held FROM holds WHERE status = 'active' GROUP BY user_id, currency) h
       ON h.user_id = b.user_id AND h.currency = b.currency
WHERE coalesce(b.frozen, 0) <> coalesce(h.held, 0)
ORDER BY 1
LIMIT @max_rows;

-- name: AuditBalanceDrifts :many
-- Users whose snapshot balance in a currency is not the sum of their entries in it
-- (signed, so as text). Read only when the shard's totals disagree, to name the users.
SELECT coalesce(b.user_id, e.user_id)::text AS user_id,
       coalesce(b.currency, e.currency)::text AS currency,
       coalesce(b.balance, 0)::text AS balance,
       coalesce(e.total, 0)::text AS entries_total
FROM balances b
FULL JOIN (SELECT user_id, currency, sum(CASE WHEN kind IN ('deposit', 'transfer_credit') THEN amount ELSE -amount END) AS total
           FROM ledger_entries GROUP BY user_id, currency) e
       ON e.user_id = b.user_id AND e.currency = b.currency
WHERE coalesce(b.balance, 0) <> coalesce(e.total, 0)
ORDER BY 1
LIMIT @max_rows;

-- name: AuditTransferEntries :many
-- Every transfer debit and credit of the shard.
SELECT coalesce(transfer_id, '')::text AS transfer_id, kind, user_id, currency, amount::text AS amount
FROM ledger_entries
WHERE transfer_id IS NOT NULL;

-- name: AuditTransferEntriesOf :many
-- The transfer debits and credits of some transfers, for a re-check.
SELECT coalesce(transfer_id, '')::text AS transfer_id, kind, user_id, currency, amount::text AS amount
FROM ledger_entries
WHERE transfer_id = ANY(@transfer_ids::text[]);

-- name: AuditHolds :many
-- Every hold of the shard, whatever its status.
SELECT transfer_id, user_id, currency, amount::text AS amount, status FROM holds;

-- name: AuditHoldsOf :many
-- The holds of some transfers, for a re-check.
SELECT transfer_id, user_id, currency, amount::text AS amount, status FROM holds WHERE transfer_id = ANY(@transfer_ids::text[]);
