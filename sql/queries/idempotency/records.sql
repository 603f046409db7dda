-- name: ClaimKeys :many
-- Claims keys in one round trip; row i answers key i. A committed record is returned
-- as it is (records never change once written, so a replay needs no lock and never
-- waits for another replay). Only when there is none does it try the key's
-- transaction-scoped advisory lock, which the first request holds until it commits:
-- failing to get it means that request is still in flight.
-- A record of the key's own gateway comes first; one written before keys were scoped
-- per gateway (gateway '') answers every gateway until it expires. Two rows of one key
-- exist only when both records do, and then no lock is tried.
SELECT DISTINCT ON (k.i) k.i::int AS i, r.fingerprint, r.status_code, r.response, r.expires_at,
       CASE WHEN r.scope IS NULL THEN pg_try_advisory_xact_lock(hashtextextended(k.lock_key, 7151))
            ELSE false END::boolean AS locked
FROM ROWS FROM (unnest(@scopes::text[]), unnest(@keys::text[]), unnest(@gateways::text[]), unnest(@lock_keys::text[]))
     WITH ORDINALITY AS k(scope, key, gateway, lock_key, i)
LEFT JOIN idempotency_records r ON r.scope = k.scope AND r.key = k.key AND r.gateway IN (k.gateway, '')
ORDER BY k.i, r.gateway DESC;

-- name: InsertRecords :exec
-- A key that already has a record (a request that committed between ClaimKeys'
-- snapshot and its lock) violates the primary key: the transaction rolls back and runs
-- again (pgdb.RetryOnConflict), and then replays that record.
INSERT INTO idempotency_records (scope, key, gateway, fingerprint, status_code, response, expires_at)
SELECT v.scope, v.key, v.gateway, v.fingerprint, v.status_code, v.response, @expires_at
FROM ROWS FROM (unnest(@scopes::text[]), unnest(@keys::text[]), unnest(@gateways::text[]), unnest(@fingerprints::bytea[]),
                unnest(@status_codes::int[]), unnest(@responses::bytea[]))
     AS v(scope, key, gateway, fingerprint, status_code, response);

-- name: DeleteExpiredRecords :execrows
DELETE FROM idempotency_records
WHERE ctid IN (SELECT ctid FROM idempotency_records WHERE expires_at < now() LIMIT @batch);

-- name: DeleteRecord :exec
-- Removes an expired record of the key, the gateway's own or one from before keys were
-- scoped per gateway.
DELETE FROM idempotency_records WHERE scope = @scope AND key = @key AND gateway IN (@gateway::text, '');

-- name: TryLockKey :one
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 7151));
