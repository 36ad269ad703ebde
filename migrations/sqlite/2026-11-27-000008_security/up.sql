-- OCPP 1.6 security extension messages. Keep in step with migrations/postgres.
-- Certificates csms's charger CA issued (SignCertificate, then CertificateSigned).
CREATE TABLE charger_certificates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id  BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    -- hexadecimal, as the charger reports it in CertificateHashData
    serial      TEXT NOT NULL UNIQUE,
    common_name TEXT NOT NULL,
    not_after   TIMESTAMP NOT NULL,
    pem         TEXT NOT NULL,
    -- Pending (CertificateSigned not answered yet), then the charger's answer (Accepted, Rejected)
    -- or Failed: <why>
    status      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX charger_certificates_charger ON charger_certificates (charger_id, id);
-- The certificates a charger said it has installed (its last GetInstalledCertificateIds answer,
-- less what DeleteCertificate removed since).
CREATE TABLE installed_certificates (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id       BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    certificate_type TEXT NOT NULL,
    hash_algorithm   TEXT NOT NULL,
    issuer_name_hash TEXT NOT NULL,
    issuer_key_hash  TEXT NOT NULL,
    serial_number    TEXT NOT NULL,
    reported_at      TIMESTAMP NOT NULL
);
CREATE INDEX installed_certificates_charger ON installed_certificates (charger_id);
-- Security events: SecurityEventNotification from chargers, and what csms saw itself.
CREATE TABLE security_events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id        BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL,
    tech_info         TEXT,
    -- the charger's timestamp (csms's own events: when it happened)
    charger_timestamp TIMESTAMP,
    received_at       TIMESTAMP NOT NULL,
    critical          BOOLEAN NOT NULL,
    source            TEXT NOT NULL CHECK (source IN ('charger', 'csms'))
);
CREATE INDEX security_events_charger ON security_events (charger_id, id);
-- GetLog and SignedUpdateFirmware requests (requestId), with every status the charger reported.
CREATE TABLE security_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id  BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('SecurityLog', 'DiagnosticsLog', 'SignedFirmware')),
    request_id  BIGINT NOT NULL,
    image_id    BIGINT REFERENCES firmware_images (id),
    location    TEXT NOT NULL,
    -- the upload token of a log request
    token       TEXT UNIQUE,
    status      TEXT NOT NULL,
    -- every status with its time, as JSON [[status, time], ...]
    history     TEXT NOT NULL DEFAULT '[]',
    file_name   TEXT,
    data        BLOB,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX security_jobs_charger ON security_jobs (charger_id, request_id, id);
