-- What OCPP 2.0.1 stations tell in NotifyEvent (alerts, periodic and delta events of their
-- monitors, hard-wired notifications): one row per event, newest last. Keep in step with the
-- other backend.
CREATE TABLE station_events (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id              BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    event_id                BIGINT NOT NULL,
    station_timestamp       TIMESTAMP,
    event_trigger           TEXT NOT NULL,
    event_notification_type TEXT NOT NULL,
    component               TEXT NOT NULL,
    component_instance      TEXT,
    evse_id                 INTEGER,
    connector_id            INTEGER,
    variable                TEXT NOT NULL,
    variable_instance       TEXT,
    actual_value            TEXT NOT NULL,
    cleared                 BOOLEAN NOT NULL,
    cause                   BIGINT,
    tech_code               TEXT,
    tech_info               TEXT,
    transaction_id          TEXT,
    variable_monitoring_id  BIGINT,
    received_at             TIMESTAMP NOT NULL
);
CREATE INDEX station_events_charger ON station_events (charger_id, id);
