-- name: Enqueue :exec
INSERT INTO outbox (region, key, type, payload) VALUES (@region, @key, @type, @payload);

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
