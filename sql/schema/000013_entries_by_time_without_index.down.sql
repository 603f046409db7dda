CREATE INDEX IF NOT EXISTS ledger_entries_user_time ON ledger_entries (user_id, created_at, seq);
