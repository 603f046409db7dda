-- name: InsertUser :one
-- A create with a derived id (an idempotent retry) finds the row the first attempt
-- made: ON CONFLICT returns nothing and the caller reads it with GetUser.
INSERT INTO users (id, region, created_at)
VALUES (@id, @region, @created_at)
ON CONFLICT (id) DO NOTHING
RETURNING id, region, created_at;

-- name: GetUser :one
SELECT id, region, created_at FROM users WHERE id = @id;
