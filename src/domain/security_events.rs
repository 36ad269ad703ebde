//! Security events (OCPP 1.6 security extension): what chargers report with
//! SecurityEventNotification, and what csms itself sees about a charger (a refused certificate
//! request, a refused handshake). Each is stored with whether it is critical, per the table of
//! security events in the 1.6 security whitepaper (Appendix 1).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::infra::db::schema::{chargers, security_events};
use crate::infra::db::{DbConnection, now, write_tx};
use crate::infra::timestamps::format_timestamp;

/// The security events the whitepaper marks critical (a charger pushes these at once; the console
/// highlights them).
pub const CRITICAL: &[&str] = &[
    "FirmwareUpdated",
    "SettingSystemTime",
    "StartupOfTheDevice",
    "ResetOrReboot",
    "SecurityLogWasCleared",
    "MemoryExhaustion",
    "TamperDetectionActivated",
];

pub fn is_critical(kind: &str) -> bool {
    CRITICAL.contains(&kind)
}

/// A stored security event.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEvent {
    pub id: i64,
    pub device_id: String,
    /// The event type (e.g. InvalidFirmwareSignature, or csms's own InvalidChargePointCertificate)
    #[serde(rename = "type")]
    pub kind: String,
    pub tech_info: Option<String>,
    /// The charger's timestamp (for csms's own events, when it happened)
    pub timestamp: Option<String>,
    pub received_at: String,
    /// Critical per the security whitepaper
    pub critical: bool,
    /// charger (SecurityEventNotification) or csms
    pub source: String,
}

fn insert(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    tech_info: Option<&str>,
    timestamp: Option<NaiveDateTime>,
    source: &str,
) -> Result<(), AppError> {
    let critical = is_critical(kind);
    write_tx(c, |c| {
        diesel::insert_into(security_events::table)
            .values((
                security_events::charger_id.eq(charger_id),
                security_events::kind.eq(kind),
                security_events::tech_info.eq(tech_info),
                security_events::charger_timestamp.eq(timestamp),
                security_events::received_at.eq(now()),
                security_events::critical.eq(critical),
                security_events::source.eq(source),
            ))
            .execute(c)
    })?;
    if critical {
        log::warn!("charger {charger_id}: critical security event {kind} ({source})");
    } else {
        log::info!("charger {charger_id}: security event {kind} ({source})");
    }
    Ok(())
}

/// A security event a station reported (its type, technical details and time, as it gave them).
pub async fn record_charger(
    db: &crate::infra::db::Db,
    charger_id: i64,
    kind: String,
    tech_info: Option<String>,
    timestamp: Option<NaiveDateTime>,
) -> Result<(), AppError> {
    db.run(move |c| {
        let tech_info = tech_info.as_deref();
        insert(c, charger_id, &kind, tech_info, timestamp, "charger")
    })
    .await
}

/// A security event csms saw itself about a charger (e.g. a refused CSR, a refused handshake).
pub fn record_csms(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    tech_info: Option<&str>,
) -> Result<(), AppError> {
    insert(c, charger_id, kind, tech_info, Some(now()), "csms")
}

/// The whitepaper's event for messages that are not valid OCPP: csms records it when it
/// disconnects a charger that kept sending frames that are not OCPP-J.
pub const INVALID_MESSAGES: &str = "InvalidMessages";

/// csms's event `kind` about a charger (a disconnection for invalid frames, a connection refused
/// below its security profile), recorded at most once a minute per charger and kind, so that a
/// client that reconnects in a loop cannot fill the table. Returns whether it was recorded.
pub fn record_throttled(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    tech_info: &str,
) -> Result<bool, AppError> {
    record_csms_unless(c, charger_id, kind, tech_info, Unless::LastMinute)
}

/// Which earlier event of the same kind keeps csms from recording one again.
pub(crate) enum Unless {
    /// One with the same text, whenever it was.
    SameText,
    /// Any recorded in the last minute.
    LastMinute,
}

/// Records csms's event `kind` about a charger unless an earlier one rules it out; returns whether
/// it was recorded.
pub(crate) fn record_csms_unless(
    c: &mut DbConnection,
    charger_id: i64,
    kind: &str,
    tech_info: &str,
    unless: Unless,
) -> Result<bool, AppError> {
    let earlier = security_events::table
        .filter(security_events::charger_id.eq(charger_id))
        .filter(security_events::source.eq("csms"))
        .filter(security_events::kind.eq(kind))
        .into_boxed();
    let earlier = match unless {
        Unless::SameText => earlier.filter(security_events::tech_info.eq(tech_info)),
        Unless::LastMinute => {
            earlier.filter(security_events::received_at.gt(now() - chrono::Duration::seconds(60)))
        }
    };
    if earlier.count().get_result::<i64>(c)? > 0 {
        return Ok(false);
    }
    record_csms(c, charger_id, kind, Some(tech_info))?;
    Ok(true)
}

/// The kind of a connection refused below the charger's security profile (the whitepaper's name
/// for a charger that failed to authenticate at the central system).
pub const REFUSED_CONNECTION: &str = "FailedToAuthenticateAtCentralSystem";

/// A security event as stored, with its charger's identity.
#[derive(Queryable, Selectable)]
#[diesel(table_name = security_events)]
struct Row {
    id: i64,
    #[diesel(select_expression = chargers::device_id)]
    device_id: String,
    kind: String,
    tech_info: Option<String>,
    charger_timestamp: Option<NaiveDateTime>,
    received_at: NaiveDateTime,
    critical: bool,
    source: String,
}

/// A charger's security events, newest first (at most `limit`, up to 1000).
pub fn list(
    c: &mut DbConnection,
    device_id: &str,
    limit: i64,
) -> Result<Vec<SecurityEvent>, AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    let rows: Vec<Row> = security_events::table
        .inner_join(chargers::table)
        .filter(security_events::charger_id.eq(cid))
        .order(security_events::id.desc())
        .limit(limit.clamp(1, 1000))
        .select(Row::as_select())
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| SecurityEvent {
            id: r.id,
            device_id: r.device_id,
            kind: r.kind,
            tech_info: r.tech_info,
            timestamp: r.charger_timestamp.map(format_timestamp),
            received_at: format_timestamp(r.received_at),
            critical: r.critical,
            source: r.source,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_per_the_whitepaper() {
        assert!(is_critical("TamperDetectionActivated"));
        assert!(is_critical("FirmwareUpdated"));
        assert!(!is_critical("InvalidFirmwareSignature"));
        assert!(!is_critical("InvalidChargePointCertificate"));
    }
}
