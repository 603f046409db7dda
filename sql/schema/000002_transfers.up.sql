-- Transfers and the TCC protocol. Each row lives on the shard of the user it belongs
-- to: holds and transfers on the sender's shard (a transfer id hashes to its sender's
-- bucket), barriers on the receiver's shard, outbox messages on the shard whose
-- transaction wrote them.

-- Frozen money. balances.frozen always equals the sum of a user's active holds.
CREATE TABLE holds (
    transfer_id text          PRIMARY KEY,
    user_id     text          NOT NULL REFERENCES users (id),
    amount      numeric(78,0) NOT NULL CHECK (amount > 0),
    status      text          NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'captured', 'released')),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX holds_active ON holds (user_id) WHERE status = 'active';

-- A transfer as its sender's shard (the coordinator) sees it.
CREATE TABLE transfers (
    id                  text          PRIMARY KEY,
    from_user_id        text          NOT NULL REFERENCES users (id),
    to_user_id          text          NOT NULL,
    amount              numeric(78,0) NOT NULL CHECK (amount > 0),
    status              text          NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled')),
    reason              text,
    metadata            jsonb,
    created_at          timestamptz   NOT NULL,
    updated_at          timestamptz   NOT NULL,
    expires_at          timestamptz   NOT NULL,
    cancel_requested_at timestamptz,
    CHECK ((status = 'cancelled') = (reason IS NOT NULL))
);

CREATE INDEX transfers_by_sender ON transfers (from_user_id, id DESC);
CREATE INDEX transfers_pending_expiry ON transfers (expires_at) WHERE status = 'pending' AND cancel_requested_at IS NULL;

-- The timeline of protocol steps seen by the sender's side.
CREATE TABLE transfer_steps (
    transfer_id text        NOT NULL REFERENCES transfers (id),
    step        text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (transfer_id, step)
);

-- TCC barriers on the receiver's shard: one row per (transfer, branch). Inserting
-- the row is what makes a participant step happen at most once; a 'cancel' row makes
-- a late 'credit' refuse (anti-hanging). Credited rows are the receiver's incoming
-- transfers.
CREATE TABLE tcc_barriers (
    transfer_id  text          NOT NULL,
    branch       text          NOT NULL CHECK (branch IN ('credit', 'cancel')),
    to_user_id   text          NOT NULL,
    from_user_id text          NOT NULL,
    amount       numeric(78,0) NOT NULL,
    outcome      text          NOT NULL CHECK (outcome IN ('credited', 'refused', 'cancelled')),
    reason       text,
    metadata     jsonb,
    created_at   timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (transfer_id, branch)
);

CREATE INDEX tcc_barriers_incoming ON tcc_barriers (to_user_id, transfer_id DESC) WHERE branch = 'credit' AND outcome = 'credited';

-- The transactional outbox: messages written in the same transaction as the state
-- change they announce, published in id order by the shard's one active relay.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    region     text        NOT NULL,
    key        text        NOT NULL,
    type       text        NOT NULL,
    payload    bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Wake the relay as soon as a message commits (NOTIFY is delivered at commit).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wallet_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
