-- The OCPP version of a charger's last connection (the subprotocol its handshake chose:
-- ocpp1.6 or ocpp2.0.1), shown to the operator. Keep in step with the other backend.
ALTER TABLE chargers ADD COLUMN ocpp_version TEXT;
