-- Back to one implicit unit: refused while any user holds a currency other than its
-- default, or any entry, hold, transfer or barrier is in another currency, or any
-- entry is of hash version 2 (the old code cannot verify it).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM balances b JOIN wallets w USING (user_id) WHERE b.currency <> w.default_currency)
       OR EXISTS (SELECT 1 FROM ledger_entries WHERE hash_version <> 1) THEN
        RAISE EXCEPTION 'balances in several currencies, or entries hashed with their currency, exist: cannot go back to one unit';
    END IF;
END $$;

ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed'));
UPDATE users u SET status = w.status FROM wallets w WHERE w.user_id = u.id;

ALTER TABLE tcc_barriers DROP COLUMN currency;
ALTER TABLE transfers DROP COLUMN currency;
DROP INDEX holds_active;
ALTER TABLE holds DROP COLUMN currency;
CREATE INDEX holds_active ON holds (user_id) WHERE status = 'active';
ALTER TABLE ledger_entries DROP COLUMN hash_version, DROP COLUMN currency;

ALTER TABLE balances ADD COLUMN last_seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_hash bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed'));
UPDATE balances b SET last_seq = w.last_seq, last_hash = w.last_hash, status = w.status FROM wallets w WHERE w.user_id = b.user_id;
ALTER TABLE balances DROP CONSTRAINT balances_user_id_fkey;
ALTER TABLE balances DROP CONSTRAINT balances_pkey;
ALTER TABLE balances DROP COLUMN currency;
ALTER TABLE balances ADD PRIMARY KEY (user_id);
ALTER TABLE balances ADD FOREIGN KEY (user_id) REFERENCES users (id);
DROP TABLE wallets;
