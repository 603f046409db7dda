-- name: InsertBarriers :exec
-- Barriers written by one batch: element i of every array is barrier i; empty
-- reasons, metadata and refund_of are NULL.
INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome, reason, metadata, refund_of)
SELECT b.transfer_id, b.branch, b.to_user_id, b.from_user_id, b.currency, b.amount::numeric, b.outcome,
       NULLIF(b.reason, ''), NULLIF(b.metadata, '')::jsonb, NULLIF(b.refund_of, '')
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@branches::text[]), unnest(@to_user_ids::text[]),
                unnest(@from_user_ids::text[]), unnest(@currencies::text[]), unnest(@amounts::text[]), unnest(@outcomes::text[]),
                unnest(@reasons::text[]), unnest(@metadata::text[]), unnest(@refund_ofs::text[]))
     AS b(transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome, reason, metadata, refund_of);

-- name: GetBarriers :many
SELECT transfer_id, branch, outcome, reason FROM tcc_barriers WHERE transfer_id = ANY(@transfer_ids::text[]);

-- name: LockBarrierKeys :exec
-- Serializes the credit and cancel of each transfer on the participant, so a cancel
-- and a credit racing on two consumers cannot both succeed. Keys are taken in id
-- order, so two batches never deadlock.
SELECT pg_advisory_xact_lock(hashtextextended(k.id, 7153))
FROM (SELECT unnest(@transfer_ids::text[]) AS id ORDER BY 1) AS k;

-- name: ListIncoming :many
SELECT transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome, reason, metadata, created_at
FROM tcc_barriers
WHERE to_user_id = @user_id AND branch = 'credit' AND outcome = 'credited' AND transfer_id < @before_id
ORDER BY transfer_id DESC
LIMIT @page_size;

-- name: RecordIncoming :exec
-- The receivers' records of same-shard transfers, as a participant's credit barrier
-- would have recorded them: element i of every array is transfer i.
INSERT INTO tcc_barriers (transfer_id, branch, to_user_id, from_user_id, currency, amount, outcome, metadata, refund_of)
SELECT b.transfer_id, 'credit', b.to_user_id, b.from_user_id, b.currency, b.amount::numeric, 'credited', NULLIF(b.metadata, '')::jsonb,
       NULLIF(b.refund_of, '')
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@to_user_ids::text[]), unnest(@from_user_ids::text[]),
                unnest(@currencies::text[]), unnest(@amounts::text[]), unnest(@metadata::text[]), unnest(@refund_ofs::text[]))
     AS b(transfer_id, to_user_id, from_user_id, currency, amount, metadata, refund_of);

-- name: CreditedTransfers :many
-- The credits this shard's receivers got for these transfers: what a refund of each
-- may move back, and whether it was itself a refund.
SELECT transfer_id, to_user_id, from_user_id, currency, amount, refund_of
FROM tcc_barriers
WHERE transfer_id = ANY(@transfer_ids::text[]) AND branch = 'credit' AND outcome = 'credited';

-- name: RefundsCredited :many
-- The refunds of these transfers credited back to their senders, oldest first.
SELECT refund_of::text AS refund_of, transfer_id, amount, created_at
FROM tcc_barriers
WHERE refund_of = ANY(@transfer_ids::text[]) AND branch = 'credit' AND outcome = 'credited'
ORDER BY created_at, transfer_id;
