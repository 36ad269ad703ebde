-- The OCPP version of a charger's last connection (the subprotocol its handshake chose:
-- ocpp1.6 or ocpp2.0.1), shown to the operator, and the one version an operator may pin it to
-- (its handshake then offers only that one). Keep in step with the other backend.
ALTER TABLE chargers ADD COLUMN ocpp_version TEXT;
ALTER TABLE chargers ADD COLUMN ocpp_version_pin TEXT;
-- An OCPP 2.0.1 station's DeviceDataCtrlr.ItemsPerMessage limits as the operator set them (none:
-- as the station's reports tell, or no limit): GetVariables / SetVariables requests with more
-- items go out as several calls.
ALTER TABLE chargers ADD COLUMN items_per_message_get_variables INTEGER;
ALTER TABLE chargers ADD COLUMN items_per_message_set_variables INTEGER;
ALTER TABLE chargers ADD COLUMN items_per_message_get_report INTEGER;
