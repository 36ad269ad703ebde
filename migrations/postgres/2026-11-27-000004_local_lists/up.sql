-- Local Authorization Lists (issue 10). Keep in step with migrations/sqlite.
-- Per charger: the list it holds as csms last sent it and the charger accepted it.
CREATE TABLE local_lists (
    charger_id      BIGINT PRIMARY KEY REFERENCES chargers (id) ON DELETE CASCADE,
    -- the listVersion the charger accepted (0: none sent yet)
    version         INTEGER NOT NULL DEFAULT 0,
    -- what the charger holds: a JSON object idTag -> idTagInfo
    entries         TEXT NOT NULL DEFAULT '{}',
    -- the last GetLocalListVersion answer (-1: the charger does not support local lists)
    charger_version INTEGER,
    -- Full or Differential, and the answer (Accepted, Failed, NotSupported, VersionMismatch, or a call error)
    last_update     TEXT,
    last_status     TEXT,
    -- one update at a time per charger, whichever process sends it
    syncing_until   TIMESTAMP,
    synced_at       TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL
);
