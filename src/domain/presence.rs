//! A station's comings and goings, in the core's terms: it connected, it booted (who it says it
//! is, and whether it is let in), it was seen, it disconnected. Every protocol adapter reports
//! these; the decisions and the rows are here.

use diesel::prelude::*;

use crate::domain::chargers::Registration;
use crate::domain::charging::stops;
use crate::error::AppError;
use crate::infra::db::schema::chargers;
use crate::infra::db::{DbConnection, now, relaxed_tx, write_tx};
use crate::infra::events::{self, Subject};

/// What a booting station says about itself (1.6 BootNotification, 2.0.1 chargingStation).
#[derive(Debug, Default)]
pub struct Boot {
    pub vendor: String,
    pub model: String,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub modem: Modem,
    /// Its main meter (1.6 only): type and serial number.
    pub meter: (Option<String>, Option<String>),
}

/// A station's wireless modem (2.0.1 `ModemType`, 1.6's iccid and imsi).
#[derive(Debug, Default)]
pub struct Modem {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
}

/// The core's answer to a boot.
#[derive(Debug)]
pub struct Booted {
    /// Whether it is let in (Accepted), held (Pending) or refused (Rejected).
    pub registration: Registration,
    /// Whether csms still knows if it keeps an authorization cache (a new firmware may have reset
    /// its configuration: then it is asked again).
    pub cache_known: bool,
}

/// A station booted: its identity is recorded and, when it is accepted, the transactions it was
/// asked to stop are asked again and a firmware installation it rebooted into is concluded.
pub fn booted(c: &mut DbConnection, charger_id: i64, boot: Boot) -> Result<Booted, AppError> {
    let t = now();
    let running = boot.firmware_version.clone();
    let (registration, cache, firmware): (String, Option<String>, Option<String>) = chargers::table
        .find(charger_id)
        .select((
            chargers::registration,
            chargers::auth_cache,
            chargers::firmware_version,
        ))
        .first(c)?;
    // Another firmware may have reset its configuration: ask about its cache again.
    let cache = cache.filter(|_| firmware == running || firmware.is_none());
    let cache_known = cache.is_some();
    let update = diesel::update(chargers::table.find(charger_id)).set((
        chargers::vendor.eq(boot.vendor),
        chargers::model.eq(boot.model),
        chargers::serial_number.eq(boot.serial_number),
        chargers::firmware_version.eq(boot.firmware_version),
        chargers::iccid.eq(boot.modem.iccid),
        chargers::imsi.eq(boot.modem.imsi),
        chargers::meter_type.eq(boot.meter.0),
        chargers::meter_serial_number.eq(boot.meter.1),
        chargers::last_boot_at.eq(t),
        chargers::last_seen_at.eq(t),
        chargers::auth_cache.eq(cache),
    ));
    write_tx(c, |c| update.execute(c))?;
    // A stored word csms did not write reads as Rejected (it is never let in by mistake).
    let registration = Registration::of(&registration).unwrap_or(Registration::Rejected);
    if registration == Registration::Accepted {
        // Transactions it was asked to stop are asked again now.
        stops::charger_back(c, charger_id)?;
        // It may have rebooted into the firmware it was installing.
        crate::domain::firmware::after_boot(c, charger_id, running.as_deref())?;
    }
    Ok(Booted {
        registration,
        cache_known,
    })
}

/// The station was seen now (any frame). Telemetry: committed without waiting for the disk.
pub fn seen(c: &mut DbConnection, charger_id: i64) -> Result<(), AppError> {
    relaxed_tx(c, |c| touch(c, charger_id))
}

fn touch(c: &mut DbConnection, charger_id: i64) -> Result<(), AppError> {
    diesel::update(chargers::table.find(charger_id))
        .set(chargers::last_seen_at.eq(now()))
        .execute(c)?;
    Ok(())
}

/// Whether a station came or went.
#[derive(Clone, Copy, Debug)]
pub enum Presence {
    /// Connected, speaking this protocol (its subprotocol name: `ocpp1.6`, `ocpp2.0.1`).
    Connected(&'static str),
    Disconnected,
}

/// The station connected or disconnected: seen now, and the event `charger.connected` /
/// `charger.disconnected` recorded (telemetry: committed without waiting for the disk).
pub fn linked(
    c: &mut DbConnection,
    charger_id: i64,
    device_id: &str,
    presence: Presence,
) -> Result<(), AppError> {
    let event = match presence {
        Presence::Connected(_) => "charger.connected",
        Presence::Disconnected => "charger.disconnected",
    };
    let payload = serde_json::json!({ "deviceId": device_id });
    relaxed_tx(c, |c| {
        touch(c, charger_id)?;
        if let Presence::Connected(protocol) = presence {
            diesel::update(chargers::table.find(charger_id))
                .set(chargers::ocpp_version.eq(protocol))
                .execute(c)?;
        }
        events::record(
            c,
            event,
            Subject {
                charger_id: Some(charger_id),
                ..Default::default()
            },
            payload,
        )?;
        Ok(())
    })
}
