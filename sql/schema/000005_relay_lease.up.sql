-- The outbox relay's leadership is a lease with an expiry instead of a session
-- advisory lock: a leader cut off by a half-open connection could keep a session lock
-- for as long as the server's TCP stack believed the peer alive (minutes to hours);
-- a lease it cannot renew lapses after its term, and another replica takes over.
CREATE TABLE outbox_relay_lease (
    id         smallint    PRIMARY KEY CHECK (id = 1),
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
INSERT INTO outbox_relay_lease (id, holder, expires_at) VALUES (1, '', '-infinity');

-- Each destination region is relayed on its own, so a region whose brokers are away
-- holds back only its own messages: unsent messages are found by region.
CREATE INDEX outbox_unsent_by_region ON outbox (region, id) WHERE sent_at IS NULL;
DROP INDEX outbox_unsent;
