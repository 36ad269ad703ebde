ALTER TABLE chargers DROP COLUMN ocpp_version;
