-- Issue 19 (trust at the edges).
-- A transaction csms closed on its own side (an operator's force-close) is still asked to stop
-- while the charger runs it: "must stop" is `stop_next_at IS NOT NULL`, whatever `stopped_at` says.
DROP INDEX ocpp_transactions_must_stop;
CREATE INDEX ocpp_transactions_must_stop ON ocpp_transactions (stop_next_at)
    WHERE stop_next_at IS NOT NULL;
-- The customer cancelled a failed start that could still have been resumed by a late
-- StartTransaction: it never will be.
ALTER TABLE charging_sessions ADD COLUMN cancelled_at TIMESTAMP;
-- Write-offs are reconciled per session (energy x price = paid + written off).
CREATE INDEX write_offs_session ON write_offs (session_id) WHERE session_id IS NOT NULL;
-- What csms knows of the charger's authorization cache (AuthorizationCacheEnabled): NULL unknown,
-- 'off' (read or set false), 'operator' (an operator set it: left alone), 'unsupported'.
ALTER TABLE chargers ADD COLUMN auth_cache TEXT;
-- When the customer cancelled their own reservation (a long-held one counts as a no-show).
ALTER TABLE reservations ADD COLUMN customer_cancelled_at TIMESTAMP;
-- The reservationId the charger knows: csms numbers its own reservations with their row id; an
-- operator's ReserveNow through the commands API goes out as given, with the operator's id. A
-- charger holds one reservation per id (a ReserveNow with a held id replaces it).
ALTER TABLE reservations ADD COLUMN ocpp_id BIGINT;
UPDATE reservations SET ocpp_id = id;
CREATE UNIQUE INDEX reservations_ocpp_id_holding ON reservations (charger_id, ocpp_id)
    WHERE status IN ('pending', 'active');
-- A new password sent in ChangeConfiguration AuthorizationKey and not yet confirmed: a charger that
-- accepts it and reconnects at once is let in with it (and proves it took it).
ALTER TABLE chargers ADD COLUMN pending_password_hash TEXT;
