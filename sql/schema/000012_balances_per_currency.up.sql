-- Balances per currency. Until now a user held one balance in one implicit unit; from
-- here a user holds one balance per currency, and every entry, hold, transfer and
-- barrier names its currency.
--
-- A user's history stays ONE hash chain, whatever the currencies: one sequence, one
-- head, one lock. The wallet row (new) is that head and the account's status: every
-- change to a user's money locks it first, so a freeze or a close is ordered against
-- debits in every currency, a close can see that every balance is zero, and a
-- statement is one sequence. The balances rows (one per user and currency) are
-- written only under that lock.
--
-- Existing data moves to the region's default currency with no change of any balance.
-- `wallet migrate` passes currencies.default as the session setting
-- wallet.default_currency; run by hand, set it first (SET wallet.default_currency =
-- 'EUR'). The new columns of history tables get it as a constant default that
-- PostgreSQL records once in its catalogue: no row of ledger_entries is rewritten
-- (none could be: the table is append-only), yet every old row reads the default
-- currency. Old entries keep hash version 1, which does not cover the currency; new
-- entries are version 2, which does.
DO $$
BEGIN
    IF coalesce(current_setting('wallet.default_currency', true), '') !~ '^[A-Z][A-Z0-9]{2,11}$' THEN
        RAISE EXCEPTION 'wallet.default_currency is not set: run `wallet migrate up`, or SET wallet.default_currency first';
    END IF;
END $$;

CREATE TABLE wallets (
    user_id          text        PRIMARY KEY REFERENCES users (id),
    default_currency text        NOT NULL,
    status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
    last_seq         bigint      NOT NULL DEFAULT 0,
    last_hash        bytea       NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    updated_at       timestamptz NOT NULL DEFAULT now()
);

INSERT INTO wallets (user_id, default_currency, status, last_seq, last_hash, updated_at)
SELECT user_id, current_setting('wallet.default_currency'), status, last_seq, last_hash, updated_at FROM balances;

ALTER TABLE balances ADD COLUMN currency text NOT NULL DEFAULT current_setting('wallet.default_currency');
ALTER TABLE balances ALTER COLUMN currency DROP DEFAULT;
ALTER TABLE balances DROP CONSTRAINT balances_pkey;
ALTER TABLE balances ADD PRIMARY KEY (user_id, currency);
ALTER TABLE balances DROP CONSTRAINT balances_user_id_fkey;
ALTER TABLE balances ADD FOREIGN KEY (user_id) REFERENCES wallets (user_id);
ALTER TABLE balances DROP COLUMN last_seq, DROP COLUMN last_hash, DROP COLUMN status;

ALTER TABLE ledger_entries ADD COLUMN currency text NOT NULL DEFAULT current_setting('wallet.default_currency');
ALTER TABLE ledger_entries ALTER COLUMN currency DROP DEFAULT;
ALTER TABLE ledger_entries ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));
ALTER TABLE ledger_entries ALTER COLUMN hash_version DROP DEFAULT;

ALTER TABLE holds ADD COLUMN currency text NOT NULL DEFAULT current_setting('wallet.default_currency');
ALTER TABLE holds ALTER COLUMN currency DROP DEFAULT;
DROP INDEX holds_active;
CREATE INDEX holds_active ON holds (user_id, currency) WHERE status = 'active';

ALTER TABLE transfers ADD COLUMN currency text NOT NULL DEFAULT current_setting('wallet.default_currency');
ALTER TABLE transfers ALTER COLUMN currency DROP DEFAULT;

ALTER TABLE tcc_barriers ADD COLUMN currency text NOT NULL DEFAULT current_setting('wallet.default_currency');
ALTER TABLE tcc_barriers ALTER COLUMN currency DROP DEFAULT;

-- users.status mirrored the snapshot's status for reading a user; the wallet row is
-- now that status, read with the user.
ALTER TABLE users DROP COLUMN status;
