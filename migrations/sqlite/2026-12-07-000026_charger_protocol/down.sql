ALTER TABLE chargers DROP COLUMN ocpp_version_pin;
ALTER TABLE chargers DROP COLUMN ocpp_version;
