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
