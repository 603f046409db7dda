-- Back to schema 14: refunds lose the link to the transfer they refunded (they stay
-- transfers, and every entry of the ledger stays as it is).
DROP INDEX IF EXISTS tcc_barriers_refunds;
ALTER TABLE tcc_barriers DROP COLUMN refund_of;
DROP INDEX IF EXISTS transfers_refunds;
ALTER TABLE transfers DROP COLUMN refund_of;
