-- name: ListEntries :many
-- Newest first; before_seq pages backwards through the history, within the window
-- [from_time, to_time) of creation times, of one currency or (currency '') of all.
SELECT user_id, seq, kind, currency, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash, gateway, seal, hash_version
FROM ledger_entries
WHERE user_id = @user_id AND seq < @before_seq AND created_at >= @from_time AND created_at < @to_time
  AND (@currency::text = '' OR currency = @currency)
ORDER BY seq DESC
LIMIT @page_size;

-- name: BalanceAt :one
-- The newest entry of a currency created at or before an instant
-- (ledger_entries_user_time, walked back past the other currencies' entries).
SELECT seq, balance_after FROM ledger_entries
WHERE user_id = @user_id AND created_at <= @at AND currency = @currency
ORDER BY created_at DESC, seq DESC
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
