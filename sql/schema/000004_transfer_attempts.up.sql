-- The coordinator's recovery sweep: a pending transfer is due for another attempt at
-- next_attempt_at (its credit sent again before the TTL, its cancel requested at the
-- TTL and sent again after it), with attempts counting the tries for the backoff.
-- A lost message therefore never leaves a transfer pending, and a sender's money
-- frozen, until a person notices.
ALTER TABLE transfers ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE transfers ADD COLUMN attempts integer NOT NULL DEFAULT 0;
UPDATE transfers SET next_attempt_at = coalesce(cancel_requested_at, expires_at) WHERE status = 'pending';
CREATE INDEX transfers_due ON transfers (next_attempt_at) WHERE status = 'pending';
DROP INDEX transfers_pending_expiry;
