-- Reservations (issue 10). Keep in step with migrations/sqlite.
-- `id` is the OCPP reservationId. A reservation holds a connector (connector_id 0: the whole
-- charger) for one idTag until it expires, is cancelled, or a session consumes it.
CREATE TABLE reservations (
    id            BIGSERIAL PRIMARY KEY,
    charger_id    BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    connector_id  INTEGER NOT NULL CHECK (connector_id >= 0),
    customer_id   BIGINT REFERENCES customers (id),
    id_tag        TEXT NOT NULL,
    parent_id_tag TEXT,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'active', 'used', 'cancelled', 'expired', 'refused', 'failed')),
    answer        TEXT,
    expires_at    TIMESTAMP NOT NULL,
    session_id    BIGINT REFERENCES charging_sessions (id),
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
-- Two reservations never hold the same connector, or the same charger as a whole...
CREATE UNIQUE INDEX reservations_one_per_connector ON reservations (charger_id, connector_id)
    WHERE status IN ('pending', 'active');
-- ...and a customer holds one reservation at a time.
CREATE UNIQUE INDEX reservations_one_per_customer ON reservations (customer_id)
    WHERE status IN ('pending', 'active') AND customer_id IS NOT NULL;
CREATE INDEX reservations_expiry ON reservations (expires_at) WHERE status IN ('pending', 'active');
