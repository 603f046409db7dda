CREATE INDEX transfers_pending_expiry ON transfers (expires_at) WHERE status = 'pending' AND cancel_requested_at IS NULL;
DROP INDEX transfers_due;
ALTER TABLE transfers DROP COLUMN attempts;
ALTER TABLE transfers DROP COLUMN next_attempt_at;
