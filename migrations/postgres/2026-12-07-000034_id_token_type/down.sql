ALTER TABLE id_tags DROP COLUMN id_token_type;
