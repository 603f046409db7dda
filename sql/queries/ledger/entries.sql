-- name: InsertEntry :exec
INSERT INTO ledger_entries (user_id, seq, kind, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash)
VALUES (@user_id, @seq, @kind, @amount, @balance_after, @transfer_id, @idempotency_key, @metadata, @created_at, @prev_hash, @hash);

-- name: ListEntries :many
-- Newest first; before_seq pages backwards through the history.
SELECT user_id, seq, kind, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash
FROM ledger_entries
WHERE user_id = @user_id AND seq < @before_seq
ORDER BY seq DESC
LIMIT @page_size;

-- name: ListEntriesAscending :many
-- Oldest first, for verify and rebuild.
SELECT user_id, seq, kind, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash
FROM ledger_entries
WHERE user_id = @user_id AND seq > @after_seq
ORDER BY seq
LIMIT @page_size;

-- name: InsertEntries :exec
-- Several entries, of one user or several, in one statement: element i of every array
-- is entry i. Empty strings stand for NULL in the optional columns (arrays of text
-- cannot say NULL to sqlc).
INSERT INTO ledger_entries (user_id, seq, kind, amount, balance_after, transfer_id, idempotency_key, metadata, created_at, prev_hash, hash)
SELECT e.user_id, (@seqs::bigint[])[e.i], (@kinds::text[])[e.i], ((@amounts::text[])[e.i])::numeric,
       ((@balances_after::text[])[e.i])::numeric,
       NULLIF((@transfer_ids::text[])[e.i], ''), NULLIF((@idempotency_keys::text[])[e.i], ''),
       (NULLIF((@metadata::text[])[e.i], ''))::jsonb,
       (@created_ats::timestamptz[])[e.i], (@prev_hashes::bytea[])[e.i], (@hashes::bytea[])[e.i]
FROM unnest(@user_ids::text[]) WITH ORDINALITY AS e(user_id, i);
