CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
DROP INDEX outbox_unsent_by_region;
DROP TABLE outbox_relay_lease;
