DROP TABLE leases;
DROP TABLE nodes;
DROP TABLE write_offs;
DELETE FROM wallet_ledger WHERE kind = 'charge';
DROP INDEX wallet_ledger_once_per_session;
CREATE UNIQUE INDEX wallet_ledger_once_per_session
    ON wallet_ledger (session_id, kind)
    WHERE session_id IS NOT NULL;
ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_kind_check;
ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_kind_check
    CHECK (kind IN ('credit', 'charge_hold', 'refund', 'adjustment'));
ALTER TABLE chargers DROP COLUMN security_profile;
ALTER TABLE connectors DROP COLUMN status_since;
DROP INDEX ocpp_transactions_must_stop;
ALTER TABLE ocpp_transactions DROP COLUMN late_stop_at;
ALTER TABLE ocpp_transactions DROP COLUMN stop_attempts;
ALTER TABLE ocpp_transactions DROP COLUMN stop_next_at;
ALTER TABLE ocpp_transactions DROP COLUMN id_tag_status;
DROP INDEX charging_sessions_open;
ALTER TABLE charging_sessions DROP COLUMN stop_note;
ALTER TABLE charging_sessions DROP COLUMN resumed_from;
ALTER TABLE charging_sessions DROP COLUMN request_hash;
ALTER TABLE charging_sessions DROP COLUMN late_cost;
ALTER TABLE charging_sessions DROP COLUMN owner_node;
DROP INDEX charging_sessions_start_tag;
ALTER TABLE charging_sessions DROP COLUMN start_tag;
