-- name: OpenBalance :exec
INSERT INTO balances (user_id) VALUES (@user_id) ON CONFLICT (user_id) DO NOTHING;

-- name: GetBalance :one
SELECT user_id, balance, frozen, last_seq, last_hash FROM balances WHERE user_id = @user_id;

-- name: GetBalanceForUpdate :one
-- Locks the user's snapshot row: every change to a user's money is serialized here.
SELECT user_id, balance, frozen, last_seq, last_hash FROM balances WHERE user_id = @user_id FOR UPDATE;

-- name: UpdateBalance :exec
UPDATE balances
SET balance = @balance, frozen = @frozen, last_seq = @last_seq, last_hash = @last_hash, updated_at = now()
WHERE user_id = @user_id;

-- name: ListBalanceUsers :many
-- For verify and rebuild: every user of the shard, in id order, in pages.
SELECT user_id FROM balances WHERE user_id > @after ORDER BY user_id LIMIT @page_size;
