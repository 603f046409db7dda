-- The gateway is part of the hash of every entry that records one: dropping the column
-- would make `wallet ledger verify` report those entries as tampered. Refuse instead.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_entries WHERE gateway IS NOT NULL) THEN
        RAISE EXCEPTION 'ledger entries record their gateway in their hash; this migration cannot be undone';
    END IF;
END;
$$;
ALTER TABLE ledger_entries DROP COLUMN gateway;

-- Back to one record per (user, key): keep the oldest of each.
DELETE FROM idempotency_records a USING idempotency_records b
WHERE a.scope = b.scope AND a.key = b.key
  AND (a.created_at, a.gateway) > (b.created_at, b.gateway);
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_pkey;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_pkey PRIMARY KEY (scope, key);
ALTER TABLE idempotency_records DROP COLUMN gateway;
