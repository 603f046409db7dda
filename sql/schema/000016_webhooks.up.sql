-- Webhooks (modules/webhooks). Endpoints and their deliveries live on the region's
-- first shard (its webhook shard): they are the region's, not a user's, and a
-- delivery is written once per event and endpoint, far less often than money moves.
--
-- An endpoint belongs to the gateway that registered it; its secret signs every
-- delivery (Standard Webhooks). After a rotation the previous secret also signs until
-- previous_secret_expires_at, so a receiver can switch without losing a delivery.
CREATE TABLE webhook_endpoints (
    id                        text        PRIMARY KEY,
    gateway                   text        NOT NULL,
    url                       text        NOT NULL,
    event_types               text[]      NOT NULL CHECK (cardinality(event_types) > 0),
    description               text,
    secret                    text        NOT NULL,
    previous_secret           text,
    previous_secret_expires_at timestamptz,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL
);

CREATE INDEX webhook_endpoints_by_gateway ON webhook_endpoints (gateway, id);

-- One delivery per (endpoint, event): the event stream is read at least once, and a
-- redelivered event finds its row already there. ordering_key is the event's user:
-- an endpoint gets one user's events in the stream's order, the next only once the
-- one before it was delivered or given up (status 'failed').
CREATE TABLE webhook_deliveries (
    id              bigserial   PRIMARY KEY,
    endpoint_id     text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    ordering_key    text        NOT NULL,
    payload         bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    -- sending: a dispatcher leased it (until next_attempt_at) and is sending it.
    sending         boolean     NOT NULL DEFAULT false,
    first_attempt_at timestamptz,
    next_attempt_at timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status_code integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (endpoint_id, event_id)
);

-- The dispatcher's work: pending deliveries by when they are due, and the head of
-- each (endpoint, user) queue.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (endpoint_id, ordering_key, id) WHERE status = 'pending';
-- An endpoint's delivery log, newest first.
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, id);
