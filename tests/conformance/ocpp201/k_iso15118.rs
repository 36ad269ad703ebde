//! K Smart Charging with ISO 15118 (TC_K_53 to TC_K_59): the EV's charging needs are answered
//! Accepted and followed by csms's own SetChargingProfile (a TxProfile of the running transaction
//! within csms's limit, here the EV's 32 A); a schedule above it is Rejected and a new profile
//! follows the transaction's next event; the operator's TxProfile is what the EV's schedule must
//! then match.

use super::*;

/// An AC three-phase EV that takes 6 to `max_a` A per phase and wants 30 kWh.
fn needs(max_a: i64) -> Value {
    json!({"evseId": 1, "maxScheduleTuples": 3, "chargingNeeds": {
        "requestedEnergyTransfer": "AC_three_phase", "departureTime": now_micros(),
        "acChargingParameters": {"energyAmount": 30000, "evMinCurrent": 6,
            "evMaxCurrent": max_a, "evMaxVoltage": 400}}})
}

/// The EV's schedule: `limit` A on 3 phases for 300 s.
fn ev_schedule(id: i64, limit: f64) -> Value {
    json!({"timeBase": now_micros(), "evseId": 1, "chargingSchedule": {"id": id,
        "chargingRateUnit": "A", "duration": 300,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": 3}]}})
}

/// NotifyEVChargingNeeds answered Accepted or Processing.
async fn needs_sent(st: &mut Station, max_a: i64) {
    let a = st
        .call("NotifyEVChargingNeeds", needs(max_a))
        .await
        .unwrap();
    let status = a["status"].as_str().unwrap_or_default();
    assert!(["Accepted", "Processing"].contains(&status), "{a}");
}

/// csms's own SetChargingProfile: a TxProfile for EVSE 1 and `tx`, answered Accepted; the profile.
async fn profile_from_csms(st: &mut Station, tx: &str) -> Value {
    let (action, p) = st.answer_next_call(json!({"status": "Accepted"})).await;
    assert_eq!(action, "SetChargingProfile", "{p}");
    assert_eq!(p["evseId"], 1, "{p}");
    let profile = &p["chargingProfile"];
    assert_eq!(profile["chargingProfilePurpose"], "TxProfile", "{p}");
    assert_eq!(profile["transactionId"], tx, "{p}");
    profile.clone()
}

/// The first period's limit of a profile's schedule, in A.
fn limit_of(profile: &Value) -> f64 {
    let s = &profile["chargingSchedule"][0];
    assert_eq!(s["chargingRateUnit"], "A", "{profile}");
    s["chargingSchedulePeriod"][0]["limit"].as_f64().unwrap()
}

/// NotifyEVChargingSchedule with `limit` A: csms's answer status.
async fn schedule_sent(st: &mut Station, id: i64, limit: f64) -> String {
    let a = st
        .call("NotifyEVChargingSchedule", ev_schedule(id, limit))
        .await
        .unwrap();
    a["status"].as_str().unwrap_or_default().to_string()
}

/// The ISO15118SmartCharging state: TAG-001 authorized and started, the EV's needs (32 A),
/// csms's TxProfile (within them), the EV's schedule at that limit Accepted, then charging.
/// The station, the transaction and the profile's limit.
async fn smart_charging(c: &C201<'_>) -> (Station, String, f64) {
    let (mut st, tx) = authorized_session(c).await;
    needs_sent(&mut st, 32).await;
    let limit = limit_of(&profile_from_csms(&mut st, &tx).await);
    assert!(
        limit > 0.0 && limit <= 32.0,
        "within the EV's 32 A: {limit}"
    );
    assert_eq!(schedule_sent(&mut st, 1, limit).await, "Accepted");
    state_change(&mut st, &tx, 1, "ChargingStateChanged", "Charging").await;
    (st, tx, limit)
}

/// No call from csms within `secs` s.
async fn quiet(st: &mut Station, secs: u64) {
    let f = tokio::time::timeout(std::time::Duration::from_secs(secs), st.frame()).await;
    assert!(f.is_err(), "nothing more from csms: {f:?}");
}

/// The session ends (StopAuthorized, Ended) at `seq`.
async fn stop(c: &C201<'_>, st: &mut Station, tx: &str, seq: i64) {
    end_tag_session(st, tx, seq, "Local").await;
    ended(c, tx, "Local").await;
}

/// The operator's TxProfile of `limit` A for `tx` (id `id`), relayed as given and Accepted.
async fn operator_profile(c: &C201<'_>, st: &mut Station, tx: &str, id: i64, limit: f64) {
    let profile = json!({"id": id, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative", "transactionId": tx,
        "chargingSchedule": [{"id": id, "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": 3}]}]});
    let body = json!({"evseId": 1, "chargingProfile": profile});
    relay_as_given(
        c,
        st,
        "SetChargingProfile",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
}

pub async fn tc_k_53(c: &C201<'_>) {
    let (mut st, tx, _) = smart_charging(c).await;
    quiet(&mut st, 5).await;
    // csms keeps the profile it sent as the transaction's (installed).
    let path = format!("/api/admin/chargers/{}/charging-profiles", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    let kept = b["profiles"].as_array().into_iter().flatten().any(|p| {
        p["origin"] == "load" && p["status"] == "installed" && p["profile"]["transactionId"] == tx
    });
    assert!(kept, "{b}");
    stop(c, &mut st, &tx, 2).await;
}

/// The EV proposes more than the profile allows: Rejected; after the next event csms sends a new
/// profile, and the schedule within it is Accepted.
pub async fn tc_k_55(c: &C201<'_>) {
    let (mut st, tx) = authorized_session(c).await;
    needs_sent(&mut st, 32).await;
    let limit = limit_of(&profile_from_csms(&mut st, &tx).await);
    assert_eq!(schedule_sent(&mut st, 1, limit + 8.0).await, "Rejected");
    state_change(&mut st, &tx, 1, "ChargingRateChanged", "Charging").await;
    let limit = limit_of(&profile_from_csms(&mut st, &tx).await);
    assert_eq!(schedule_sent(&mut st, 2, limit).await, "Accepted");
    stop(c, &mut st, &tx, 2).await;
}

/// The EV renegotiates: new needs (16 A), a new profile within them, its schedule Accepted.
pub async fn tc_k_57(c: &C201<'_>) {
    let (mut st, tx, _) = smart_charging(c).await;
    needs_sent(&mut st, 16).await;
    let limit = limit_of(&profile_from_csms(&mut st, &tx).await);
    assert!(limit <= 16.0, "within the EV's new 16 A: {limit}");
    assert_eq!(schedule_sent(&mut st, 2, limit).await, "Accepted");
    stop(c, &mut st, &tx, 2).await;
}

/// The operator renegotiates with a TxProfile of 10 A: the EV's schedule matching it is Accepted.
pub async fn tc_k_58(c: &C201<'_>) {
    let (mut st, tx, _) = smart_charging(c).await;
    operator_profile(c, &mut st, &tx, 158, 10.0).await;
    assert_eq!(schedule_sent(&mut st, 2, 10.0).await, "Accepted");
    stop(c, &mut st, &tx, 2).await;
}

/// The operator's TxProfile, then the EV sends its needs again: csms sends another TxProfile for
/// the transaction (replacing the operator's), and the matching schedule is Accepted.
pub async fn tc_k_59(c: &C201<'_>) {
    let (mut st, tx, _) = smart_charging(c).await;
    operator_profile(c, &mut st, &tx, 159, 12.0).await;
    needs_sent(&mut st, 32).await;
    let profile = profile_from_csms(&mut st, &tx).await;
    assert_eq!(
        profile["id"], 159,
        "it replaces the transaction's profile: {profile}"
    );
    let limit = limit_of(&profile);
    assert_eq!(schedule_sent(&mut st, 2, limit).await, "Accepted");
    stop(c, &mut st, &tx, 2).await;
}
