-- name: ClaimKey :one
-- One round trip for both outcomes. A committed record is returned as it is (records
-- never change once written, so a replay needs no lock and never waits for another
-- replay). Only when there is none does it try the key's transaction-scoped advisory
-- lock, which the first request holds until it commits: failing to get it means that
-- request is still in flight.
SELECT r.fingerprint, r.status_code, r.response, r.expires_at,
       CASE WHEN r.scope IS NULL THEN pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 7151))
            ELSE false END::boolean AS locked
FROM (SELECT 1) AS one
LEFT JOIN idempotency_records r ON r.scope = @scope AND r.key = @key;

-- name: InsertRecord :execrows
-- No row is inserted when a record already exists: a request that committed between
-- ClaimKey's snapshot and its lock. The caller's transaction must then roll back.
INSERT INTO idempotency_records (scope, key, fingerprint, status_code, response, expires_at)
VALUES (@scope, @key, @fingerprint, @status_code, @response, @expires_at)
ON CONFLICT (scope, key) DO NOTHING;

-- name: DeleteExpiredRecords :execrows
DELETE FROM idempotency_records
WHERE ctid IN (SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT @batch);

-- name: DeleteRecord :exec
DELETE FROM idempotency_records WHERE scope = @scope AND key = @key;

-- name: TryLockKey :one
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 7151));
