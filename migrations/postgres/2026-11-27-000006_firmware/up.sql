-- Firmware and diagnostics (issue 10). Keep in step with migrations/sqlite.
-- Firmware images csms hosts for chargers to download over HTTP (`token` is the secret part of the
-- download address).
CREATE TABLE firmware_images (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    token      TEXT NOT NULL UNIQUE,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- UpdateFirmware and GetDiagnostics requests, with every status the charger reported.
CREATE TABLE maintenance_jobs (
    id          BIGSERIAL PRIMARY KEY,
    charger_id  BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('firmware', 'diagnostics')),
    image_id    BIGINT REFERENCES firmware_images (id),
    location    TEXT NOT NULL,
    -- the upload token of a diagnostics job
    token       TEXT UNIQUE,
    status      TEXT NOT NULL,
    -- every status with its time, as JSON [[status, time], ...]
    history     TEXT NOT NULL DEFAULT '[]',
    file_name   TEXT,
    data        BYTEA,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX maintenance_jobs_charger ON maintenance_jobs (charger_id, kind, id);
