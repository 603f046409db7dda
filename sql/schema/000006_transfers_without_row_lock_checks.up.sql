-- The same trade as migration 3, for the rows a transfer create and its capture
-- write: each foreign-key check took a KEY SHARE lock on the sender's user row, per
-- transfer and per hold. Both rows are only ever written in a transaction that holds
-- the lock on the sender's snapshot row, which references users.
ALTER TABLE transfers DROP CONSTRAINT transfers_from_user_id_fkey;
ALTER TABLE holds DROP CONSTRAINT holds_user_id_fkey;
