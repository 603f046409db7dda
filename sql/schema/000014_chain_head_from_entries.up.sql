-- The head of a user's chain (its newest entry's sequence number and hash) is read
-- from that entry, one probe of the primary key under the wallet's lock, instead of
-- being written to the wallet row on every change: with balances per currency, that
-- write made every change to money update two rows where it had updated one, and cost
-- same-shard transfers and a hot account about a fifth of their rate
-- (docs/performance.md). The wallet row is still what every change locks first; it is
-- written only when the account's status changes.
ALTER TABLE wallets DROP COLUMN last_seq, DROP COLUMN last_hash;
