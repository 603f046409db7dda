-- name: InsertTransfer :exec
INSERT INTO transfers (id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at)
VALUES (@id, @from_user_id, @to_user_id, @amount, @status, @reason, @metadata, @created_at, @created_at, @expires_at);

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
-- Several steps of one transfer with the times the caller chose (the times its
-- response already shows).
INSERT INTO transfer_steps (transfer_id, step, at)
SELECT @transfer_id::text, s.step, (@ats::timestamptz[])[s.i]
FROM unnest(@steps::text[]) WITH ORDINALITY AS s(step, i)
ON CONFLICT DO NOTHING;
