-- Read-only queries of `wallet audit`, run in the audit's one REPEATABLE READ
-- transaction per shard: the transfers this shard sends (coordinator side) and the
-- barriers of the transfers it receives (participant side), which the audit matches
-- across shards and regions.

-- name: AuditTransfers :many
SELECT id, from_user_id, to_user_id, currency, amount::text AS amount, status, coalesce(reason, '')::text AS reason,
       created_at, cancel_requested_at, attempts
FROM transfers;

-- name: AuditTransfersOf :many
-- Some transfers, for a re-check.
SELECT id, from_user_id, to_user_id, currency, amount::text AS amount, status, coalesce(reason, '')::text AS reason,
       created_at, cancel_requested_at, attempts
FROM transfers
WHERE id = ANY(@ids::text[]);

-- name: AuditBarriers :many
SELECT transfer_id, branch, to_user_id, from_user_id, currency, amount::text AS amount, outcome, coalesce(reason, '')::text AS reason
FROM tcc_barriers;

-- name: AuditBarriersOf :many
-- The barriers of some transfers, for a re-check.
SELECT transfer_id, branch, to_user_id, from_user_id, currency, amount::text AS amount, outcome, coalesce(reason, '')::text AS reason
FROM tcc_barriers
WHERE transfer_id = ANY(@transfer_ids::text[]);
