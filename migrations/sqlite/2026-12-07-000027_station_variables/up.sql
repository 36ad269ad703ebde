-- What OCPP 2.0.1 stations tell of their device model in NotifyReport: one row per component,
-- variable and attribute type (Actual, Target, MinSet, MaxSet), with its value and
-- characteristics. Optional parts of the key are stored as '' and -1 so that the unique index
-- holds on both backends. Keep in step with the other backend.
CREATE TABLE station_variables (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id         BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    component          TEXT NOT NULL,
    component_instance TEXT NOT NULL DEFAULT '',
    evse_id            INTEGER NOT NULL DEFAULT -1,
    connector_id       INTEGER NOT NULL DEFAULT -1,
    variable           TEXT NOT NULL,
    variable_instance  TEXT NOT NULL DEFAULT '',
    attribute_type     TEXT NOT NULL DEFAULT 'Actual',
    value              TEXT,
    mutability         TEXT,
    data_type          TEXT,
    unit               TEXT,
    updated_at         TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX station_variables_key ON station_variables (charger_id, component,
    component_instance, evse_id, connector_id, variable, variable_instance, attribute_type);
