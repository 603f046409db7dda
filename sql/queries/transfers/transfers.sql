-- name: InsertTransfers :exec
-- The transfers created by one batch, in one statement: element i of every array is
-- transfer i. Empty strings stand for NULL reason and metadata.
INSERT INTO transfers (id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at)
SELECT t.id, (@from_user_ids::text[])[t.i], (@to_user_ids::text[])[t.i], ((@amounts::text[])[t.i])::numeric,
       (@statuses::text[])[t.i], NULLIF((@reasons::text[])[t.i], ''), (NULLIF((@metadata::text[])[t.i], ''))::jsonb,
       @created_at, @created_at, @expires_at
FROM unnest(@ids::text[]) WITH ORDINALITY AS t(id, i);

-- name: GetTransfer :one
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at
FROM transfers WHERE id = @id;

-- name: GetTransferForUpdate :one
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at
FROM transfers WHERE id = @id FOR UPDATE;

-- name: FinishTransfer :exec
UPDATE transfers SET status = @status, reason = @reason, updated_at = now() WHERE id = @id;

-- name: MarkCancelRequested :exec
UPDATE transfers SET cancel_requested_at = now(), updated_at = now() WHERE id = @id;

-- name: ExpiredPending :many
-- Pending transfers past their TTL without a cancel yet; SKIP LOCKED lets replicas
-- sweep the same shard without waiting on each other.
SELECT id FROM transfers
WHERE status = 'pending' AND cancel_requested_at IS NULL AND expires_at < now()
ORDER BY expires_at
LIMIT @batch
FOR UPDATE SKIP LOCKED;

-- name: ListOutgoing :many
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at
FROM transfers
WHERE from_user_id = @user_id AND id < @before_id AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
ORDER BY id DESC
LIMIT @page_size;

-- name: AddStep :exec
INSERT INTO transfer_steps (transfer_id, step) VALUES (@transfer_id, @step) ON CONFLICT DO NOTHING;

-- name: ListSteps :many
SELECT transfer_id, step, at FROM transfer_steps WHERE transfer_id = ANY(@ids::text[]) ORDER BY at, step;

-- name: AddStepsAt :exec
-- Steps of several transfers with the times the caller chose (the times its responses
-- already show): element i of every array is one step.
INSERT INTO transfer_steps (transfer_id, step, at)
SELECT s.transfer_id, (@steps::text[])[s.i], (@ats::timestamptz[])[s.i]
FROM unnest(@transfer_ids::text[]) WITH ORDINALITY AS s(transfer_id, i)
ON CONFLICT DO NOTHING;
