-- Refunds (POST /v1/transfers/{id}/refunds). A refund is a transfer of its own, from
-- the original receiver back to the original sender, that names the transfer it
-- refunds:
--   - transfers.refund_of, on the refund's sender's shard (the original receiver's):
--     the refunds of a transfer that are not cancelled are what its cap counts, and
--     every refund of one transfer is created on that one shard, under one lock;
--   - tcc_barriers.refund_of, on the refund's receiver's shard (the original
--     sender's, where the original transfer's row lives): the refunds credited back,
--     which the original transfer shows.
-- Both are NULL for every other transfer; the partial indexes cost ordinary
-- transfers nothing but the check of their predicate.
ALTER TABLE transfers ADD COLUMN refund_of text;
CREATE INDEX transfers_refunds ON transfers (refund_of) WHERE refund_of IS NOT NULL;

ALTER TABLE tcc_barriers ADD COLUMN refund_of text;
CREATE INDEX tcc_barriers_refunds ON tcc_barriers (refund_of) WHERE refund_of IS NOT NULL;
