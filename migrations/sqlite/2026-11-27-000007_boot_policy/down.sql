ALTER TABLE chargers DROP COLUMN registration;
