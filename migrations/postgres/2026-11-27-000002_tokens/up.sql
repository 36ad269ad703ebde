-- Authorization tokens (issue 10): idTags are CiString, stored upper case; an operator's note and the
-- time of the last change.
UPDATE id_tags SET id_tag = upper(id_tag), parent_id_tag = upper(parent_id_tag);
ALTER TABLE id_tags ADD COLUMN note TEXT;
ALTER TABLE id_tags ADD COLUMN updated_at TIMESTAMP;
-- ConcurrentTx looks for the open transactions of an idTag.
CREATE INDEX ocpp_transactions_open_tag ON ocpp_transactions (upper(id_tag)) WHERE stopped_at IS NULL;
