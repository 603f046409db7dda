-- Users, their balance snapshots and the append-only ledger. Every table here lives on
-- the user's home shard, so one shard transaction covers all of one user's rows.

CREATE TABLE users (
    id         text        PRIMARY KEY,
    region     text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The balance snapshot: updated in the same transaction as every ledger entry and hold
-- change, so a balance read is one row whatever the length of the history. last_seq and
-- last_hash let the next entry be chained without reading the previous one.
CREATE TABLE balances (
    user_id    text          PRIMARY KEY REFERENCES users (id),
    balance    numeric(78,0) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    frozen     numeric(78,0) NOT NULL DEFAULT 0 CHECK (frozen >= 0),
    last_seq   bigint        NOT NULL DEFAULT 0,
    last_hash  bytea         NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    updated_at timestamptz   NOT NULL DEFAULT now(),
    CHECK (frozen <= balance)
);

CREATE TABLE ledger_entries (
    user_id         text          NOT NULL REFERENCES users (id),
    seq             bigint        NOT NULL CHECK (seq > 0),
    kind            text          NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'transfer_debit', 'transfer_credit')),
    amount          numeric(78,0) NOT NULL CHECK (amount > 0),
    balance_after   numeric(78,0) NOT NULL CHECK (balance_after >= 0),
    transfer_id     text,
    idempotency_key text,
    metadata        jsonb,
    created_at      timestamptz   NOT NULL,
    prev_hash       bytea         NOT NULL,
    hash            bytea         NOT NULL,
    PRIMARY KEY (user_id, seq),
    CHECK ((kind IN ('transfer_debit', 'transfer_credit')) = (transfer_id IS NOT NULL))
);

-- One debit and one credit per transfer, whatever the idempotency records say.
CREATE UNIQUE INDEX ledger_entries_transfer_kind ON ledger_entries (transfer_id, kind) WHERE transfer_id IS NOT NULL;

-- Append-only in the database itself: no role the application connects as (not even
-- the table owner) can rewrite or remove history.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER ledger_entries_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- Idempotency records: the fingerprint of the first request under a key and the exact
-- response it got, kept on the acting user's shard and written in the same transaction
-- as the effect, so a record exists exactly when the effect does.
CREATE TABLE idempotency_records (
    scope       text        NOT NULL,
    key         text        NOT NULL,
    fingerprint bytea       NOT NULL,
    status_code integer     NOT NULL,
    response    bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_records_expires_at ON idempotency_records (expires_at);
