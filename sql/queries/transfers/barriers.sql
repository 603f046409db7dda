-- name: InsertBarrier :one
-- Returns nothing when the barrier already exists: the step already happened.
INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, amount, outcome, reason, metadata)
VALUES (@transfer_id, @branch, @to_user_id, @from_user_id, @amount, @outcome, @reason, @metadata)
ON CONFLICT (transfer_id, branch) DO NOTHING
RETURNING transfer_id;

-- name: GetBarrier :one
SELECT transfer_id, branch, to_user_id, from_user_id, amount, outcome, reason, metadata, created_at
FROM tcc_barriers WHERE transfer_id = @transfer_id AND branch = @branch;

-- name: LockBarrierKey :exec
-- Serializes the credit and cancel of one transfer on the participant, so a cancel
-- and a credit racing on two consumers cannot both succeed.
SELECT pg_advisory_xact_lock(hashtextextended(@transfer_id::text, 7153));

-- name: ListIncoming :many
SELECT transfer_id, branch, to_user_id, from_user_id, amount, outcome, reason, metadata, created_at
FROM tcc_barriers
WHERE to_user_id = @user_id AND branch = 'credit' AND outcome = 'credited' AND transfer_id < @before_id
ORDER BY transfer_id DESC
LIMIT @page_size;

-- name: RecordIncoming :exec
-- The receivers' records of same-shard transfers, as a participant's credit barrier
-- would have recorded them: element i of every array is transfer i.
INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, amount, outcome, metadata)
SELECT b.transfer_id, 'credit', b.to_user_id, b.from_user_id, b.amount::numeric, 'credited', NULLIF(b.metadata, '')::jsonb
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@to_user_ids::text[]), unnest(@from_user_ids::text[]),
                unnest(@amounts::text[]), unnest(@metadata::text[]))
     AS b(transfer_id, to_user_id, from_user_id, amount, metadata);
