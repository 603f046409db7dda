-- Migration 11's index on (user_id, created_at, seq) cost every write about a sixth of
-- its rate (docs/performance.md). A user's entries are appended under the wallet's
-- lock and stamped after it is taken, so their creation times rise with seq: the
-- balance at an instant and a statement's window find their entries by binary search
-- over the primary key instead (sql/queries/ledger/entries.sql, SeqBefore), and no
-- write maintains an index for them.
DROP INDEX IF EXISTS ledger_entries_user_time;
