ALTER TABLE holds ADD CONSTRAINT holds_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE transfers ADD CONSTRAINT transfers_from_user_id_fkey FOREIGN KEY (from_user_id) REFERENCES users (id);
