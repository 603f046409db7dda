DROP TABLE outbox;
DROP FUNCTION outbox_notify();
DROP TABLE tcc_barriers;
DROP TABLE transfer_steps;
DROP TABLE transfers;
DROP TABLE holds;
