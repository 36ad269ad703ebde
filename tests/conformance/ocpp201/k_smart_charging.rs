//! K Smart Charging: the operator-driven cases (the operator's SetChargingProfile,
//! GetChargingProfiles, ClearChargingProfile, GetCompositeSchedule and RequestStartTransaction
//! with a profile, relayed as given) and the station's reports (ReportChargingProfiles,
//! NotifyChargingLimit, ClearedChargingLimit: answered empty and kept in the message log). The
//! ISO 15118 ones (TC_K_53 to TC_K_59) are in `k_iso15118`.

use super::*;

/// The operator's `action` with `body`, relayed as given and answered `answer` by the station:
/// the operator's answer.
pub(super) async fn relay_as_given(
    c: &C201<'_>,
    st: &mut Station,
    action: &str,
    body: Value,
    answer: Value,
) -> Value {
    let request = c.command(action, body.clone());
    let b = relayed(st, request, action, body, answer).await;
    assert_eq!(b["action"], action, "{b}");
    b
}

/// The operator's `action` answered with a CALLERROR `code` by the station: 502, and the station
/// goes on as before.
pub(super) async fn refused_with(
    c: &C201<'_>,
    st: &mut Station,
    action: &str,
    body: Value,
    code: &str,
) {
    let request = c.command(action, body.clone());
    let f = st.frame().await;
    assert_eq!(f[2], action);
    assert_eq!(f[3], body, "{action} as given");
    st.send(json!([4, f[1], code, "not here", {}])).await;
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 502, "the station's CALLERROR, relayed: {b}");
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

/// The station's `action` CALL with `payload` is in csms's message log (with its empty answer).
pub(super) async fn logged_call(c: &C201<'_>, action: &str, payload: &Value) {
    let path = format!("/api/admin/chargers/{}/messages?limit=50", c.device);
    for _ in 0..40 {
        let (s, b) = c.app.get(&path, Some(&c.admin)).await;
        assert_eq!(s, 200, "{b}");
        let found =
            b["messages"].as_array().into_iter().flatten().any(|m| {
                m["direction"] == "in" && m["action"] == action && m["frame"][3] == *payload
            });
        if found {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{action} {payload} not in the message log");
}

/// The station sends `action`: answered `{}` (never NotSupported), and logged.
pub(super) async fn reported(c: &C201<'_>, st: &mut Station, action: &str, payload: Value) {
    let a = st
        .call(action, payload.clone())
        .await
        .unwrap_or_else(|e| panic!("{action}: {e:?}"));
    assert_eq!(a, json!({}), "{action}");
    logged_call(c, action, &payload).await;
}

/// A charging profile: `id`, `purpose`, `kind`, one schedule of 300 s in A with one period
/// (`limit`, 3 phases), starting now when `start` (Absolute and Recurring), valid for a day.
fn profile(id: i64, purpose: &str, kind: &str, limit: f64, start: bool) -> Value {
    let mut schedule = json!({"id": id, "chargingRateUnit": "A", "duration": 300,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": 3}]});
    if start {
        schedule["startSchedule"] = json!(now_micros());
    }
    let mut p = json!({"id": id, "stackLevel": 0, "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind, "chargingSchedule": [schedule]});
    if purpose != "TxProfile" {
        p["validFrom"] = json!(now_micros());
        p["validTo"] = json!(
            (chrono::Utc::now() + chrono::Duration::days(1))
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        );
    }
    p
}

/// SetChargingProfile for `evse` with `profile`, answered `answer`.
async fn set_profile(c: &C201<'_>, st: &mut Station, evse: i64, profile: Value, answer: &str) {
    let body = json!({"evseId": evse, "chargingProfile": profile});
    let b = relay_as_given(c, st, "SetChargingProfile", body, json!({"status": answer})).await;
    assert_eq!(b["response"]["status"], answer);
}

/// A TxDefaultProfile on `evse`, limit 6.0 A (TC_K_01, TC_K_10).
async fn tx_default(c: &C201<'_>, evse: i64) {
    let mut st = c.booted().await;
    let p = profile(100 + evse, "TxDefaultProfile", "Absolute", 6.0, true);
    set_profile(c, &mut st, evse, p, "Accepted").await;
}

pub async fn tc_k_01(c: &C201<'_>) {
    tx_default(c, 1).await;
}

pub async fn tc_k_02(c: &C201<'_>) {
    let mut st = c.booted().await;
    let p = profile(102, "TxProfile", "Relative", 7.0, false);
    assert!(p["chargingSchedule"][0].get("startSchedule").is_none());
    set_profile(c, &mut st, 1, p, "Rejected").await;
}

pub async fn tc_k_03(c: &C201<'_>) {
    let mut st = c.booted().await;
    let p = profile(103, "ChargingStationMaxProfile", "Absolute", 8.0, true);
    set_profile(c, &mut st, 0, p, "Accepted").await;
}

/// The same profile id twice: the second replaces the first on the station.
pub async fn tc_k_04(c: &C201<'_>) {
    let mut st = c.booted().await;
    for limit in [8.0, 6.0] {
        let p = profile(104, "TxDefaultProfile", "Absolute", limit, true);
        set_profile(c, &mut st, 1, p, "Accepted").await;
    }
}

/// A ReportChargingProfiles of request `request` for `evse` with `profiles`.
fn report(request: i64, source: &str, evse: i64, profiles: Vec<Value>, tbc: bool) -> Value {
    json!({"requestId": request, "chargingLimitSource": source, "evseId": evse, "tbc": tbc,
        "chargingProfile": profiles})
}

/// GetChargingProfiles `body` answered Accepted, then the station reports `reports`.
async fn profiles_reported(c: &C201<'_>, st: &mut Station, body: Value, reports: Vec<Value>) {
    relay_as_given(
        c,
        st,
        "GetChargingProfiles",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    for r in reports {
        reported(c, st, "ReportChargingProfiles", r).await;
    }
}

pub async fn tc_k_05(c: &C201<'_>) {
    let mut st = c.booted().await;
    let p = profile(105, "TxDefaultProfile", "Absolute", 6.0, true);
    set_profile(c, &mut st, 1, p.clone(), "Accepted").await;
    let get = json!({"requestId": 5, "evseId": 1,
        "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}});
    profiles_reported(c, &mut st, get, vec![report(5, "CSO", 1, vec![p], false)]).await;
    let clear = json!({"chargingProfileId": 105});
    relay_as_given(
        c,
        &mut st,
        "ClearChargingProfile",
        clear,
        json!({"status": "Accepted"}),
    )
    .await;
}

/// ClearChargingProfile by criteria (TxDefaultProfile, stack level 0, EVSE 1), answered `answer`.
async fn clear_by_criteria(c: &C201<'_>, answer: &str) {
    let mut st = c.booted().await;
    let clear = json!({"chargingProfileCriteria": {"evseId": 1,
        "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}});
    let b = relay_as_given(
        c,
        &mut st,
        "ClearChargingProfile",
        clear,
        json!({"status": answer}),
    )
    .await;
    assert_eq!(b["response"]["status"], answer);
}

pub async fn tc_k_06(c: &C201<'_>) {
    clear_by_criteria(c, "Accepted").await;
}

pub async fn tc_k_08(c: &C201<'_>) {
    clear_by_criteria(c, "Unknown").await;
}

pub async fn tc_k_10(c: &C201<'_>) {
    tx_default(c, 0).await;
}

pub async fn tc_k_15(c: &C201<'_>) {
    let mut st = c.booted().await;
    let p = profile(115, "TxDefaultProfile", "Absolute", 6.0, true);
    let body = json!({"evseId": 1, "chargingProfile": p});
    refused_with(c, &mut st, "SetChargingProfile", body, "NotSupported").await;
}

pub async fn tc_k_19(c: &C201<'_>) {
    let mut st = c.booted().await;
    let mut p = profile(119, "TxDefaultProfile", "Recurring", 6.0, true);
    p["recurrencyKind"] = json!("Daily");
    set_profile(c, &mut st, 1, p, "Accepted").await;
}

/// During charging: GetChargingProfiles `body` (request `request`), answered Accepted and
/// reported (a TxProfile of the running transaction); then the session ends.
async fn profiles_while_charging(c: &C201<'_>, request: i64, body: Value) {
    let (mut st, tx) = charging(c).await;
    let mut p = profile(129, "TxProfile", "Relative", 16.0, false);
    p["transactionId"] = json!(tx);
    let evse = body["evseId"].as_i64().unwrap_or(1).max(1);
    profiles_reported(
        c,
        &mut st,
        body,
        vec![report(request, "CSO", evse, vec![p], false)],
    )
    .await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
}

pub async fn tc_k_29(c: &C201<'_>) {
    let body = json!({"requestId": 29, "evseId": 0,
        "chargingProfile": {"chargingProfilePurpose": "TxProfile"}});
    profiles_while_charging(c, 29, body).await;
}

/// GetChargingProfiles with `criterion` only (for EVSE `evse` if given), reported.
async fn profiles_by(c: &C201<'_>, request: i64, evse: Option<i64>, criterion: Value) {
    let mut st = c.booted().await;
    let mut body = json!({"requestId": request, "chargingProfile": criterion});
    if let Some(e) = evse {
        body["evseId"] = json!(e);
    }
    let p = profile(request + 100, "TxDefaultProfile", "Absolute", 6.0, true);
    let r = report(request, "CSO", evse.unwrap_or(1), vec![p], false);
    profiles_reported(c, &mut st, body, vec![r]).await;
}

pub async fn tc_k_30(c: &C201<'_>) {
    let purpose = json!({"chargingProfilePurpose": "TxDefaultProfile"});
    profiles_by(c, 30, Some(1), purpose).await;
}

/// No EVSE: the station reports per EVSE, in more than one message (tbc).
pub async fn tc_k_31(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 31,
        "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}});
    let p = |evse: i64| profile(130 + evse, "TxDefaultProfile", "Absolute", 6.0, true);
    let reports = vec![
        report(31, "CSO", 0, vec![p(0)], true),
        report(31, "CSO", 1, vec![p(1)], false),
    ];
    profiles_reported(c, &mut st, body, reports).await;
}

pub async fn tc_k_32(c: &C201<'_>) {
    profiles_by(c, 32, None, json!({"chargingProfileId": [132]})).await;
}

pub async fn tc_k_33(c: &C201<'_>) {
    profiles_by(c, 33, Some(1), json!({"stackLevel": 0})).await;
}

pub async fn tc_k_34(c: &C201<'_>) {
    profiles_by(c, 34, Some(1), json!({"chargingLimitSource": ["CSO"]})).await;
}

pub async fn tc_k_35(c: &C201<'_>) {
    let purpose = json!({"chargingProfilePurpose": "TxDefaultProfile"});
    profiles_by(c, 35, Some(1), purpose).await;
}

pub async fn tc_k_36(c: &C201<'_>) {
    let criteria = json!({"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0});
    profiles_by(c, 36, Some(1), criteria).await;
}

/// RequestStartTransaction with a TxProfile (no transactionId yet): the station starts
/// (RemoteStart) and csms authorizes it; then the session ends.
pub async fn tc_k_37(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let body = json!({"idToken": token("TAG-001", "ISO14443"), "remoteStartId": 37, "evseId": 1,
        "chargingProfile": profile(137, "TxProfile", "Relative", 16.0, false)});
    relay_as_given(
        c,
        &mut st,
        "RequestStartTransaction",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    let tx = uuid_like();
    remote_started(&mut st, "Started", &tx, 0, 37).await;
    charged_and_ended(c, &mut st, &tx, 1).await;
}

/// GetCompositeSchedule for `evse`, 300 s in A: the station's schedule, relayed.
async fn composite(c: &C201<'_>, evse: i64) {
    let mut st = c.booted().await;
    let body = json!({"evseId": evse, "duration": 300, "chargingRateUnit": "A"});
    let answer = json!({"status": "Accepted", "schedule": {"evseId": evse, "duration": 300,
        "scheduleStart": "2026-12-07T10:00:00.123456Z", "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0, "numberPhases": 3}]}});
    let b = relay_as_given(c, &mut st, "GetCompositeSchedule", body, answer).await;
    assert_eq!(
        b["response"]["schedule"]["chargingSchedulePeriod"][0]["limit"],
        6.0
    );
}

pub async fn tc_k_43(c: &C201<'_>) {
    composite(c, 1).await;
}

pub async fn tc_k_44(c: &C201<'_>) {
    composite(c, 0).await;
}

pub async fn tc_k_48(c: &C201<'_>) {
    let mut st = c.booted().await;
    let limit = json!({"chargingLimit": {"chargingLimitSource": "EMS", "isGridCritical": false},
        "evseId": 1, "chargingSchedule": [{"id": 48, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}]}]});
    reported(c, &mut st, "NotifyChargingLimit", limit).await;
}

pub async fn tc_k_50(c: &C201<'_>) {
    let mut st = c.booted().await;
    let cleared = json!({"chargingLimitSource": "EMS", "evseId": 1});
    reported(c, &mut st, "ClearedChargingLimit", cleared).await;
}

/// During charging: the EMS limit is released, the charging rate changes.
pub async fn tc_k_51(c: &C201<'_>) {
    let (mut st, tx) = charging(c).await;
    let cleared = json!({"chargingLimitSource": "EMS", "evseId": 1});
    reported(c, &mut st, "ClearedChargingLimit", cleared).await;
    state_change(&mut st, &tx, 2, "ChargingRateChanged", "Charging").await;
    end_tag_session(&mut st, &tx, 3, "Local").await;
    ended(c, &tx, "Local").await;
}

pub async fn tc_k_52(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 52, "evseId": 1,
        "chargingProfile": {"chargingProfilePurpose": "ChargingStationExternalConstraints"}});
    let p = profile(
        152,
        "ChargingStationExternalConstraints",
        "Absolute",
        10.0,
        true,
    );
    let r = report(52, "EMS", 1, vec![p], false);
    profiles_reported(c, &mut st, body, vec![r]).await;
}

/// During charging: a TxProfile for the running transaction.
pub async fn tc_k_60(c: &C201<'_>) {
    let (mut st, tx) = charging(c).await;
    let mut p = profile(160, "TxProfile", "Relative", 10.0, false);
    p["transactionId"] = json!(tx);
    set_profile(c, &mut st, 1, p, "Accepted").await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
}

/// During charging: a TxDefaultProfile, then a ChargingStationMaxProfile of another id.
pub async fn tc_k_70(c: &C201<'_>) {
    let (mut st, tx) = charging(c).await;
    let p = profile(170, "TxDefaultProfile", "Absolute", 10.0, true);
    set_profile(c, &mut st, 1, p, "Accepted").await;
    let p = profile(171, "ChargingStationMaxProfile", "Absolute", 16.0, true);
    set_profile(c, &mut st, 0, p, "Accepted").await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
}
