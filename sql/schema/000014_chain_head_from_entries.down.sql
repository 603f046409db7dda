ALTER TABLE wallets ADD COLUMN last_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000';
UPDATE wallets w SET last_seq = e.seq, last_hash = e.hash
FROM (SELECT DISTINCT ON (user_id) user_id, seq, hash FROM ledger_entries ORDER BY user_id, seq DESC) e
WHERE e.user_id = w.user_id;
