ALTER TABLE chargers DROP COLUMN items_per_message_get_report;
ALTER TABLE chargers DROP COLUMN items_per_message_set_variables;
ALTER TABLE chargers DROP COLUMN items_per_message_get_variables;
ALTER TABLE chargers DROP COLUMN ocpp_version_pin;
ALTER TABLE chargers DROP COLUMN ocpp_version;
