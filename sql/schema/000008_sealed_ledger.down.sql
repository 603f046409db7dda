DROP TABLE ledger_seals;
ALTER TABLE ledger_entries DROP COLUMN seal;
