-- Seals make the hash chain evidence against whoever can write the database. The chain
-- alone is not: its hashes are unkeyed, so a role that rewrites an entry can recompute
-- every later hash and the snapshot's head. A seal is HMAC-SHA256 of an entry's hash
-- under a key the database never holds (auth.ledger_seal_secret); since each hash
-- covers every entry before it, one valid seal on a user's newest entry vouches for the
-- whole history, and `wallet ledger verify` checks every seal it finds.
--
-- Entries written from now on carry their own seal. Entries written before have none:
-- `wallet ledger seal` checks each user's chain and then seals its newest entry here,
-- once, after the key is deployed.
ALTER TABLE ledger_entries ADD COLUMN seal bytea;

CREATE TABLE ledger_seals (
    user_id   text        NOT NULL,
    seq       bigint      NOT NULL,
    seal      bytea       NOT NULL,
    sealed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, seq)
);

-- As append-only as the entries they vouch for.
CREATE TRIGGER ledger_seals_no_update_delete
    BEFORE UPDATE OR DELETE ON ledger_seals
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
