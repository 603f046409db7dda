-- name: InsertHolds :exec
-- Holds taken by one batch: element i of every array is hold i.
INSERT INTO holds (transfer_id, user_id, currency, amount)
SELECT h.transfer_id, h.user_id, h.currency, h.amount::numeric
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@user_ids::text[]), unnest(@currencies::text[]), unnest(@amounts::text[]))
     AS h(transfer_id, user_id, currency, amount);

-- name: LockHolds :many
-- The holds of several transfers, locked in transfer id order.
SELECT transfer_id, user_id, currency, amount, status FROM holds
WHERE transfer_id = ANY(@transfer_ids::text[])
ORDER BY transfer_id
FOR UPDATE;

-- name: SetHoldStatuses :exec
UPDATE holds h SET status = v.status, updated_at = now()
FROM ROWS FROM (unnest(@transfer_ids::text[]), unnest(@statuses::text[])) AS v(transfer_id, status)
WHERE h.transfer_id = v.transfer_id;

-- name: SumActiveHolds :many
-- A user's active holds summed per currency.
SELECT currency, sum(amount)::numeric(78,0) AS frozen FROM holds WHERE user_id = @user_id AND status = 'active' GROUP BY currency;
