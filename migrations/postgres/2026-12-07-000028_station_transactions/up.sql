-- Transactions a station names by its own id (OCPP 2.0.1's transactionId, up to 36 characters),
-- as their events arrive: in order or not, twice, offline, before or after the idToken that says
-- who pays. A row becomes the core's transaction (ocpp_transactions) once an identifier is known;
-- until then it keeps what it has seen: the earliest time, the lowest energy register, the end.
-- Keep in step with the other backend.
CREATE TABLE station_transactions (
    id              BIGSERIAL PRIMARY KEY,
    charger_id      BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    station_tx_id   TEXT NOT NULL,
    connector_id    INTEGER,
    transaction_id  BIGINT REFERENCES ocpp_transactions (id),
    id_tag          TEXT,
    reservation_id  INTEGER,
    started_at      TIMESTAMP NOT NULL,
    meter_start     BIGINT,
    seq_max         BIGINT NOT NULL,
    ended_at        TIMESTAMP,
    meter_stop      BIGINT,
    stopped_reason  TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX station_transactions_key ON station_transactions (charger_id, station_tx_id);
CREATE UNIQUE INDEX station_transactions_core ON station_transactions (transaction_id);
