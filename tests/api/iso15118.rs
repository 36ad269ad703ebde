//! ISO 15118 charging needs on 2.0.1 stations: the EV's needs are answered with csms's own
//! TxProfile within what csms allows the transaction (the station's power limit shared between its
//! transactions, capped by what the EV takes), and an EV schedule above that profile is Rejected.
//! Load management shares the limit between 2.0.1 transactions as between 1.6 ones.

use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;
use crate::support::station201::Station;

fn both(s: &mut csms::infra::config::Settings) {
    s.ocpp_versions = vec!["ocpp1.6".into(), "ocpp2.0.1".into()];
}

/// `device` at `station`, connected over 2.0.1 and booted.
async fn booted(app: &TestApp, device: &str, station: i64) -> Station {
    app.register_charger_with(device, json!({"stationId": station}))
        .await;
    let password = app.password(device).expect("a password");
    Station::booted(&app.ocpp, device, &password).await
}

/// A transaction of `tag` started on EVSE 1.
async fn started(st: &mut Station, tx: &str, tag: &str) {
    let e = json!({"eventType": "Started", "timestamp": "2026-12-07T10:00:00.123456Z",
        "triggerReason": "Authorized", "seqNo": 0, "transactionInfo": {"transactionId": tx},
        "evse": {"id": 1, "connectorId": 1}, "idToken": {"idToken": tag, "type": "ISO14443"}});
    let a = st.call("TransactionEvent", e).await.unwrap();
    assert_eq!(a["idTokenInfo"]["status"], "Accepted", "{a}");
}

/// The EV (AC three phase, up to 32 A) states its needs: Accepted, then csms's TxProfile for `tx`
/// (answered Accepted): its one period's limit in A.
async fn profile_for_needs(st: &mut Station, tx: &str) -> f64 {
    let needs = json!({"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase",
        "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 32,
            "evMaxVoltage": 400}}});
    let a = st.call("NotifyEVChargingNeeds", needs).await.unwrap();
    assert_eq!(a["status"], "Accepted", "{a}");
    let (action, p) = st.answer_next_call(json!({"status": "Accepted"})).await;
    assert_eq!(action, "SetChargingProfile");
    let profile = &p["chargingProfile"];
    assert_eq!(profile["chargingProfilePurpose"], "TxProfile", "{p}");
    assert_eq!(profile["transactionId"], tx, "{p}");
    let schedule = &profile["chargingSchedule"][0];
    assert_eq!(schedule["chargingRateUnit"], "A", "{p}");
    assert_eq!(
        schedule["chargingSchedulePeriod"][0]["numberPhases"], 3,
        "{p}"
    );
    schedule["chargingSchedulePeriod"][0]["limit"]
        .as_f64()
        .unwrap()
}

/// The EV's schedule of `limit` A: csms's answer.
async fn schedule(st: &mut Station, limit: f64) -> Value {
    let s = json!({"timeBase": "2026-12-07T10:00:00.123456Z", "evseId": 1, "chargingSchedule": {
        "id": 1, "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit, "numberPhases": 3}]}});
    st.call("NotifyEVChargingSchedule", s).await.unwrap()
}

/// Load management's 2.0.1 TxProfile for `tx` (in W, of `limit`), answered Accepted.
async fn load_profile(st: &mut Station, tx: &str, limit: f64) {
    let (action, p) = st.answer_next_call(json!({"status": "Accepted"})).await;
    assert_eq!(action, "SetChargingProfile", "{p}");
    let profile = &p["chargingProfile"];
    assert_eq!(profile["transactionId"], tx, "{p}");
    assert_eq!(profile["chargingProfilePurpose"], "TxProfile", "{p}");
    let s = &profile["chargingSchedule"][0];
    assert_eq!(s["chargingRateUnit"], "W", "{p}");
    assert_eq!(s["chargingSchedulePeriod"][0]["limit"], limit, "{p}");
}

/// Waits until the station's transactions hold `w` in all (the accepted answers recorded).
async fn allocated(app: &TestApp, admin: &str, station: i64, w: i64) {
    let mut b = Value::Null;
    for _ in 0..50 {
        let (s, got) = app
            .get(&format!("/api/admin/stations/{station}/load"), Some(admin))
            .await;
        assert_eq!(s, 200, "{got}");
        b = got;
        if b["load"]["allocatedW"] == w {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{w} W allocated: {b}");
}

async fn needs_within_the_station_limit(app: TestApp) {
    let admin = app.admin().await;
    let (s, b) = app
        .post(
            "/api/admin/stations",
            Some(&admin),
            json!({"name": "Depot 15118"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let station = b["station"]["id"].as_i64().unwrap();
    // 11 040 W: 16 A on three phases of 230 V.
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/stations/{station}/power-limit"),
            Some(&admin),
            Some(json!({"maxPowerW": 11_040})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for tag in ["EV-A", "EV-B"] {
        let (s, b) = app
            .post("/api/admin/id-tags", Some(&admin), json!({"idTag": tag}))
            .await;
        assert_eq!(s, 201, "{b}");
    }

    // One transaction at the station: all of the limit, below the EV's 32 A.
    let mut a = booted(&app, "ISO-A", station).await;
    started(&mut a, "TX-A", "EV-A").await;
    load_profile(&mut a, "TX-A", 11_040.0).await;
    allocated(&app, &admin, station, 11_040).await;
    assert_eq!(profile_for_needs(&mut a, "TX-A").await, 16.0);
    // A schedule above the profile is Rejected; one within it is Accepted.
    let r = schedule(&mut a, 20.0).await;
    assert_eq!(r["status"], "Rejected", "{r}");
    assert_eq!(schedule(&mut a, 16.0).await["status"], "Accepted");
    // The accepted profile stays the transaction's load profile.
    allocated(&app, &admin, station, 11_040).await;

    // A second transaction at the station: load management lowers the first to half the limit,
    // then gives the second the other half (2.0.1 profiles, in W, of the stations' transactions).
    let mut b = booted(&app, "ISO-B", station).await;
    started(&mut b, "TX-B", "EV-B").await;
    load_profile(&mut a, "TX-A", 5520.0).await;
    load_profile(&mut b, "TX-B", 5520.0).await;
    allocated(&app, &admin, station, 11_040).await;
    // The EV's needs then get the second transaction's share: 8 A.
    assert_eq!(profile_for_needs(&mut b, "TX-B").await, 8.0);
    assert_eq!(schedule(&mut b, 8.5).await["status"], "Rejected");
    assert_eq!(schedule(&mut b, 8.0).await["status"], "Accepted");
}
dual!(needs_within_the_station_limit, super::both);

/// csms's TxProfile and the operator's for one transaction answered at the same instant, round
/// after round: each replaces the other, and neither ever fails (on PostgreSQL the two once took
/// the slot's row locks in opposite orders and deadlocked, the operator's command answered 500).
/// Exactly one of them stays live.
async fn answers_settled_at_once_never_deadlock(app: TestApp) {
    use csms::domain::smart_charging::{
        offered, operator_tx_profile, profile_answered, running_at,
    };
    let admin = app.admin().await;
    let (s, b) = app
        .post("/api/admin/id-tags", Some(&admin), json!({"idTag": "EV-R"}))
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .post("/api/admin/stations", Some(&admin), json!({"name": "Race"}))
        .await;
    assert_eq!(s, 201, "{b}");
    let mut st = booted(&app, "ISO-R", b["station"]["id"].as_i64().unwrap()).await;
    started(&mut st, "TX-R", "EV-R").await;
    let charger_id = app.state.registry.get("ISO-R").unwrap().charger_id;
    let (tx, _) = app
        .db(move |c| running_at(c, charger_id, 1).unwrap())
        .await
        .expect("the transaction runs");
    for round in 0..20 {
        let (ours, operators) = app
            .db(move |c| {
                let build = |id: i64| json!({"id": id, "stackLevel": 0});
                let (ours, _) = offered(c, charger_id, 1, tx, 0, &build).unwrap();
                let p = json!({"id": 900 + round, "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile", "transactionId": "TX-R"});
                let operators = operator_tx_profile(c, "ISO-R", 1, "TX-R", &p).unwrap();
                (ours, operators.expect("a known transaction"))
            })
            .await;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = [ours, operators]
            .into_iter()
            .map(|row| {
                let (db, barrier) = (app.state.db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut c = db.get().unwrap();
                    barrier.wait();
                    profile_answered(&mut c, row, Ok("Accepted"), None)
                })
            })
            .collect();
        for t in threads {
            let settled = t.join().unwrap();
            assert!(settled.is_ok(), "round {round}: {settled:?}");
        }
        let live = app
            .db(move |c| {
                use csms::infra::db::schema::charging_profiles as cp;
                use diesel::prelude::*;
                cp::table
                    .filter(cp::id.eq_any([ours, operators]))
                    .filter(cp::status.eq("installed"))
                    .count()
                    .get_result::<i64>(c)
                    .unwrap()
            })
            .await;
        assert_eq!(live, 1, "round {round}: one of the two stays installed");
    }
}
dual!(answers_settled_at_once_never_deadlock, super::both);

/// A provisioning service that answers every request with HTTP 500.
fn broken_service(s: &mut csms::infra::config::Settings) {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let url = URL.get_or_init(|| {
        crate::support::stand_in::for_the_process("/cps", |_| (500, "text/plain", b"down".to_vec()))
    });
    both(s);
    s.iso15118_cps_url = Some(url.clone());
}

/// No provisioning service is configured, or it fails: the EV's certificate request is answered
/// Failed, with the reason, and the station goes on.
async fn ev_certificate_fails_without_a_service(app: TestApp) {
    let (s, b) = app
        .post(
            "/api/admin/stations",
            Some(&app.admin().await),
            json!({"name": "CPS"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let mut st = booted(&app, "ISO-CPS", b["station"]["id"].as_i64().unwrap()).await;
    let body = json!({"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install", "exiRequest": "AAEC"});
    let a = st.call("Get15118EVCertificate", body).await.unwrap();
    assert_eq!(a["status"], "Failed", "{a}");
    assert_eq!(a["exiResponse"], "", "{a}");
    assert_eq!(a["statusInfo"]["reasonCode"], "NoCertificateService", "{a}");
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}
dual!(ev_certificate_fails_without_a_service, super::both);

async fn ev_certificate_fails_with_a_broken_service(app: TestApp) {
    ev_certificate_fails_without_a_service(app).await;
}
dual!(
    ev_certificate_fails_with_a_broken_service,
    super::broken_service
);
