-- csms schema (PostgreSQL). Money is BIGINT minor units (paise); timestamps are UTC.
-- Keep in step with migrations/sqlite: the same tables, columns, constraints and indexes.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE operators (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE customers (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    id_tag        TEXT NOT NULL UNIQUE CHECK (length(id_tag) BETWEEN 1 AND 20),
    balance       BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE tariffs (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    price_per_kwh BIGINT NOT NULL CHECK (price_per_kwh >= 0),
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE stations (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    address    TEXT,
    tariff_id  BIGINT REFERENCES tariffs (id),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE chargers (
    id                  BIGSERIAL PRIMARY KEY,
    device_id           TEXT NOT NULL UNIQUE,
    charging_point_id   TEXT NOT NULL UNIQUE,
    station_id          BIGINT NOT NULL REFERENCES stations (id),
    name                TEXT,
    ocpp_password_hash  TEXT,
    tariff_id           BIGINT REFERENCES tariffs (id),
    vendor              TEXT,
    model               TEXT,
    serial_number       TEXT,
    firmware_version    TEXT,
    iccid               TEXT,
    imsi                TEXT,
    meter_type          TEXT,
    meter_serial_number TEXT,
    status              TEXT,
    error_code          TEXT,
    last_boot_at        TIMESTAMP,
    last_heartbeat_at   TIMESTAMP,
    last_seen_at        TIMESTAMP,
    created_at          TIMESTAMP NOT NULL
);

CREATE TABLE connectors (
    id                BIGSERIAL PRIMARY KEY,
    charger_id        BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id      INTEGER NOT NULL CHECK (connector_id > 0),
    status            TEXT NOT NULL,
    error_code        TEXT NOT NULL,
    info              TEXT,
    vendor_error_code TEXT,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (charger_id, connector_id)
);

CREATE TABLE charging_sessions (
    id               BIGSERIAL PRIMARY KEY,
    session_uid      TEXT NOT NULL UNIQUE,
    customer_id      BIGINT REFERENCES customers (id),
    charger_id       BIGINT NOT NULL REFERENCES chargers (id),
    connector_id     INTEGER NOT NULL,
    origin           TEXT NOT NULL CHECK (origin IN ('app', 'local')),
    id_tag           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'active', 'stopping', 'completed', 'failed')),
    amount           BIGINT NOT NULL CHECK (amount >= 0),
    price_per_kwh    BIGINT NOT NULL CHECK (price_per_kwh >= 0),
    transaction_id   BIGINT,
    meter_start      BIGINT,
    meter_last       BIGINT,
    energy_wh        BIGINT NOT NULL DEFAULT 0,
    cost             BIGINT NOT NULL DEFAULT 0 CHECK (cost >= 0 AND cost <= amount OR origin = 'local'),
    refund           BIGINT,
    stop_reason      TEXT,
    failure_reason   TEXT,
    remote_stop_sent BOOLEAN NOT NULL DEFAULT FALSE,
    idempotency_key  TEXT,
    created_at       TIMESTAMP NOT NULL,
    started_at       TIMESTAMP,
    stopped_at       TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL
);
-- The heart of the seed scenario: at most one open session per connector, enforced by the database.
CREATE UNIQUE INDEX charging_sessions_one_open_per_connector
    ON charging_sessions (charger_id, connector_id)
    WHERE status IN ('pending', 'active', 'stopping');
CREATE UNIQUE INDEX charging_sessions_idempotency
    ON charging_sessions (customer_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX charging_sessions_transaction
    ON charging_sessions (transaction_id)
    WHERE transaction_id IS NOT NULL;
CREATE INDEX charging_sessions_customer ON charging_sessions (customer_id, id);
CREATE INDEX charging_sessions_status ON charging_sessions (status);

CREATE TABLE wallet_ledger (
    id            BIGSERIAL PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers (id),
    kind          TEXT NOT NULL CHECK (kind IN ('credit', 'charge_hold', 'refund', 'adjustment')),
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    session_id    BIGINT REFERENCES charging_sessions (id),
    note          TEXT,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX wallet_ledger_customer ON wallet_ledger (customer_id, id);
-- A session is debited at most once and refunded at most once, whatever the code does.
CREATE UNIQUE INDEX wallet_ledger_once_per_session
    ON wallet_ledger (session_id, kind)
    WHERE session_id IS NOT NULL;

CREATE TABLE ocpp_transactions (
    id             BIGSERIAL PRIMARY KEY,
    charger_id     BIGINT NOT NULL REFERENCES chargers (id),
    connector_id   INTEGER NOT NULL,
    id_tag         TEXT NOT NULL,
    meter_start    BIGINT NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    reservation_id INTEGER,
    session_id     BIGINT REFERENCES charging_sessions (id),
    meter_stop     BIGINT,
    stopped_at     TIMESTAMP,
    stop_reason    TEXT,
    stop_id_tag    TEXT,
    created_at     TIMESTAMP NOT NULL
);
-- A replayed StartTransaction (same charger, connector, idTag, meterStart, timestamp) is the same transaction.
CREATE UNIQUE INDEX ocpp_transactions_replay
    ON ocpp_transactions (charger_id, connector_id, id_tag, meter_start, started_at);
CREATE INDEX ocpp_transactions_open
    ON ocpp_transactions (charger_id, connector_id)
    WHERE stopped_at IS NULL;

CREATE TABLE meter_values (
    id             BIGSERIAL PRIMARY KEY,
    charger_id     BIGINT NOT NULL,
    connector_id   INTEGER NOT NULL,
    transaction_id BIGINT,
    sampled_at     TIMESTAMP NOT NULL,
    energy_wh      BIGINT,
    sampled_values TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX meter_values_transaction ON meter_values (transaction_id);
CREATE INDEX meter_values_charger ON meter_values (charger_id, id);

CREATE TABLE id_tags (
    id            BIGSERIAL PRIMARY KEY,
    id_tag        TEXT NOT NULL UNIQUE,
    customer_id   BIGINT REFERENCES customers (id),
    status        TEXT NOT NULL DEFAULT 'Accepted',
    expiry_date   TIMESTAMP,
    parent_id_tag TEXT,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE events (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    customer_id  BIGINT,
    charger_id   BIGINT,
    session_id   BIGINT,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
CREATE INDEX events_unpublished ON events (id) WHERE published_at IS NULL;
CREATE INDEX events_customer ON events (customer_id, id);

CREATE TABLE ocpp_messages (
    id           BIGSERIAL PRIMARY KEY,
    charger_id   BIGINT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    message_type INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    action       TEXT,
    payload      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX ocpp_messages_charger ON ocpp_messages (charger_id, id);
