-- Every ledger entry and transfer step used to check its foreign key row by row: a
-- KEY SHARE lock on the user (or transfer) row for each entry, nearly half the cost of
-- appending one (docs/performance.md). Both are guaranteed by the writers instead:
--   * an entry is appended only in a transaction that holds the lock on its user's
--     snapshot row in balances, which references users and is never deleted (users are
--     closed, not removed); `wallet ledger verify` reports any entry whose user has no
--     snapshot;
--   * a transfer's steps are written by the transaction that wrote, or locked, the
--     transfer row.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_user_id_fkey;
ALTER TABLE transfer_steps DROP CONSTRAINT transfer_steps_transfer_id_fkey;
