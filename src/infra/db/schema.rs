//! Diesel table definitions, written by hand to match both `migrations/postgres` and `migrations/sqlite`
//! (only types supported by the multi-backend connection: BigInt, Integer, Text, Bool, Timestamp).

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    operators (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customers (id) {
        id -> BigInt,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        id_tag -> Text,
        balance -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tariffs (id) {
        id -> BigInt,
        name -> Text,
        price_per_kwh -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    station_transactions (id) {
        id -> BigInt,
        charger_id -> BigInt,
        station_tx_id -> Text,
        connector_id -> Nullable<Integer>,
        transaction_id -> Nullable<BigInt>,
        id_tag -> Nullable<Text>,
        reservation_id -> Nullable<Integer>,
        started_at -> Timestamp,
        meter_start -> Nullable<BigInt>,
        seq_max -> BigInt,
        ended_at -> Nullable<Timestamp>,
        meter_stop -> Nullable<BigInt>,
        stopped_reason -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customer_information (id) {
        id -> BigInt,
        charger_id -> BigInt,
        request_id -> BigInt,
        customer -> Text,
        report -> Bool,
        clear -> Bool,
        status -> Text,
        requested_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_information_parts (id) {
        id -> BigInt,
        request -> BigInt,
        seq_no -> BigInt,
        data -> Text,
        tbc -> Bool,
        generated_at -> Nullable<Timestamp>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    station_events (id) {
        id -> BigInt,
        charger_id -> BigInt,
        event_id -> BigInt,
        station_timestamp -> Nullable<Timestamp>,
        event_trigger -> Text,
        event_notification_type -> Text,
        component -> Text,
        component_instance -> Nullable<Text>,
        evse_id -> Nullable<Integer>,
        connector_id -> Nullable<Integer>,
        variable -> Text,
        variable_instance -> Nullable<Text>,
        actual_value -> Text,
        cleared -> Bool,
        cause -> Nullable<BigInt>,
        tech_code -> Nullable<Text>,
        tech_info -> Nullable<Text>,
        transaction_id -> Nullable<Text>,
        variable_monitoring_id -> Nullable<BigInt>,
        received_at -> Timestamp,
    }
}

diesel::table! {
    station_variables (id) {
        id -> BigInt,
        charger_id -> BigInt,
        component -> Text,
        component_instance -> Text,
        evse_id -> Integer,
        connector_id -> Integer,
        variable -> Text,
        variable_instance -> Text,
        attribute_type -> Text,
        value -> Nullable<Text>,
        mutability -> Nullable<Text>,
        data_type -> Nullable<Text>,
        unit -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stations (id) {
        id -> BigInt,
        name -> Text,
        address -> Nullable<Text>,
        tariff_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        max_power_w -> Nullable<BigInt>,
    }
}

diesel::table! {
    chargers (id) {
        id -> BigInt,
        device_id -> Text,
        charging_point_id -> Text,
        station_id -> BigInt,
        name -> Nullable<Text>,
        ocpp_password_hash -> Nullable<Text>,
        tariff_id -> Nullable<BigInt>,
        vendor -> Nullable<Text>,
        model -> Nullable<Text>,
        serial_number -> Nullable<Text>,
        firmware_version -> Nullable<Text>,
        iccid -> Nullable<Text>,
        imsi -> Nullable<Text>,
        meter_type -> Nullable<Text>,
        meter_serial_number -> Nullable<Text>,
        status -> Nullable<Text>,
        error_code -> Nullable<Text>,
        last_boot_at -> Nullable<Timestamp>,
        last_heartbeat_at -> Nullable<Timestamp>,
        last_seen_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        security_profile -> Integer,
        registration -> Text,
        auth_cache -> Nullable<Text>,
        pending_password_hash -> Nullable<Text>,
        ocpp_version -> Nullable<Text>,
        ocpp_version_pin -> Nullable<Text>,
        items_per_message_get_variables -> Nullable<Integer>,
        items_per_message_set_variables -> Nullable<Integer>,
        items_per_message_get_report -> Nullable<Integer>,
    }
}

diesel::table! {
    connectors (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        status -> Text,
        error_code -> Text,
        info -> Nullable<Text>,
        vendor_error_code -> Nullable<Text>,
        updated_at -> Timestamp,
        status_since -> Nullable<Timestamp>,
    }
}

diesel::table! {
    charging_sessions (id) {
        id -> BigInt,
        session_uid -> Text,
        customer_id -> Nullable<BigInt>,
        charger_id -> BigInt,
        connector_id -> Integer,
        origin -> Text,
        id_tag -> Text,
        status -> Text,
        amount -> BigInt,
        price_per_kwh -> BigInt,
        transaction_id -> Nullable<BigInt>,
        meter_start -> Nullable<BigInt>,
        meter_last -> Nullable<BigInt>,
        energy_wh -> BigInt,
        cost -> BigInt,
        refund -> Nullable<BigInt>,
        stop_reason -> Nullable<Text>,
        failure_reason -> Nullable<Text>,
        remote_stop_sent -> Bool,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        stopped_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
        start_tag -> Nullable<Text>,
        owner_node -> Nullable<Text>,
        late_cost -> BigInt,
        request_hash -> Nullable<Text>,
        resumed_from -> Nullable<BigInt>,
        stop_note -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    wallet_ledger (id) {
        id -> BigInt,
        customer_id -> BigInt,
        kind -> Text,
        amount -> BigInt,
        balance_after -> BigInt,
        session_id -> Nullable<BigInt>,
        note -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ocpp_transactions (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        id_tag -> Text,
        meter_start -> BigInt,
        started_at -> Timestamp,
        reservation_id -> Nullable<Integer>,
        session_id -> Nullable<BigInt>,
        meter_stop -> Nullable<BigInt>,
        stopped_at -> Nullable<Timestamp>,
        stop_reason -> Nullable<Text>,
        stop_id_tag -> Nullable<Text>,
        created_at -> Timestamp,
        id_tag_status -> Nullable<Text>,
        stop_next_at -> Nullable<Timestamp>,
        stop_attempts -> Integer,
        late_stop_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    meter_values (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        transaction_id -> Nullable<BigInt>,
        sampled_at -> Timestamp,
        energy_wh -> Nullable<BigInt>,
        sampled_values -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    id_tags (id) {
        id -> BigInt,
        id_tag -> Text,
        customer_id -> Nullable<BigInt>,
        status -> Text,
        expiry_date -> Nullable<Timestamp>,
        parent_id_tag -> Nullable<Text>,
        created_at -> Timestamp,
        note -> Nullable<Text>,
        updated_at -> Nullable<Timestamp>,
        id_token_type -> Nullable<Text>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        name -> Text,
        customer_id -> Nullable<BigInt>,
        charger_id -> Nullable<BigInt>,
        session_id -> Nullable<BigInt>,
        payload -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    ocpp_messages (id) {
        id -> BigInt,
        charger_id -> BigInt,
        direction -> Text,
        message_type -> Integer,
        message_id -> Text,
        action -> Nullable<Text>,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    write_offs (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        transaction_id -> Nullable<BigInt>,
        session_id -> Nullable<BigInt>,
        customer_id -> Nullable<BigInt>,
        energy_wh -> BigInt,
        amount -> BigInt,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    nodes (node_id) {
        node_id -> Text,
        started_at -> Timestamp,
        heartbeat_at -> Timestamp,
    }
}

diesel::table! {
    charger_owners (device_id) {
        device_id -> Text,
        node_id -> Text,
        epoch -> BigInt,
        claimed_at -> Timestamp,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    reservations (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        customer_id -> Nullable<BigInt>,
        id_tag -> Text,
        parent_id_tag -> Nullable<Text>,
        status -> Text,
        answer -> Nullable<Text>,
        expires_at -> Timestamp,
        session_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        customer_cancelled_at -> Nullable<Timestamp>,
        ocpp_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    local_lists (charger_id) {
        charger_id -> BigInt,
        version -> Integer,
        entries -> Text,
        charger_version -> Nullable<Integer>,
        last_update -> Nullable<Text>,
        last_status -> Nullable<Text>,
        syncing_until -> Nullable<Timestamp>,
        synced_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    charging_profiles (id) {
        id -> BigInt,
        charger_id -> BigInt,
        connector_id -> Integer,
        purpose -> Text,
        stack_level -> Integer,
        transaction_id -> Nullable<BigInt>,
        profile -> Text,
        origin -> Text,
        status -> Text,
        answer -> Nullable<Text>,
        limit_w -> Nullable<BigInt>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    firmware_images (id) {
        id -> BigInt,
        name -> Text,
        version -> Text,
        token -> Text,
        sha256 -> Text,
        size -> BigInt,
        created_at -> Timestamp,
        file_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    maintenance_jobs (id) {
        id -> BigInt,
        charger_id -> BigInt,
        kind -> Text,
        image_id -> Nullable<BigInt>,
        location -> Text,
        token -> Nullable<Text>,
        status -> Text,
        history -> Text,
        file_name -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        file_id -> Nullable<BigInt>,
        token_expires_at -> Nullable<Timestamp>,
        token_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    charger_certificates (id) {
        id -> BigInt,
        charger_id -> BigInt,
        serial -> Text,
        common_name -> Text,
        not_after -> Timestamp,
        pem -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    installed_certificates (id) {
        id -> BigInt,
        charger_id -> BigInt,
        certificate_type -> Text,
        hash_algorithm -> Text,
        issuer_name_hash -> Text,
        issuer_key_hash -> Text,
        serial_number -> Text,
        reported_at -> Timestamp,
    }
}

diesel::table! {
    security_events (id) {
        id -> BigInt,
        charger_id -> BigInt,
        kind -> Text,
        tech_info -> Nullable<Text>,
        charger_timestamp -> Nullable<Timestamp>,
        received_at -> Timestamp,
        critical -> Bool,
        source -> Text,
    }
}

diesel::table! {
    security_jobs (id) {
        id -> BigInt,
        charger_id -> BigInt,
        kind -> Text,
        request_id -> BigInt,
        image_id -> Nullable<BigInt>,
        location -> Text,
        token -> Nullable<Text>,
        status -> Text,
        history -> Text,
        file_name -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        file_id -> Nullable<BigInt>,
        token_expires_at -> Nullable<Timestamp>,
        token_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    files (id) {
        id -> BigInt,
        size -> BigInt,
        complete -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    file_chunks (file_id, seq) {
        file_id -> BigInt,
        seq -> Integer,
        data -> Binary,
    }
}

diesel::joinable!(chargers -> stations (station_id));
diesel::joinable!(file_chunks -> files (file_id));
diesel::joinable!(charger_certificates -> chargers (charger_id));
diesel::joinable!(installed_certificates -> chargers (charger_id));
diesel::joinable!(security_events -> chargers (charger_id));
diesel::joinable!(security_jobs -> chargers (charger_id));
diesel::joinable!(maintenance_jobs -> chargers (charger_id));
diesel::joinable!(charging_profiles -> chargers (charger_id));
diesel::joinable!(local_lists -> chargers (charger_id));
diesel::joinable!(reservations -> chargers (charger_id));
diesel::joinable!(connectors -> chargers (charger_id));
diesel::joinable!(charging_sessions -> chargers (charger_id));
diesel::joinable!(charging_sessions -> customers (customer_id));
diesel::joinable!(wallet_ledger -> customers (customer_id));
diesel::joinable!(station_events -> chargers (charger_id));
diesel::joinable!(customer_information -> chargers (charger_id));
diesel::joinable!(customer_information_parts -> customer_information (request));
diesel::joinable!(station_variables -> chargers (charger_id));
diesel::joinable!(station_transactions -> chargers (charger_id));
diesel::joinable!(station_transactions -> ocpp_transactions (transaction_id));

diesel::allow_tables_to_appear_in_same_query!(
    customer_information,
    customer_information_parts,
    station_transactions,
    settings,
    operators,
    customers,
    tariffs,
    stations,
    chargers,
    connectors,
    charging_sessions,
    wallet_ledger,
    ocpp_transactions,
    meter_values,
    id_tags,
    events,
    ocpp_messages,
    write_offs,
    nodes,
    leases,
    charger_owners,
    reservations,
    local_lists,
    charging_profiles,
    firmware_images,
    files,
    file_chunks,
    maintenance_jobs,
    charger_certificates,
    installed_certificates,
    security_events,
    security_jobs,
    station_events,
    station_variables,
);
