-- Transactions csms is still asking a charger to stop, per connector. Every StartTransaction looks
-- for force-closed transactions on its connector that the charger no longer runs
-- (`charging::orphans::no_longer_running`); without this index SQLite's planner walks the
-- connector's whole history through `ocpp_transactions_replay`, a cost that grows with every
-- transaction the connector ever had. Keep in step with the other backend.
CREATE INDEX ocpp_transactions_stopping ON ocpp_transactions (charger_id, connector_id)
    WHERE stop_next_at IS NOT NULL;
