//! Smart Charging: the operator's profiles (set, list, clear in three ways, composite schedule), and
//! load management: a station's power limit shared between its transactions, the sum of the
//! installed profiles never above the limit through random starts and stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use csms::simulator::Simulator;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;

fn tx_default(kind: &str, unit: &str) -> Value {
    let mut p = json!({
        "stackLevel": 2,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": kind,
        "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}
    });
    if kind == "Recurring" {
        p["recurrencyKind"] = json!("Daily");
        p["chargingSchedule"]["startSchedule"] = json!("2026-01-01T06:00:00.000Z");
        p["chargingSchedule"]["duration"] = json!(86400);
    }
    p
}

async fn operator_profiles(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("SC1", 2).await;
    let base = "/api/admin/chargers/SC1/charging-profiles";
    let (s, b) = app
        .post(
            base,
            Some(&admin),
            json!({"connectorId": 0, "chargingProfile": tx_default("Recurring", "A")}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let p1 = b["profile"].clone();
    assert_eq!(p1["status"], "installed");
    let id1 = p1["id"].as_i64().unwrap();
    let installed = sim.profiles();
    assert_eq!(
        installed[&id1].1["chargingProfileId"], id1,
        "csms numbers the profiles"
    );
    assert_eq!(installed[&id1].1["recurrencyKind"], "Daily");
    let (s, b) = app
        .post(
            base,
            Some(&admin),
            json!({"connectorId": 1, "chargingProfile": tx_default("Absolute", "W")}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let max = json!({"stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 22000.0}]}});
    let (s, b) = app
        .post(
            base,
            Some(&admin),
            json!({"connectorId": 0, "chargingProfile": max}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(sim.profiles().len(), 3);

    // Invalid profiles: 400, nothing sent.
    for bad in [
        json!({"connectorId": 0, "chargingProfile": {"stackLevel": 1}}),
        json!({"connectorId": 0, "chargingProfile": tx_default("Sometimes", "A")}),
        json!({"connectorId": 1, "chargingProfile": {"stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile", "chargingProfileKind": "Relative", "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1.0}]}}}),
        json!({"connectorId": -1, "chargingProfile": tx_default("Absolute", "A")}),
    ] {
        let (s, b) = app.post(base, Some(&admin), bad.clone()).await;
        assert_eq!(s, 400, "{bad} -> {b}");
    }
    assert_eq!(sim.received_count("SetChargingProfile"), 3);
    // A charger that rejects: recorded.
    sim.set_answer("SetChargingProfile", Some(json!({"status": "Rejected"})));
    let (s, b) = app
        .post(
            base,
            Some(&admin),
            json!({"connectorId": 2, "chargingProfile": tx_default("Absolute", "A")}),
        )
        .await;
    assert_eq!(
        (s, b["profile"]["status"].as_str()),
        (201, Some("rejected")),
        "{b}"
    );
    sim.set_answer("SetChargingProfile", None);

    let (s, b) = app.get(&format!("{base}?current=true"), Some(&admin)).await;
    assert_eq!(
        (s, b["profiles"].as_array().unwrap().len()),
        (200, 3),
        "{b}"
    );
    let (s, b) = app
        .get("/api/admin/chargers/SC1/composite-schedule?connectorId=1&duration=600&chargingRateUnit=W", Some(&admin))
        .await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{b}"
    );

    // Clear by id, by criteria, and everything.
    let clear = format!("{base}/clear");
    let (s, b) = app.post(&clear, Some(&admin), json!({"id": id1})).await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{b}"
    );
    assert!(!sim.profiles().contains_key(&id1));
    let (s, b) = app
        .post(
            &clear,
            Some(&admin),
            json!({"chargingProfilePurpose": "ChargePointMaxProfile", "stackLevel": 0}),
        )
        .await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{b}"
    );
    let (s, b) = app.post(&clear, Some(&admin), json!({})).await;
    assert_eq!(
        (s, b["response"]["status"].as_str()),
        (200, Some("Accepted")),
        "{b}"
    );
    assert!(sim.profiles().is_empty());
    let (_, b) = app.get(&format!("{base}?current=true"), Some(&admin)).await;
    assert_eq!(b["profiles"], json!([]), "every profile marked cleared");
    // The same stack level and purpose on the same connector replaces the older profile.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, b) = app
            .post(
                base,
                Some(&admin),
                json!({"connectorId": 1, "chargingProfile": tx_default("Absolute", "A")}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        ids.push(b["profile"]["id"].as_i64().unwrap());
    }
    let (_, b) = app.get(base, Some(&admin)).await;
    let older = b["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ids[0])
        .unwrap()
        .clone();
    assert_eq!(older["status"], "cleared", "{older}");
    assert_eq!(older["answer"], format!("Replaced by profile {}", ids[1]));
    assert_eq!(sim.profiles().len(), 1);
    let (s, _) = app
        .post(
            "/api/admin/chargers/NOPE/charging-profiles",
            Some(&admin),
            json!({"connectorId": 0, "chargingProfile": tx_default("Absolute", "A")}),
        )
        .await;
    assert_eq!(s, 404);
}
dual!(operator_profiles);

/// The sum of the TxProfiles the chargers hold for running transactions.
fn installed_sum(sims: &[Simulator]) -> i64 {
    sims.iter()
        .flat_map(|s| {
            let open = s.open_transactions();
            s.profiles()
                .into_values()
                .filter(move |(_, p)| {
                    p["chargingProfilePurpose"] == "TxProfile"
                        && p["transactionId"]
                            .as_i64()
                            .is_some_and(|t| open.contains_key(&t))
                })
                .map(|(_, p)| {
                    p["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
                        .as_f64()
                        .unwrap_or(0.0) as i64
                })
        })
        .sum()
}

async fn station_limit_is_never_exceeded(app: TestApp) {
    const LIMIT: i64 = 22_000;
    let admin = app.admin().await;
    let (s, b) = app
        .post(
            "/api/admin/stations",
            Some(&admin),
            json!({"name": "Depot"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let station = b["station"]["id"].as_i64().unwrap();
    // One card per connector (a card charges on one connector at a time: ConcurrentTx).
    for i in 0..3 {
        for c in 1..=2 {
            let (s, b) = app
                .post(
                    "/api/admin/id-tags",
                    Some(&admin),
                    json!({"idTag": format!("FLEET{i}{c}")}),
                )
                .await;
            assert_eq!(s, 201, "{b}");
        }
    }
    let mut sims = Vec::new();
    for i in 0..3 {
        let device = format!("LM{i}");
        app.register_charger_with(&device, json!({"stationId": station}))
            .await;
        sims.push(app.connect(app.sim_config(&device, 2)).await);
    }
    let (s, b) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/stations/{station}/power-limit"),
            Some(&admin),
            Some(json!({"maxPowerW": LIMIT})),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // A watcher samples the chargers' profiles all along.
    let (stop, worst) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicI64::new(0)),
    );
    let watcher = {
        let (sims, stop, worst) = (sims.clone(), stop.clone(), worst.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                worst.fetch_max(installed_sum(&sims), Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut running: Vec<(usize, i64)> = Vec::new();
    for _ in 0..30 {
        let free: Vec<(usize, u32)> = (0..3)
            .flat_map(|i| (1..=2).map(move |c| (i, c)))
            .filter(|(i, c)| !sims[*i].open_transactions().values().any(|k| k == c))
            .collect();
        if !free.is_empty() && (running.is_empty() || rng.random_bool(0.6)) {
            let (i, c) = free[rng.random_range(0..free.len())];
            let tx = sims[i]
                .start_transaction(c, &format!("FLEET{i}{c}"))
                .await
                .unwrap();
            assert_eq!(sims[i].start_answers().last().unwrap().1, "Accepted");
            running.push((i, tx));
        } else {
            let (i, tx) = running.swap_remove(rng.random_range(0..running.len()));
            sims[i].stop_transaction(tx, "Local").await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(0..60))).await;
    }
    // Settled: every running transaction holds an equal share.
    let n = running.len() as i64;
    assert!(n > 0);
    for _ in 0..300 {
        let (_, b) = app
            .get(&format!("/api/admin/stations/{station}/load"), Some(&admin))
            .await;
        let shares: Vec<Option<i64>> = b["load"]["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["limitW"].as_i64())
            .collect();
        if shares.len() as i64 == n && shares.iter().all(|s| *s == Some(LIMIT / n)) {
            break;
        }

        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, b) = app
        .get(&format!("/api/admin/stations/{station}/load"), Some(&admin))
        .await;
    assert_eq!(b["load"]["allocatedW"], (LIMIT / n) * n, "{b}");
    assert!(b["load"]["allocatedW"].as_i64().unwrap() <= LIMIT);
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let worst = worst.load(Ordering::Relaxed);
    assert!(
        worst <= LIMIT,
        "the chargers held {worst} W of profiles, limit {LIMIT}"
    );
    assert!(worst > 0, "profiles were installed");
    assert_eq!(installed_sum(&sims), (LIMIT / n) * n);

    // Removing the limit clears the load profiles.
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/stations/{station}/power-limit"),
            Some(&admin),
            Some(json!({"maxPowerW": null})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(installed_sum(&sims), 0);
    let (s, _) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/admin/stations/{station}/power-limit"),
            Some(&admin),
            Some(json!({"maxPowerW": 0})),
        )
        .await;
    assert_eq!(s, 400);
}
dual!(station_limit_is_never_exceeded);
