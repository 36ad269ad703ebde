-- Money-safety across the whole session (issue 9). Keep in step with migrations/sqlite.

-- One-time idTag per app start: a StartTransaction maps to exactly one session.
ALTER TABLE charging_sessions ADD COLUMN start_tag TEXT;
CREATE UNIQUE INDEX charging_sessions_start_tag ON charging_sessions (start_tag) WHERE start_tag IS NOT NULL;
-- The node whose start request created a pending session (recovery leaves live nodes' work alone).
ALTER TABLE charging_sessions ADD COLUMN owner_node TEXT;
-- Energy cost beyond the hold (a late StopTransaction, an overrun), charged from the wallet.
ALTER TABLE charging_sessions ADD COLUMN late_cost BIGINT NOT NULL DEFAULT 0 CHECK (late_cost >= 0);
-- What an Idempotency-Key was first used for (a different body with the same key is refused).
ALTER TABLE charging_sessions ADD COLUMN request_hash TEXT;
-- A late StartTransaction re-opens a failed start as a new session with its own hold.
ALTER TABLE charging_sessions ADD COLUMN resumed_from BIGINT;
-- Why an operator closed it, or what evidence settled it.
ALTER TABLE charging_sessions ADD COLUMN stop_note TEXT;
CREATE INDEX charging_sessions_open ON charging_sessions (charger_id, connector_id)
    WHERE status IN ('pending', 'active', 'stopping');

-- The idTagInfo.status a transaction was answered with; transactions that must be stopped.
ALTER TABLE ocpp_transactions ADD COLUMN id_tag_status TEXT;
ALTER TABLE ocpp_transactions ADD COLUMN stop_next_at TIMESTAMP;
ALTER TABLE ocpp_transactions ADD COLUMN stop_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ocpp_transactions ADD COLUMN late_stop_at TIMESTAMP;
CREATE INDEX ocpp_transactions_must_stop ON ocpp_transactions (stop_next_at)
    WHERE stop_next_at IS NOT NULL AND stopped_at IS NULL;

-- When a connector's status last changed (not merely re-reported).
ALTER TABLE connectors ADD COLUMN status_since TIMESTAMP;
UPDATE connectors SET status_since = updated_at;

-- 0 = no authentication (only when an operator says so), 1 = HTTP Basic auth over ws.
ALTER TABLE chargers ADD COLUMN security_profile INTEGER NOT NULL DEFAULT 1
    CHECK (security_profile BETWEEN 0 AND 3);
UPDATE chargers SET security_profile = 0 WHERE ocpp_password_hash IS NULL;

-- idTags are CiString: stored upper case, compared upper case.
UPDATE customers SET id_tag = upper(id_tag);

-- A late charge: energy beyond the hold, debited from the wallet (at most once per session).
ALTER TABLE wallet_ledger DROP CONSTRAINT wallet_ledger_kind_check;
ALTER TABLE wallet_ledger ADD CONSTRAINT wallet_ledger_kind_check
    CHECK (kind IN ('credit', 'charge_hold', 'refund', 'adjustment', 'charge'));
-- A session is debited once for its hold and refunded once, whatever the code does. Charges beyond
-- the hold are guarded by the session's own state changes (settlement, late StopTransaction).
DROP INDEX wallet_ledger_once_per_session;
CREATE UNIQUE INDEX wallet_ledger_once_per_session
    ON wallet_ledger (session_id, kind)
    WHERE session_id IS NOT NULL AND kind <> 'charge';

-- Energy that was delivered but could not be billed, for the operator to see.
CREATE TABLE write_offs (
    id             BIGSERIAL PRIMARY KEY,
    charger_id     BIGINT NOT NULL REFERENCES chargers (id),
    connector_id   INTEGER NOT NULL,
    transaction_id BIGINT REFERENCES ocpp_transactions (id),
    session_id     BIGINT REFERENCES charging_sessions (id),
    customer_id    BIGINT REFERENCES customers (id),
    energy_wh      BIGINT NOT NULL CHECK (energy_wh >= 0),
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    reason         TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX write_offs_created ON write_offs (id);

-- Processes sharing the database: each heartbeats its row; a node whose heartbeat is older than
-- its lease is gone.
CREATE TABLE nodes (
    node_id      TEXT PRIMARY KEY,
    started_at   TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- Named leases (one holder at a time), e.g. the outbox relay's leadership.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
