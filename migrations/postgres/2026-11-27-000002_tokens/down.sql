DROP INDEX ocpp_transactions_open_tag;
ALTER TABLE id_tags DROP COLUMN updated_at;
ALTER TABLE id_tags DROP COLUMN note;
