-- name: Enqueue :exec
INSERT INTO outbox (region, key, type, payload) VALUES (@region, @key, @type, @payload);

-- name: Unsent :many
SELECT id, region, key, type, payload, created_at FROM outbox
WHERE sent_at IS NULL AND id > @after_id
ORDER BY id
LIMIT @batch;

-- name: MarkSent :exec
UPDATE outbox SET sent_at = now() WHERE id = ANY(@ids::bigint[]);

-- name: OldestUnsent :one
-- Age in seconds of the oldest message not yet published (0 when none).
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age_seconds
FROM outbox WHERE sent_at IS NULL;

-- name: DeleteSent :execrows
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < sqlc.arg(sent_before)::timestamptz ORDER BY id LIMIT @batch
);

-- name: SentCancel :one
-- Whether a cancel for the transfer has been published (for the relay's test delay).
SELECT EXISTS (SELECT 1 FROM outbox WHERE key = @key AND type = 'cancel' AND sent_at IS NOT NULL) AS sent;
