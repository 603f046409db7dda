-- name: InsertEndpoint :exec
INSERT INTO webhook_endpoints (id, gateway, url, event_types, description, secret, created_at, updated_at)
VALUES (@id, @gateway, @url, @event_types::text[], sqlc.narg(description), @secret, @created_at, @created_at);

-- name: GetEndpoint :one
SELECT * FROM webhook_endpoints WHERE id = @id AND gateway = @gateway;

-- name: ListEndpoints :many
-- A gateway's endpoints, in id (creation) order.
SELECT * FROM webhook_endpoints WHERE gateway = @gateway ORDER BY id;

-- name: EndpointsByID :many
SELECT * FROM webhook_endpoints WHERE id = ANY(@ids::text[]);

-- name: DeleteEndpoint :execrows
DELETE FROM webhook_endpoints WHERE id = @id AND gateway = @gateway;

-- name: RotateSecret :one
-- The new secret signs from now on; the current one keeps signing beside it until
-- @previous_expires_at.
UPDATE webhook_endpoints
SET previous_secret = secret, previous_secret_expires_at = @previous_expires_at, secret = @secret, updated_at = now()
WHERE id = @id AND gateway = @gateway
RETURNING *;

-- name: InsertDeliveries :exec
-- The deliveries of a batch of events, in one statement: each event to every endpoint
-- subscribed to its type and registered before it happened, in the stream's order
-- (ids rise with it); an event read again finds its rows and adds nothing.
INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, ordering_key, payload, next_attempt_at, created_at)
SELECT ep.id, e.event_id, e.event_type, e.ordering_key, e.payload, @now, @now
FROM ROWS FROM (unnest(@event_ids::text[]), unnest(@event_types::text[]), unnest(@ordering_keys::text[]),
                unnest(@event_times::timestamptz[]), unnest(@payloads::bytea[]))
     WITH ORDINALITY AS e(event_id, event_type, ordering_key, event_time, payload, n)
JOIN webhook_endpoints ep ON e.event_type = ANY(ep.event_types) AND ep.created_at <= e.event_time
ORDER BY e.n, ep.id
ON CONFLICT (endpoint_id, event_id) DO NOTHING;

-- name: ClaimDeliveries :many
-- Due deliveries at the head of their (endpoint, user) queue, leased until
-- @lease_until so no other replica sends them meanwhile; at most @per_endpoint per
-- endpoint, so one slow endpoint cannot take every sender. Endpoints in @busy are
-- skipped: this replica is already sending to them as much as it may.
WITH due AS (
    SELECT d.id, d.endpoint_id, row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rank
    FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND NOT (d.endpoint_id = ANY(coalesce(@busy::text[], '{}')))
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                      WHERE e.endpoint_id = d.endpoint_id AND e.ordering_key = d.ordering_key
                        AND e.status = 'pending' AND e.id < d.id)
    ORDER BY d.next_attempt_at
    LIMIT 1000
), picked AS (
    SELECT w.id FROM webhook_deliveries w
    WHERE w.id IN (SELECT due.id FROM due WHERE due.rank <= @per_endpoint::bigint)
    ORDER BY w.id
    LIMIT @batch
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE webhook_deliveries w
SET next_attempt_at = @lease_until, sending = true, attempts = w.attempts + 1,
    first_attempt_at = coalesce(w.first_attempt_at, now()), last_attempt_at = now()
FROM picked
WHERE w.id = picked.id
RETURNING w.id, w.endpoint_id, w.event_id, w.payload, w.attempts, w.first_attempt_at;

-- name: RecordAttempt :exec
-- The outcome of one attempt: delivered, failed for good, or pending again at
-- @next_attempt_at.
UPDATE webhook_deliveries
SET status = @status, next_attempt_at = @next_attempt_at, sending = false, last_status_code = sqlc.narg(status_code),
    last_error = sqlc.narg(error), delivered_at = CASE WHEN @status = 'delivered' THEN now() END
WHERE id = @id;

-- name: ListDeliveries :many
-- An endpoint's deliveries, newest first, below @before_id.
SELECT id, event_id, event_type, status, attempts, first_attempt_at, next_attempt_at, last_attempt_at, last_status_code,
       last_error, delivered_at, created_at
FROM webhook_deliveries
WHERE endpoint_id = @endpoint_id AND id < @before_id
ORDER BY id DESC
LIMIT @page_size;

-- name: Redeliver :one
-- Sends a delivery again as soon as it heads its queue, whatever became of it; one
-- being sent right now (leased, the lease not lapsed) is left as it is: the attempt
-- in flight is the redelivery, and a delivery is never sent twice at once.
UPDATE webhook_deliveries
SET status = 'pending', next_attempt_at = now()
WHERE id = @id AND endpoint_id = @endpoint_id AND NOT (sending AND next_attempt_at > now())
RETURNING id, event_id, event_type, status, attempts, first_attempt_at, next_attempt_at, last_attempt_at, last_status_code,
       last_error, delivered_at, created_at;

-- name: GetDelivery :one
SELECT id, event_id, event_type, status, attempts, first_attempt_at, next_attempt_at, last_attempt_at, last_status_code,
       last_error, delivered_at, created_at
FROM webhook_deliveries
WHERE id = @id AND endpoint_id = @endpoint_id;

-- name: PendingDeliveries :one
-- The deliveries waiting and the age of the oldest (by its event's arrival), for the
-- metrics; it reads the pending rows only (webhook_deliveries_due covers them).
SELECT count(*)::bigint AS pending,
       coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_seconds
FROM webhook_deliveries
WHERE status = 'pending';

-- name: ForgetDeliveries :execrows
-- Removes up to @batch deliveries that ended (delivered or failed) before @before:
-- the delivery log keeps webhooks.log_retention of history.
DELETE FROM webhook_deliveries
WHERE id IN (SELECT d.id FROM webhook_deliveries d
             WHERE d.status <> 'pending' AND d.created_at < @before
             ORDER BY d.id
             LIMIT @batch);
