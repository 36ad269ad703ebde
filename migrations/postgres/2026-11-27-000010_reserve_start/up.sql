-- A start's reservation in one round trip (issue 13): the same steps as `charging::start::reserve`,
-- run inside the server by one call, in the implicit transaction of that one statement. Every step
-- is a statement of its own, with a snapshot of its own (READ COMMITTED), as when the client sends
-- them one by one: lock the connector row, refuse when the connector is held by a transaction with
-- no session, insert the session (the partial unique index refuses a second open session: 23505),
-- debit the wallet conditionally, write the ledger row and the outbox event. Any failure raises,
-- and the statement's implicit transaction rolls back whole: nothing is written for a loser.
-- Returns no row when a reservation covers the connector: the caller takes the general path,
-- which knows how to claim a customer's own reservation.
-- SQLite has no server side; its migration of the same name is empty.
CREATE FUNCTION csms_reserve_start(
    p_customer BIGINT,
    p_charger BIGINT,
    p_connector INTEGER,
    p_amount BIGINT,
    p_price BIGINT,
    p_uid TEXT,
    p_tag TEXT,
    p_key TEXT,
    p_hash TEXT,
    p_owner TEXT,
    p_now TIMESTAMP
) RETURNS SETOF charging_sessions
LANGUAGE plpgsql AS $$
DECLARE
    v_id BIGINT;
    v_balance BIGINT;
BEGIN
    UPDATE connectors SET status_since = status_since
        WHERE charger_id = p_charger AND connector_id = p_connector;
    IF EXISTS (SELECT 1 FROM reservations
               WHERE charger_id = p_charger AND status IN ('pending', 'active')
                 AND expires_at > p_now AND connector_id IN (0, p_connector)) THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM ocpp_transactions
               WHERE charger_id = p_charger AND connector_id = p_connector
                 AND stopped_at IS NULL AND session_id IS NULL) THEN
        RAISE EXCEPTION 'csms: connector in use';
    END IF;
    INSERT INTO charging_sessions (session_uid, customer_id, charger_id, connector_id, origin,
            id_tag, status, amount, price_per_kwh, idempotency_key, created_at, updated_at,
            start_tag, owner_node, request_hash)
        VALUES (p_uid, p_customer, p_charger, p_connector, 'app', p_tag, 'pending', p_amount,
            p_price, p_key, p_now, p_now, p_tag, p_owner, p_hash)
        RETURNING id INTO v_id;
    UPDATE customers SET balance = balance - p_amount
        WHERE id = p_customer AND balance >= p_amount
        RETURNING balance INTO v_balance;
    IF NOT FOUND THEN
        IF EXISTS (SELECT 1 FROM customers WHERE id = p_customer) THEN
            RAISE EXCEPTION 'csms: insufficient balance';
        END IF;
        RAISE EXCEPTION 'csms: customer not found';
    END IF;
    INSERT INTO wallet_ledger (customer_id, kind, amount, balance_after, session_id, note, created_at)
        VALUES (p_customer, 'charge_hold', -p_amount, v_balance, v_id, 'Prepaid charging session', p_now);
    INSERT INTO events (name, customer_id, charger_id, session_id, payload, created_at)
        VALUES ('wallet.debited', p_customer, NULL, v_id,
            json_build_object('amount', trim_scale(p_amount::NUMERIC / 100),
                              'balance', trim_scale(v_balance::NUMERIC / 100),
                              'kind', 'charge_hold',
                              'note', 'Prepaid charging session')::TEXT,
            p_now);
    RETURN QUERY SELECT * FROM charging_sessions WHERE id = v_id;
END
$$;
