-- Smart Charging (issue 10). Keep in step with migrations/postgres.
-- Charging profiles csms sent: the operator's, and the load manager's (one TxProfile per
-- transaction at a station with a power limit). `id` is the chargingProfileId.
CREATE TABLE charging_profiles (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id     BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id   INTEGER NOT NULL CHECK (connector_id >= 0),
    purpose        TEXT NOT NULL CHECK (purpose IN ('ChargePointMaxProfile', 'TxDefaultProfile', 'TxProfile')),
    stack_level    INTEGER NOT NULL CHECK (stack_level >= 0),
    transaction_id BIGINT,
    -- the csChargingProfiles object as sent (JSON)
    profile        TEXT NOT NULL,
    origin         TEXT NOT NULL CHECK (origin IN ('operator', 'load')),
    -- pending (sent), installed (Accepted), rejected, cleared, failed (no answer)
    status         TEXT NOT NULL CHECK (status IN ('pending', 'installed', 'rejected', 'cleared', 'failed')),
    answer         TEXT,
    -- for load profiles: the limit in W
    limit_w        BIGINT,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX charging_profiles_charger ON charging_profiles (charger_id, status);
-- One load profile per transaction.
CREATE UNIQUE INDEX charging_profiles_load_tx ON charging_profiles (transaction_id)
    WHERE origin = 'load' AND transaction_id IS NOT NULL;

-- A station's power limit in W (none: no load management), shared between its transactions.
ALTER TABLE stations ADD COLUMN max_power_w BIGINT CHECK (max_power_w IS NULL OR max_power_w > 0);
