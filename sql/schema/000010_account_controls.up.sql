-- Account controls: an operator may freeze an account (debits refused, credits still
-- accepted, holds already taken still complete), unfreeze it, or close it (only empty:
-- every operation refused afterwards, and a transfer to it cancelled).
--
-- The status lives on the snapshot row, the row every change to the user's money locks
-- first, so a freeze and a debit are ordered by that lock: a debit that waited for a
-- freeze sees it. users.status mirrors it for reading the user, in the same
-- transaction. Each change is also an entry of the user's hash chain, of a kind of its
-- own and an amount of 0: the ledger's history says when the account was frozen.
ALTER TABLE balances ADD COLUMN status text NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'frozen', 'closed'));

ALTER TABLE users DROP CONSTRAINT users_status_check;
ALTER TABLE users ADD CONSTRAINT users_status_check CHECK (status IN ('active', 'frozen', 'closed'));

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN (
    'deposit', 'withdrawal', 'transfer_debit', 'transfer_credit',
    'account_frozen', 'account_unfrozen', 'account_closed'));

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_amount_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_amount_check CHECK (
    CASE WHEN kind LIKE 'account\_%' THEN amount = 0 ELSE amount > 0 END);
