-- name: Enqueue :exec
-- Messages in one statement, in array order (ids follow it): element i of every array
-- is message i. An empty trace context (a message written outside any trace) is
-- stored as NULL.
INSERT INTO outbox (region, key, type, payload, trace_context)
SELECT m.region, m.key, m.type, m.payload, NULLIF(m.trace_context, '')
FROM ROWS FROM (unnest(@regions::text[]), unnest(@keys::text[]), unnest(@types::text[]), unnest(@payloads::bytea[]),
                unnest(@trace_contexts::text[]))
     WITH ORDINALITY AS m(region, key, type, payload, trace_context, i)
ORDER BY m.i;

-- name: Unsent :many
-- The oldest unsent messages for one destination region, in the order they were
-- written.
SELECT id, region, key, type, payload, trace_context, created_at FROM outbox
WHERE sent_at IS NULL AND region = @region
ORDER BY id
LIMIT @batch;

-- name: MarkSent :exec
UPDATE outbox SET sent_at = now() WHERE id = ANY(@ids::bigint[]);

-- name: DeleteSent :execrows
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < sqlc.arg(sent_before)::timestamptz ORDER BY id LIMIT @batch
);

-- name: TakeLease :one
-- Takes or renews the shard's relay lease for holder: it succeeds (returns the new
-- expiry) when holder already has the lease or the lease has lapsed, and returns no
-- row otherwise.
UPDATE outbox_relay_lease SET holder = @holder, expires_at = now() + make_interval(0, 0, 0, 0, 0, 0, @term_seconds::float8)
WHERE id = 1 AND (holder = @holder OR expires_at < now())
RETURNING expires_at;

-- name: ReleaseLease :exec
-- Gives the lease up at shutdown, so another replica takes over at once.
UPDATE outbox_relay_lease SET expires_at = '-infinity' WHERE id = 1 AND holder = @holder;

-- name: OldestUnsent :one
-- When the oldest message still waiting for region was written, if any.
SELECT created_at FROM outbox WHERE sent_at IS NULL AND region = @region ORDER BY id LIMIT 1;

-- name: OldestMessage :one
-- When the oldest message still in the outbox, sent or not, was written.
SELECT created_at FROM outbox ORDER BY id LIMIT 1;
