ALTER TABLE chargers DROP COLUMN pending_password_hash;
DROP INDEX reservations_ocpp_id_holding;
ALTER TABLE reservations DROP COLUMN ocpp_id;
ALTER TABLE reservations DROP COLUMN customer_cancelled_at;
ALTER TABLE chargers DROP COLUMN auth_cache;
DROP INDEX write_offs_session;
ALTER TABLE charging_sessions DROP COLUMN cancelled_at;
DROP INDEX ocpp_transactions_must_stop;
CREATE INDEX ocpp_transactions_must_stop ON ocpp_transactions (stop_next_at)
    WHERE stop_next_at IS NOT NULL AND stopped_at IS NULL;
