-- name: InsertHold :exec
INSERT INTO holds (transfer_id, user_id, amount) VALUES (@transfer_id, @user_id, @amount);

-- name: GetHoldForUpdate :one
SELECT transfer_id, user_id, amount, status FROM holds WHERE transfer_id = @transfer_id FOR UPDATE;

-- name: SetHoldStatus :exec
UPDATE holds SET status = @status, updated_at = now() WHERE transfer_id = @transfer_id;

-- name: SumActiveHolds :one
SELECT coalesce(sum(amount), 0)::numeric(78,0) AS frozen FROM holds WHERE user_id = @user_id AND status = 'active';
