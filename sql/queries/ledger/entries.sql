-- name: ListEntries :many
-- Newest first; before_seq pages backwards through the history, from_seq bounds it
-- below (a window of time is turned into sequence numbers first, see SeqBefore), of
-- one currency or (currency '') of all.
SELECT user_id, seq, kind, currency, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash, gateway, seal, hash_version
FROM ledger_entries
WHERE user_id = @user_id AND seq < @before_seq AND seq >= @from_seq
  AND (@currency::text = '' OR currency = @currency)
ORDER BY seq DESC
LIMIT @page_size;

-- name: SeqBefore :one
-- The sequence number of a user's newest entry created before an instant (0 when
-- none), by binary search over the primary key: about log2(n) probes of
-- (user_id, seq), and no index on creation times for every write to maintain. It
-- relies on creation times rising with seq, which they do: a user's entries are
-- stamped after the wallet's lock is taken, so only the clocks of two replicas can
-- disagree. No row when the user has no wallet, or a gap in the history stops the
-- search (which `wallet ledger verify` reports).
WITH RECURSIVE search (lo, hi) AS (
    SELECT 0::bigint, (SELECT coalesce(max(l.seq), 0) FROM ledger_entries l WHERE l.user_id = w.user_id)::bigint
    FROM wallets w WHERE w.user_id = @user_id
    UNION ALL
    SELECT CASE WHEN e.created_at < @before THEN (s.lo + s.hi + 1) / 2 ELSE s.lo END,
           CASE WHEN e.created_at < @before THEN s.hi ELSE (s.lo + s.hi + 1) / 2 - 1 END
    FROM search s
    JOIN ledger_entries e ON e.user_id = @user_id AND e.seq = (s.lo + s.hi + 1) / 2
    WHERE s.lo < s.hi
)
SELECT lo::bigint AS seq FROM search WHERE lo >= hi;

-- name: BalanceAt :one
-- The newest entry of a currency at or before a sequence number (SeqBefore's answer):
-- back from there past the other currencies' entries.
SELECT seq, balance_after FROM ledger_entries
WHERE user_id = @user_id AND seq <= @max_seq AND currency = @currency
ORDER BY seq DESC
LIMIT 1;

-- name: ListEntriesAscending :many
-- Oldest first, for verify and rebuild.
SELECT user_id, seq, kind, currency, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash, gateway, seal, hash_version
FROM ledger_entries
WHERE user_id = @user_id AND seq > @after_seq
ORDER BY seq
LIMIT @page_size;

-- name: InsertEntries :exec
-- Several entries, of one user or several, in one statement: element i of every array
-- is entry i. Empty strings stand for NULL in the optional columns (arrays of text
-- cannot say NULL to sqlc).
INSERT INTO ledger_entries (user_id, seq, kind, currency, amount, balance_after, transfer_id, idempotency_key, gateway, metadata, created_at, prev_hash, hash, seal, hash_version)
SELECT e.user_id, e.seq, e.kind, e.currency, e.amount::numeric, e.balance_after::numeric,
       NULLIF(e.transfer_id, ''), NULLIF(e.idempotency_key, ''), NULLIF(e.gateway, ''), NULLIF(e.metadata, '')::jsonb,
       e.created_at, e.prev_hash, e.hash, NULLIF(e.seal, ''::bytea), 2
FROM ROWS FROM (unnest(@user_ids::text[]), unnest(@seqs::bigint[]), unnest(@kinds::text[]), unnest(@currencies::text[]), unnest(@amounts::text[]),
                unnest(@balances_after::text[]), unnest(@transfer_ids::text[]), unnest(@idempotency_keys::text[]),
                unnest(@gateways::text[]), unnest(@metadata::text[]), unnest(@created_ats::timestamptz[]), unnest(@prev_hashes::bytea[]),
                unnest(@hashes::bytea[]), unnest(@seals::bytea[]))
     AS e(user_id, seq, kind, currency, amount, balance_after, transfer_id, idempotency_key, gateway, metadata, created_at, prev_hash, hash, seal);

-- name: EntriesWithoutWallet :many
-- For verify: users with entries but no wallet row (the writers' lock discipline
-- makes this impossible; verify checks it).
SELECT DISTINCT e.user_id FROM ledger_entries e
WHERE NOT EXISTS (SELECT 1 FROM wallets w WHERE w.user_id = e.user_id)
LIMIT 100;

-- name: ListSeals :many
-- The seals of a user's older entries (`wallet ledger seal`), for verify.
SELECT seq, seal FROM ledger_seals WHERE user_id = @user_id ORDER BY seq;

-- name: InsertSeal :exec
INSERT INTO ledger_seals (user_id, seq, seal) VALUES (@user_id, @seq, @seal)
ON CONFLICT (user_id, seq) DO NOTHING;
