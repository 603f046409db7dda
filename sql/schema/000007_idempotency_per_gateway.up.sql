-- An Idempotency-Key belongs to the gateway that sent it and the user it acts for, as
-- the API documents: gateway B reusing a key that gateway A already used for the same
-- user is a new request, not A's replay.
--
-- Records written before this migration do not say which gateway sent them. They keep
-- the empty gateway and answer every gateway until they expire (idempotency.retention),
-- which is exactly how they behaved when written: a retry of such a request still gets
-- its stored answer, whichever gateway retries it.
ALTER TABLE idempotency_records ADD COLUMN gateway text NOT NULL DEFAULT '';
ALTER TABLE idempotency_records ALTER COLUMN gateway DROP DEFAULT;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_pkey;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_pkey PRIMARY KEY (scope, key, gateway);

-- The gateway that sent a deposit or withdrawal, so its Idempotency-Key is shown to
-- that gateway only. NULL for entries written before this migration and for entries
-- no gateway asked for (transfer debits and credits).
ALTER TABLE ledger_entries ADD COLUMN gateway text;
