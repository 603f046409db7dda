ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE transfer_steps ADD CONSTRAINT transfer_steps_transfer_id_fkey FOREIGN KEY (transfer_id) REFERENCES transfers (id);
