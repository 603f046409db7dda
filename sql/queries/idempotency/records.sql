-- name: GetRecord :one
SELECT scope, key, fingerprint, status_code, response, created_at, expires_at
FROM idempotency_records WHERE scope = @scope AND key = @key;

-- name: InsertRecord :exec
INSERT INTO idempotency_records (scope, key, fingerprint, status_code, response, expires_at)
VALUES (@scope, @key, @fingerprint, @status_code, @response, @expires_at);

-- name: DeleteExpiredRecords :execrows
DELETE FROM idempotency_records
WHERE ctid IN (SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT @batch);

-- name: DeleteRecord :exec
DELETE FROM idempotency_records WHERE scope = @scope AND key = @key;
