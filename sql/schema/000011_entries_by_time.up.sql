-- A user's entries by time, for the balance at an instant (the newest entry created at
-- or before it, found in O(log n)) and statements over a time window. On a shard with a
-- long ledger, build it first by hand without blocking writes:
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_user_time ON ledger_entries (user_id, created_at, seq);
-- and this migration finds it there.
CREATE INDEX IF NOT EXISTS ledger_entries_user_time ON ledger_entries (user_id, created_at, seq);
