DROP TABLE idempotency_records;
DROP TABLE ledger_entries;
DROP FUNCTION ledger_entries_append_only();
DROP TABLE balances;
DROP TABLE users;
