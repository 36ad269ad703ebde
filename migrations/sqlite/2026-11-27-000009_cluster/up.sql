-- Cluster mode (issue 12). Keep in step with migrations/postgres.
-- Which node holds a charger's WebSocket: taken with a conditional upsert when the charger connects,
-- each claim one epoch higher than the last, so a newer connection fences the older one.
CREATE TABLE charger_owners (
    device_id TEXT PRIMARY KEY NOT NULL,
    node_id TEXT NOT NULL,
    epoch BIGINT NOT NULL CHECK (epoch > 0),
    claimed_at TIMESTAMP NOT NULL
);
CREATE INDEX charger_owners_node ON charger_owners (node_id);
