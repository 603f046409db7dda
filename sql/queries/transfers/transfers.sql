-- name: InsertTransfers :exec
-- The transfers created by one batch, in one statement: element i of every array is
-- transfer i. Empty strings stand for NULL reason, metadata and refund_of. Pending
-- ones are due for the recovery sweep at @first_attempt_at.
INSERT INTO transfers (id, from_user_id, to_user_id, currency, amount, status, reason, metadata, created_at, updated_at, expires_at, next_attempt_at, refund_of)
SELECT t.id, t.from_user_id, t.to_user_id, t.currency, t.amount::numeric, t.status, NULLIF(t.reason, ''),
       NULLIF(t.metadata, '')::jsonb, @created_at, @created_at, @expires_at,
       CASE WHEN t.status = 'pending' THEN @first_attempt_at::timestamptz END, NULLIF(t.refund_of, '')
FROM ROWS FROM (unnest(@ids::text[]), unnest(@from_user_ids::text[]), unnest(@to_user_ids::text[]), unnest(@currencies::text[]),
                unnest(@amounts::text[]), unnest(@statuses::text[]), unnest(@reasons::text[]), unnest(@metadata::text[]),
                unnest(@refund_ofs::text[]))
     AS t(id, from_user_id, to_user_id, currency, amount, status, reason, metadata, refund_of);

-- name: GetTransfer :one
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at, next_attempt_at, attempts, currency, refund_of
FROM transfers WHERE id = @id;

-- name: LockTransfers :many
-- Several transfers, locked in id order.
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at, next_attempt_at, attempts, currency, refund_of
FROM transfers WHERE id = ANY(@ids::text[])
ORDER BY id
FOR UPDATE;

-- name: FinishTransfers :exec
-- Final statuses of several transfers; an empty reason is NULL.
UPDATE transfers t SET status = v.status, reason = NULLIF(v.reason, ''), updated_at = now()
FROM ROWS FROM (unnest(@ids::text[]), unnest(@statuses::text[]), unnest(@reasons::text[])) AS v(id, status, reason)
WHERE t.id = v.id;

-- name: NotifyFinal :exec
-- Wakes the requests waiting for these transfers (Prefer: wait), in every replica,
-- once the transaction commits.
SELECT pg_notify('wallet_transfer_final', id) FROM unnest(@ids::text[]) AS id;

-- name: DueTransfers :many
-- Pending transfers due for another attempt; SKIP LOCKED lets replicas sweep the same
-- shard without waiting on each other or on a lane applying a reply.
SELECT id, from_user_id, to_user_id, currency, amount, metadata, expires_at, cancel_requested_at, attempts, refund_of FROM transfers
WHERE status = 'pending' AND next_attempt_at <= now()
ORDER BY next_attempt_at
LIMIT @batch
FOR UPDATE SKIP LOCKED;

-- name: ScheduleAttempts :exec
-- Records an attempt of each transfer: the next one due at next_attempt_at, and the
-- cancel requested now where cancel is true (once: the first request's time stays).
UPDATE transfers t
SET attempts = t.attempts + 1, next_attempt_at = v.next_attempt_at, updated_at = now(),
    cancel_requested_at = CASE WHEN v.cancel THEN coalesce(t.cancel_requested_at, now()) ELSE t.cancel_requested_at END
FROM ROWS FROM (unnest(@ids::text[]), unnest(@next_attempt_ats::timestamptz[]), unnest(@cancels::boolean[]))
     AS v(id, next_attempt_at, cancel)
WHERE t.id = v.id;

-- name: ListOutgoing :many
SELECT id, from_user_id, to_user_id, amount, status, reason, metadata, created_at, updated_at, expires_at, cancel_requested_at, next_attempt_at, attempts, currency, refund_of
FROM transfers
WHERE from_user_id = @user_id AND id < @before_id AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status))
ORDER BY id DESC
LIMIT @page_size;

-- name: ListSteps :many
SELECT transfer_id, step, at FROM transfer_steps WHERE transfer_id = ANY(@ids::text[]) ORDER BY at, step;

-- name: AddStepsAt :exec
-- Steps of several transfers with the times the caller chose (the times its responses
-- already show): element i of every array is one step.
INSERT INTO transfer_steps (transfer_id, step, at)
SELECT s.transfer_id, s.step, s.at
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@steps::text[]), unnest(@ats::timestamptz[]))
     AS s(transfer_id, step, at)
ON CONFLICT DO NOTHING;

-- name: PendingByAge :many
-- The shard's pending transfers counted by age band, with the age of each band's
-- oldest, for the pending-transfers metrics. Arrays count from 1 in SQL: band 0 holds
-- ages under @edges[1] seconds, band i those from @edges[i] to under @edges[i+1]. It
-- reads only pending rows, which the partial index transfers_due covers.
SELECT width_bucket(extract(epoch FROM now() - created_at)::float8, @edges::float8[])::int AS band,
       count(*)::bigint AS pending,
       extract(epoch FROM now() - min(created_at))::float8 AS oldest_seconds
FROM transfers
WHERE status = 'pending'
GROUP BY band;

-- name: LockRefundKeys :exec
-- Serializes the refunds of each transfer: every refund of a transfer is created on
-- its receiver's shard under this key, so two refunds racing through two regions
-- cannot both count the same remainder. Keys are taken in id order, before any
-- wallet's lock, so two batches never deadlock.
SELECT pg_advisory_xact_lock(hashtextextended(k.id, 7154))
FROM (SELECT unnest(@transfer_ids::text[]) AS id ORDER BY 1) AS k;

-- name: RefundedAmounts :many
-- What the refunds of each transfer hold back from its remainder: the amounts of
-- those not cancelled (pending ones count, until they are cancelled).
SELECT refund_of::text AS transfer_id, sum(amount)::numeric AS refunded
FROM transfers
WHERE refund_of = ANY(@transfer_ids::text[]) AND status <> 'cancelled'
GROUP BY refund_of;
