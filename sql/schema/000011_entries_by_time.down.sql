DROP INDEX IF EXISTS ledger_entries_user_time;
