//! `csms demo`: `serve` plus the contract's demo data plus built-in simulated chargers that connect
//! over real WebSockets, so a newcomer can open the user panel and charge at once. Safe to re-run.

use std::time::Duration;

use diesel::prelude::*;

use crate::domain::auth;
use crate::domain::wallet;
use crate::error::AppError;
use crate::infra::config::Settings;
use crate::infra::db::schema::{chargers, customers, firmware_images, stations};
use crate::infra::db::{Db, now};
use crate::simulator::v201::Station201;
use crate::simulator::{FirmwareVersionOf, Ocpp, SimConfig, Simulator};
use crate::startup::Application;

/// The demo chargers: device id, charging point id, connectors and the OCPP version they speak
/// (`DEVDEMO3` speaks 2.0.1, so both versions are on show; it is left out in cluster mode, which
/// serves 1.6 only).
pub const DEMO_CHARGERS: &[(&str, &str, u32, Ocpp)] = &[
    ("DEVAFGKV1UW", "CP-DEMO1", 2, Ocpp::V16),
    ("DEVDEMO2", "CP-DEMO2", 1, Ocpp::V16),
    ("DEVDEMO3", "CP-DEMO3", 1, Ocpp::V201),
];
pub const DEMO_CUSTOMERS: &[(&str, &str)] = &[
    ("Customer One", "customer1@example.com"),
    ("Customer Two", "customer2@example.com"),
];
pub const DEMO_PASSWORD: &str = "password";
/// The OCPP password of the demo chargers (security profile 1), e.g. for
/// `csms simulate --id DEVDEMO2 --password demo-charger-secret`.
pub const DEMO_CHARGER_PASSWORD: &str = "demo-charger-secret";
/// Wallet balance of a new demo customer, in minor units (100.00).
pub const DEMO_BALANCE: i64 = 10_000;

pub async fn run(mut settings: Settings) -> Result<(), AppError> {
    if settings.admin_email.is_none() || settings.admin_password.is_none() {
        settings.admin_email = Some("admin@example.com".into());
        settings.admin_password = Some("admin".into());
    }
    // The demo serves both versions (cluster mode serves 1.6 only).
    let serves_201 = settings.nats_url.is_none();
    if serves_201 && !settings.ocpp_versions.iter().any(|v| v == "ocpp2.0.1") {
        settings.ocpp_versions.push("ocpp2.0.1".into());
    }
    let app = Application::build(settings).await?;
    seed(&app.state.db, app.state.settings.bcrypt_cost).await?;
    let base = format!("ws://127.0.0.1:{}/ocpp", app.ocpp_port);
    for (device, _, connectors, ocpp) in DEMO_CHARGERS {
        let mut cfg = SimConfig::new(base.clone(), *device, *connectors);
        cfg.password = Some(DEMO_CHARGER_PASSWORD.into());
        cfg.meter_interval_secs = 5;
        cfg.power_kw = 11.0;
        cfg.ev_capacity_kwh = Some(40.0);
        cfg.ocpp = *ocpp;
        match ocpp {
            Ocpp::V16 => tokio::spawn(keep_connected(cfg, app.state.db.clone())),
            Ocpp::V201 if serves_201 => tokio::spawn(keep_201_connected(cfg)),
            Ocpp::V201 => continue,
        };
    }
    let host = match app.state.settings.http_addr.split(':').next() {
        Some("0.0.0.0") | Some("") | None => "localhost".to_string(),
        Some(h) => h.to_string(),
    };
    log::info!(
        "demo ready: open http://{host}:{}/user-panel.html (customer1@example.com / password, customer2@example.com / password); operator console http://{host}:{}/admin.html (admin@example.com / admin)",
        app.http_port,
        app.http_port
    );
    app.run_until_stopped()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// A demo charger stays connected: it reconnects whenever its connection drops. A firmware update
/// installs the version of the image csms hosts (a real charger reads it from the image).
async fn keep_connected(cfg: SimConfig, db: Db) {
    loop {
        match Simulator::connect(cfg.clone()).await {
            Ok(sim) => {
                sim.spawn_heartbeats();
                let db = db.clone();
                let version_of: FirmwareVersionOf = std::sync::Arc::new(move |location: String| {
                    let db = db.clone();
                    Box::pin(async move { image_version(&db, &location).await })
                        as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
                });
                sim.set_firmware_version_of(version_of);
                loop {
                    sim.closed().await;
                    // A charger that rebooted itself (a firmware install, a Reset) is back on a
                    // new connection: keep it, with its state, rather than start another one.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    if sim.is_closed() {
                        break;
                    }
                }
                log::info!("demo charger {} disconnected; reconnecting", cfg.id);
            }
            Err(e) => log::warn!("demo charger {}: {e}", cfg.id),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The 2.0.1 demo charger stays connected too: once booted it reconnects by itself, keeping its
/// transactions, and sends the events of the outage afterwards (`Station201::stay_connected`).
async fn keep_201_connected(cfg: SimConfig) {
    loop {
        match Station201::connect(cfg.clone()).await {
            Ok(station) => {
                station.spawn_heartbeats();
                station.stay_connected(Duration::from_secs(2)).await;
            }
            Err(e) => log::warn!("demo charger {}: {e}", cfg.id),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The version of the image csms hosts at `location` (`.../files/firmware/{token}/{name}`).
async fn image_version(db: &Db, location: &str) -> Option<String> {
    let (_, rest) = location.split_once("/files/firmware/")?;
    let token = rest.split('/').next()?.to_string();
    db.run(move |c| {
        Ok(firmware_images::table
            .filter(firmware_images::token.eq(token))
            .select(firmware_images::version)
            .first::<String>(c)
            .optional()?)
    })
    .await
    .ok()
    .flatten()
}

/// The demo station of a charger, created when missing. The 2.0.1 charger has one of its own: a
/// station power limit is shared out by 1.6 charging profiles (2.0.1 smart charging comes later).
fn demo_station(c: &mut crate::infra::db::DbConnection, ocpp: Ocpp) -> Result<i64, AppError> {
    let (name, address) = match ocpp {
        Ocpp::V16 => ("Demo Station", "1 Demo Road"),
        Ocpp::V201 => ("Demo Station 2.0.1", "3 Demo Road"),
    };
    let found = stations::table
        .filter(stations::name.eq(name))
        .select(stations::id)
        .first(c)
        .optional()?;
    Ok(match found {
        Some(id) => id,
        None => diesel::insert_into(stations::table)
            .values((
                stations::name.eq(name),
                stations::address.eq(address),
                stations::created_at.eq(now()),
            ))
            .returning(stations::id)
            .get_result(c)?,
    })
}

/// Creates whatever demo data is missing; existing rows (and wallets) are left as they are.
pub async fn seed(db: &Db, bcrypt_cost: u32) -> Result<(), AppError> {
    let hash = auth::hash_password(DEMO_PASSWORD.into(), bcrypt_cost).await?;
    db.write(move |c| {
        let secret = crate::domain::chargers::hash_secret(DEMO_CHARGER_PASSWORD);
        for (device, cp, _, ocpp) in DEMO_CHARGERS {
            let station = demo_station(c, *ocpp)?;
            // Demo chargers use security profile 1 with the demo password (set again on
            // every run, so a database from an older version works too).
            let exists = diesel::update(chargers::table.filter(chargers::device_id.eq(device)))
                .set((
                    chargers::security_profile.eq(1),
                    chargers::ocpp_password_hash.eq(&secret),
                ))
                .execute(c)?;
            if exists == 0 {
                diesel::insert_into(chargers::table)
                    .values((
                        chargers::device_id.eq(device),
                        chargers::charging_point_id.eq(cp),
                        chargers::station_id.eq(station),
                        chargers::name.eq(format!("Demo charger {cp}")),
                        chargers::security_profile.eq(1),
                        chargers::ocpp_password_hash.eq(&secret),
                        chargers::created_at.eq(now()),
                    ))
                    .execute(c)?;
            }
        }
        for (i, (name, email)) in DEMO_CUSTOMERS.iter().enumerate() {
            let exists: i64 = customers::table
                .filter(customers::email.eq(email))
                .count()
                .get_result(c)?;
            if exists == 0 {
                let id: i64 = diesel::insert_into(customers::table)
                    .values((
                        customers::name.eq(name),
                        customers::email.eq(email),
                        customers::password_hash.eq(&hash),
                        customers::id_tag.eq(format!("DEMOCUST{}", i + 1)),
                        customers::balance.eq(0i64),
                        customers::created_at.eq(now()),
                    ))
                    .returning(customers::id)
                    .get_result(c)?;
                wallet::apply(
                    c,
                    id,
                    DEMO_BALANCE,
                    wallet::Kind::Credit,
                    None,
                    Some("Demo wallet"),
                )?;
            }
        }
        Ok(())
    })
    .await
}
