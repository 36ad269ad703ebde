-- Customer information (OCPP 2.0.1 N09/N10): each CustomerInformation request a station was sent
-- (by csms for the operator, or the operator's command as given), the station's answer, and the
-- report it sent in NotifyCustomerInformation parts (kept by seqNo, joined in order when read).
-- Keep in step with the other backend.
CREATE TABLE customer_information (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    charger_id   BIGINT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
    request_id   BIGINT NOT NULL,
    -- Whom it is about, in words: "idToken ISO14443 TAG-001", "customerIdentifier C-1",
    -- "certificate 5AE1", or "unknown" for a report csms never asked for
    customer     TEXT NOT NULL,
    report       BOOLEAN NOT NULL,
    clear        BOOLEAN NOT NULL,
    -- pending, then the station's answer (Accepted, Rejected, Invalid) or failed: why
    status       TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    answered_at  TIMESTAMP,
    UNIQUE (charger_id, request_id)
);
CREATE TABLE customer_information_parts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    request      BIGINT NOT NULL REFERENCES customer_information (id) ON DELETE CASCADE,
    seq_no       BIGINT NOT NULL,
    data         TEXT NOT NULL,
    tbc          BOOLEAN NOT NULL,
    generated_at TIMESTAMP,
    received_at  TIMESTAMP NOT NULL,
    UNIQUE (request, seq_no)
);
