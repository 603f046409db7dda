-- name: ClaimKeys :many
-- Claims keys in one round trip; row i answers key i. A committed record is returned
-- as it is (records never change once written, so a replay needs no lock and never
-- waits for another replay). Only when there is none does it try the key's
-- transaction-scoped advisory lock, which the first request holds until it commits:
-- failing to get it means that request is still in flight.
SELECT k.i::int AS i, r.fingerprint, r.status_code, r.response, r.expires_at,
       CASE WHEN r.scope IS NULL THEN pg_try_advisory_xact_lock(hashtextextended(k.lock_key, 7151))
            ELSE false END::boolean AS locked
FROM ROWS FROM (unnest(@scopes::text[]), unnest(@keys::text[]), unnest(@lock_keys::text[])) WITH ORDINALITY
     AS k(scope, key, lock_key, i)
LEFT JOIN idempotency_records r ON r.scope = k.scope AND r.key = k.key
ORDER BY k.i;

-- name: InsertRecords :exec
-- A key that already has a record (a request that committed between ClaimKeys'
-- snapshot and its lock) violates the primary key: the transaction rolls back and runs
-- again (pgdb.RetryOnConflict), and then replays that record.
INSERT INTO idempotency_records (scope, key, fingerprint, status_code, response, expires_at)
SELECT v.scope, v.key, v.fingerprint, v.status_code, v.response, @expires_at
FROM ROWS FROM (unnest(@scopes::text[]), unnest(@keys::text[]), unnest(@fingerprints::bytea[]),
                unnest(@status_codes::int[]), unnest(@responses::bytea[]))
     AS v(scope, key, fingerprint, status_code, response);

-- name: DeleteExpiredRecords :execrows
DELETE FROM idempotency_records
WHERE ctid IN (SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT @batch);

-- name: DeleteRecord :exec
DELETE FROM idempotency_records WHERE scope = @scope AND key = @key;

-- name: TryLockKey :one
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 7151));
