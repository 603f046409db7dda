-- name: Enqueue :exec
-- Messages in one statement, in array order (ids follow it): element i of every array
-- is message i.
INSERT INTO outbox (region, key, type, payload)
SELECT m.region, m.key, m.type, m.payload
FROM ROWS FROM (unnest(@regions::text[]), unnest(@keys::text[]), unnest(@types::text[]), unnest(@payloads::bytea[]))
     WITH ORDINALITY AS m(region, key, type, payload, i)
ORDER BY m.i;

-- name: Unsent :many
SELECT id, region, key, type, payload, created_at FROM outbox
WHERE sent_at IS NULL
ORDER BY id
LIMIT @batch;

-- name: MarkSent :exec
UPDATE outbox SET sent_at = now() WHERE id = ANY(@ids::bigint[]);

-- name: DeleteSent :execrows
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < sqlc.arg(sent_before)::timestamptz ORDER BY id LIMIT @batch
);
