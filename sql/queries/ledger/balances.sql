-- name: OpenBalance :exec
INSERT INTO balances (user_id) VALUES (@user_id) ON CONFLICT (user_id) DO NOTHING;

-- name: GetBalance :one
SELECT user_id, balance, frozen, last_seq, last_hash, status FROM balances WHERE user_id = @user_id;

-- name: GetBalanceForUpdate :one
-- Locks the user's snapshot row: every change to a user's money is serialized here.
SELECT user_id, balance, frozen, last_seq, last_hash, status FROM balances WHERE user_id = @user_id FOR UPDATE;

-- name: LockBalances :many
-- Locks several users' snapshot rows in user id order, the order every transaction that
-- locks more than one takes them in, so none can deadlock another.
SELECT user_id, balance, frozen, last_seq, last_hash, status FROM balances
WHERE user_id = ANY(@user_ids::text[])
ORDER BY user_id
FOR UPDATE;

-- name: UpdateBalances :exec
-- Several snapshots in one statement: element i of every array is user i's new head.
UPDATE balances b
SET balance = v.balance::numeric, frozen = v.frozen::numeric, last_seq = v.last_seq, last_hash = v.last_hash,
    status = v.status, updated_at = now()
FROM ROWS FROM (unnest(@user_ids::text[]), unnest(@balances::text[]), unnest(@frozen::text[]),
                unnest(@last_seqs::bigint[]), unnest(@last_hashes::bytea[]), unnest(@statuses::text[]))
     AS v(user_id, balance, frozen, last_seq, last_hash, status)
WHERE b.user_id = v.user_id;

-- name: UpdateBalance :exec
UPDATE balances
SET balance = @balance, frozen = @frozen, last_seq = @last_seq, last_hash = @last_hash, updated_at = now()
WHERE user_id = @user_id;

-- name: ListBalanceUsers :many
-- For verify and rebuild: every user of the shard, in id order, in pages.
SELECT user_id FROM balances WHERE user_id > @after ORDER BY user_id LIMIT @page_size;
