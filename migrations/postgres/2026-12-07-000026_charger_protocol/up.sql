-- The OCPP version of a charger's last connection (the subprotocol its handshake chose:
-- ocpp1.6 or ocpp2.0.1), shown to the operator, and the one version an operator may pin it to
-- (its handshake then offers only that one). Keep in step with the other backend.
ALTER TABLE chargers ADD COLUMN ocpp_version TEXT;
ALTER TABLE chargers ADD COLUMN ocpp_version_pin TEXT;
