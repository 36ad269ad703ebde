//! Chargers: registration and settings, and their OCPP credentials.
//!
//! Security profiles (OCPP 1.6 security whitepaper): 0 = no authentication, only when an operator
//! says so explicitly; 1 = HTTP Basic auth with the charger's password; 2 = the same over TLS;
//! 3 = a TLS client certificate. Profiles 2 and 3 connect to the TLS listener (`wss://`,
//! CSMS_OCPP_TLS_ADDR).
//!
//! A charger password is a machine secret (OCPP: 16–40 characters; csms generates 40 hex digits
//! from 20 random bytes). It is stored as a salted SHA-256 (`sha256$<salt>$<digest>`), not bcrypt: a
//! secret with that much entropy gains nothing from a slow hash, and 10,000 chargers reconnecting
//! after a restart must not cost 10,000 bcrypt runs. Hashes written by earlier versions (bcrypt) are
//! still accepted and replaced by the fast form on the charger's next successful handshake.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::models::{Charger, Connector};
use crate::infra::db::schema::{
    chargers, charging_sessions, connectors, meter_values, ocpp_messages, ocpp_transactions,
    stations, tariffs,
};
use crate::infra::db::text_enum::text_enum;
use crate::infra::db::{DbConnection, is_unique_violation, now, write_tx};
use crate::infra::timestamps::{format_timestamp, parse_timestamp};

/// What an operator is told when a charger's settings are refused: every message of this module,
/// mapped to HTTP in one place (`From<ChargerError> for AppError`).
#[derive(Debug, thiserror::Error)]
pub enum ChargerError {
    #[error("securityProfile must be 0, 1, 2 or 3")]
    SecurityProfile,
    /// The same rule, as the ChangeConfiguration key names it.
    #[error("SecurityProfile must be 0, 1, 2 or 3")]
    SecurityProfileKey,
    #[error("ocppPassword must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")]
    PasswordLength,
    #[error("securityProfile 0 means no password: leave ocppPassword out")]
    PasswordAtProfile0,
    #[error("A charger with security profile 1, 2 or 3 needs a password")]
    PasswordNeeded,
    #[error("AuthorizationKey must be {MIN_PASSWORD} to {MAX_PASSWORD} printable characters")]
    AuthorizationKey,
    #[error(
        "The charger is at security profile {current}: ChangeConfiguration may only raise it \
         (lower it with PUT /api/admin/chargers/{device_id})"
    )]
    ProfileNotRaised { current: i32, device_id: String },
    #[error("Security profile {0} needs the TLS listener (CSMS_OCPP_TLS_ADDR)")]
    NeedsTls(i32),
    #[error("Security profile 3 needs client certificate verification (CSMS_OCPP_TLS_CLIENT_CA)")]
    NeedsClientCertificates,
    #[error("Security profile 2 needs a password: set one first (AuthorizationKey)")]
    NeedsPassword,
    #[error("deviceId must be 1 to 48 characters: letters, digits, '-', '_', '.', ':'")]
    DeviceId,
    #[error("status must be accepted, pending or rejected")]
    Registration,
    #[error("Tariff not found")]
    TariffNotFound,
    #[error("Station not found")]
    StationNotFound,
    #[error("A charger with this deviceId or chargingPointId already exists")]
    Duplicate,
    #[error("Charger has charging history and cannot be deleted")]
    HasHistory,
}

impl From<ChargerError> for AppError {
    fn from(e: ChargerError) -> Self {
        use ChargerError::*;
        match e {
            TariffNotFound | StationNotFound => AppError::NotFound(e.to_string()),
            Duplicate | HasHistory => AppError::Conflict(e.to_string()),
            _ => AppError::bad_request(e.to_string()),
        }
    }
}

text_enum! {
    /// Whether a charger is let in: its BootNotification is answered Accepted, Pending (held until
    /// an operator decides) or Rejected.
    pub enum Registration {
        Accepted = "accepted",
        Pending = "pending",
        Rejected = "rejected",
    }
}

pub const MIN_PASSWORD: usize = 16;
pub const MAX_PASSWORD: usize = 40;

/// A new random charger password: 40 hex digits (20 random bytes).
pub fn generate_password() -> String {
    hex::encode(rand::random::<[u8; 20]>())
}

fn digest(salt: &[u8], password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// `sha256$<salt hex>$<digest hex>` with a fresh 16-byte salt.
pub fn hash_secret(password: &str) -> String {
    let salt = rand::random::<[u8; 16]>();
    format!(
        "sha256${}${}",
        hex::encode(salt),
        hex::encode(digest(&salt, password))
    )
}

/// How a presented password compares with a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    Yes,
    /// Right, but stored in the old (bcrypt) form: store [`hash_secret`] instead.
    YesRehash,
    No,
}

/// Checks a charger password in constant time (for the fast form); bcrypt for old hashes.
pub fn verify_secret(password: &str, stored: &str) -> Verified {
    if let Some(rest) = stored.strip_prefix("sha256$") {
        let Some((salt, want)) = rest.split_once('$') else {
            return Verified::No;
        };
        let (Ok(salt), Ok(want)) = (hex::decode(salt), hex::decode(want)) else {
            return Verified::No;
        };
        let got = digest(&salt, password);
        let same = want.len() == got.len()
            && want
                .iter()
                .zip(got.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        return if same { Verified::Yes } else { Verified::No };
    }
    if stored.starts_with("$2") && bcrypt::verify(password, stored).unwrap_or(false) {
        return Verified::YesRehash;
    }
    Verified::No
}

/// The credentials of a charger as an operator asks for them.
#[derive(Debug, Default)]
pub struct Credentials {
    pub security_profile: Option<i32>,
    /// `Some(None)`: remove the password (profile 0 only).
    pub password: Option<Option<String>>,
}

/// What to store: the profile, the password hash (`None`: no password), and the password to show
/// once when csms generated it.
struct Resolved {
    profile: i32,
    hash: Option<String>,
    generated: Option<String>,
}

fn resolve(
    current_profile: Option<i32>,
    current_hash: Option<&str>,
    want: &Credentials,
) -> Result<Resolved, AppError> {
    // A password given for a charger without one (profile 0) and no profile named: profile 1.
    let implied = match (&want.password, current_profile) {
        (Some(Some(_)), Some(0)) => Some(1),
        _ => None,
    };
    let profile = want
        .security_profile
        .or(implied)
        .or(current_profile)
        .unwrap_or(1);
    match profile {
        // 2 and 3 connect over the TLS listener (CSMS_OCPP_TLS_ADDR); 3 authenticates with a client
        // certificate, and keeps a password only for a later move back to 1 or 2.
        0..=3 => {}
        _ => {
            return Err(ChargerError::SecurityProfile.into());
        }
    }
    if let Some(Some(p)) = &want.password
        && !(MIN_PASSWORD..=MAX_PASSWORD).contains(&p.chars().count())
    {
        return Err(ChargerError::PasswordLength.into());
    }
    if profile == 0 {
        if matches!(want.password, Some(Some(_))) {
            return Err(ChargerError::PasswordAtProfile0.into());
        }
        return Ok(Resolved {
            profile,
            hash: None,
            generated: None,
        });
    }
    Ok(match &want.password {
        Some(Some(p)) => Resolved {
            profile,
            hash: Some(hash_secret(p)),
            generated: None,
        },
        Some(None) => {
            return Err(ChargerError::PasswordNeeded.into());
        }
        None => match current_hash {
            Some(h) => Resolved {
                profile,
                hash: Some(h.to_string()),
                generated: None,
            },
            None => {
                let p = generate_password();
                Resolved {
                    profile,
                    hash: Some(hash_secret(&p)),
                    generated: Some(p),
                }
            }
        },
    })
}

pub struct NewCharger {
    pub device_id: String,
    pub charging_point_id: String,
    pub station_id: i64,
    pub name: Option<String>,
    pub tariff_id: Option<i64>,
    pub credentials: Credentials,
}

/// A charger with the password csms generated for it, shown once.
pub struct Saved {
    pub charger: Charger,
    pub generated_password: Option<String>,
}

/// 404 `Tariff not found` unless the tariff exists (or none is given).
pub fn check_tariff(c: &mut DbConnection, tariff_id: Option<i64>) -> Result<(), AppError> {
    if let Some(t) = tariff_id {
        let n: i64 = tariffs::table.find(t).count().get_result(c)?;
        if n == 0 {
            return Err(ChargerError::TariffNotFound.into());
        }
    }
    Ok(())
}

fn duplicate(e: diesel::result::Error) -> AppError {
    if is_unique_violation(&e) {
        ChargerError::Duplicate.into()
    } else {
        AppError::from(e)
    }
}

/// Registers a charger (security profile 1 with a generated password unless told otherwise).
pub fn create(c: &mut DbConnection, new: NewCharger) -> Result<Saved, AppError> {
    let r = resolve(None, None, &new.credentials)?;
    write_tx(c, |c| {
        let n: i64 = stations::table
            .filter(stations::id.eq(new.station_id))
            .count()
            .get_result(c)?;
        if n == 0 {
            return Err(ChargerError::StationNotFound.into());
        }
        check_tariff(c, new.tariff_id)?;
        let id: i64 = diesel::insert_into(chargers::table)
            .values((
                chargers::device_id.eq(&new.device_id),
                chargers::charging_point_id.eq(&new.charging_point_id),
                chargers::station_id.eq(new.station_id),
                chargers::name.eq(&new.name),
                chargers::ocpp_password_hash.eq(&r.hash),
                chargers::security_profile.eq(r.profile),
                chargers::tariff_id.eq(new.tariff_id),
                chargers::created_at.eq(now()),
            ))
            .returning(chargers::id)
            .get_result(c)
            .map_err(duplicate)?;
        Ok(Saved {
            charger: chargers::table
                .find(id)
                .select(Charger::as_select())
                .first(c)?,
            generated_password: r.generated,
        })
    })
}

#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<Option<String>>,
    pub charging_point_id: Option<String>,
    pub credentials: Credentials,
    /// `Some(None)`: unpinned; `Some(Some(v))`: pinned to `v` (ocpp1.6 or ocpp2.0.1).
    pub ocpp_version_pin: Option<Option<String>>,
    /// GetVariables, SetVariables and GetReport ItemsPerMessage limits: `Some(None)` clears one.
    pub items_per_message: [Option<Option<i64>>; 3],
}

/// The OCPP versions a charger may be pinned to.
pub const OCPP_VERSIONS: [&str; 2] = ["ocpp1.6", "ocpp2.0.1"];

/// `PUT /api/admin/chargers/{deviceId}`: name, charging point id, security profile, password. A new
/// password (given, or generated when moving to profile 1 without one) takes effect at the
/// charger's next handshake; the connected session is not dropped.
pub fn update(c: &mut DbConnection, device_id: &str, ch: Changes) -> Result<Saved, AppError> {
    write_tx(c, |c| {
        let current: Charger = chargers::table
            .filter(chargers::device_id.eq(device_id))
            .select(Charger::as_select())
            .first(c)
            .optional()?
            .ok_or(AppError::ChargerNotFound)?;
        let r = resolve(
            Some(current.security_profile),
            current.ocpp_password_hash.as_deref(),
            &ch.credentials,
        )?;
        let cp = ch
            .charging_point_id
            .unwrap_or(current.charging_point_id.clone());
        let name = ch.name.unwrap_or(current.name.clone());
        if let Some(Some(v)) = &ch.ocpp_version_pin
            && !OCPP_VERSIONS.contains(&v.as_str())
        {
            return Err(AppError::bad_request(
                "ocppVersionPin must be ocpp1.6, ocpp2.0.1 or null",
            ));
        }
        let pin = ch
            .ocpp_version_pin
            .unwrap_or(current.ocpp_version_pin.clone());
        let current_limits = [
            current.items_per_message_get_variables,
            current.items_per_message_set_variables,
            current.items_per_message_get_report,
        ];
        let mut limits = [None; 3];
        for (i, given) in ch.items_per_message.iter().enumerate() {
            limits[i] = match given {
                None => current_limits[i],
                Some(None) => None,
                Some(Some(n)) => Some(
                    i32::try_from(*n)
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| {
                            AppError::bad_request(
                                "itemsPerMessage limits must be integers of 1 or more (null clears one)",
                            )
                        })?,
                ),
            };
        }
        diesel::update(chargers::table.find(current.id))
            .set((
                chargers::charging_point_id.eq(&cp),
                chargers::name.eq(&name),
                chargers::ocpp_password_hash.eq(&r.hash),
                chargers::security_profile.eq(r.profile),
                chargers::ocpp_version_pin.eq(&pin),
                chargers::items_per_message_get_variables.eq(limits[0]),
                chargers::items_per_message_set_variables.eq(limits[1]),
                chargers::items_per_message_get_report.eq(limits[2]),
            ))
            .execute(c)
            .map_err(duplicate)?;
        Ok(Saved {
            charger: chargers::table
                .find(current.id)
                .select(Charger::as_select())
                .first(c)?,
            generated_password: r.generated,
        })
    })
}

/// ChangeConfiguration `AuthorizationKey` through the commands API: the new password must be one
/// csms accepts (checked before it is sent), and is stored once the charger accepted it
/// ([`authorization_key_accepted`]), so its next handshake uses it.
pub fn check_authorization_key(value: &str) -> Result<(), AppError> {
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&value.chars().count())
        || !value.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ChargerError::AuthorizationKey.into());
    }
    Ok(())
}

/// A new `AuthorizationKey` is about to be sent: until the charger answers, a connection with it is
/// let in too (a charger that accepts it may reconnect with it at once, before its answer has been
/// processed; connecting with it proves it took it).
pub fn authorization_key_pending(
    c: &mut DbConnection,
    device_id: &str,
    value: &str,
) -> Result<(), AppError> {
    check_authorization_key(value)?;
    set_pending_password(c, device_id, Some(hash_secret(value)))
}

/// The charger refused the new `AuthorizationKey`: its old password stays the only one.
pub fn authorization_key_refused(c: &mut DbConnection, device_id: &str) -> Result<(), AppError> {
    set_pending_password(c, device_id, None)
}

/// The password a connection may also use until the charger answers (a hash), or none.
fn set_pending_password(
    c: &mut DbConnection,
    device_id: &str,
    hash: Option<String>,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        diesel::update(chargers::table.filter(chargers::device_id.eq(device_id)))
            .set(chargers::pending_password_hash.eq(hash))
            .execute(c)
    })?;
    Ok(())
}

/// The charger accepted a new `AuthorizationKey` (its answer, or a connection with it): it is the
/// charger's password from now on (a profile 0 charger moves to profile 1).
pub fn authorization_key_accepted(
    c: &mut DbConnection,
    device_id: &str,
    value: &str,
) -> Result<(), AppError> {
    check_authorization_key(value)?;
    let hash = hash_secret(value);
    write_tx(c, |c| {
        let n = diesel::update(chargers::table.filter(chargers::device_id.eq(device_id)))
            .set((
                chargers::ocpp_password_hash.eq(&hash),
                chargers::pending_password_hash.eq(None::<String>),
                chargers::security_profile.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                    "CASE WHEN security_profile = 0 THEN 1 ELSE security_profile END",
                )),
            ))
            .execute(c)?;
        if n == 0 {
            return Err(AppError::ChargerNotFound);
        }
        Ok(())
    })
}

/// A station answered a new password (1.6's ChangeConfiguration `AuthorizationKey`, 2.0.1's
/// SetVariables `BasicAuthPassword`): accepted, it is the charger's password from now on; refused,
/// its old password stays the only one.
pub async fn password_answered(
    db: &crate::infra::db::Db,
    device_id: &str,
    password: String,
    accepted: bool,
) -> Result<(), AppError> {
    let d = device_id.to_string();
    db.run(move |c| match accepted {
        true => authorization_key_accepted(c, &d, &password),
        false => authorization_key_refused(c, &d),
    })
    .await
}

/// What the TLS listener offers, for raising a charger's security profile.
#[derive(Clone, Copy, Debug)]
pub struct TlsOffer {
    /// The `wss://` listener runs (profiles 2 and 3).
    pub listener: bool,
    /// It verifies client certificates (profile 3).
    pub client_certificates: bool,
}

/// ChangeConfiguration `SecurityProfile` through the commands API (the upgrade of TC_083): the
/// new profile must be higher than the stored one (OCPP forbids lowering it; an operator lowers
/// it with `PUT /api/admin/chargers/{deviceId}`), and csms must be able to take the charger at
/// it. Returns the profile, stored once the charger accepted ([`security_profile_accepted`]).
pub fn check_security_profile(
    c: &mut DbConnection,
    device_id: &str,
    value: &str,
    tls: TlsOffer,
) -> Result<i32, AppError> {
    let profile: i32 = value
        .trim()
        .parse()
        .ok()
        .filter(|p| (0..=3).contains(p))
        .ok_or(ChargerError::SecurityProfileKey)?;
    let (current, has_password) = chargers::table
        .filter(chargers::device_id.eq(device_id))
        .select((
            chargers::security_profile,
            chargers::ocpp_password_hash.is_not_null(),
        ))
        .first::<(i32, bool)>(c)
        .optional()?
        .ok_or(AppError::ChargerNotFound)?;
    if profile <= current {
        return Err(ChargerError::ProfileNotRaised {
            current,
            device_id: device_id.to_string(),
        }
        .into());
    }
    if profile >= 2 && !tls.listener {
        return Err(ChargerError::NeedsTls(profile).into());
    }
    if profile == 3 && !tls.client_certificates {
        return Err(ChargerError::NeedsClientCertificates.into());
    }
    if profile == 2 && !has_password {
        return Err(ChargerError::NeedsPassword.into());
    }
    Ok(profile)
}

/// The charger accepted a new `SecurityProfile`: from its next connection it must use it, and a
/// connection below it is refused.
pub fn security_profile_accepted(
    c: &mut DbConnection,
    device_id: &str,
    profile: i32,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        let n = diesel::update(
            chargers::table
                .filter(chargers::device_id.eq(device_id))
                .filter(chargers::security_profile.lt(profile)),
        )
        .set(chargers::security_profile.eq(profile))
        .execute(c)?;
        if n == 0 {
            log::info!("{device_id}: security profile already at {profile} or above");
        }
        Ok(())
    })
}

/// A chargeBoxIdentity an operator may register: 1 to 48 letters, digits, '-', '_', '.', ':'.
pub fn valid_device_id(id: &str) -> Result<(), AppError> {
    let ok = !id.is_empty()
        && id.len() <= 48
        && id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch));
    if ok {
        Ok(())
    } else {
        Err(ChargerError::DeviceId.into())
    }
}

/// A charger as the operator API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargerView {
    pub id: i64,
    /// chargeBoxIdentity
    pub device_id: String,
    pub charging_point_id: String,
    pub station_id: i64,
    pub name: Option<String>,
    pub tariff_id: Option<i64>,
    /// Connected to this csms now (to any node of a cluster)
    pub online: bool,
    /// The node holding its connection (cluster mode: possibly another node than the one asked)
    pub node: Option<String>,
    pub has_ocpp_password: bool,
    pub security_profile: i32,
    /// accepted; pending (admitted unknown charger awaiting approval: BootNotification Pending);
    /// rejected (disabled: BootNotification Rejected)
    pub registration: String,
    /// The OCPP version of its last connection: ocpp1.6 or ocpp2.0.1 (none: never connected)
    pub ocpp_version: Option<String>,
    /// The one OCPP version it may connect with, pinned by an operator (none: any version csms
    /// serves)
    pub ocpp_version_pin: Option<String>,
    /// OCPP 2.0.1: the most items a GetVariables request may carry (DeviceDataCtrlr
    /// ItemsPerMessage), as the operator set it (none: as the station's reports tell)
    pub items_per_message_get_variables: Option<i32>,
    /// The same for SetVariables
    pub items_per_message_set_variables: Option<i32>,
    /// The same for GetReport
    pub items_per_message_get_report: Option<i32>,
    pub vendor: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    /// The last StatusNotification for connector 0
    pub status: Option<String>,
    pub error_code: Option<String>,
    pub last_boot_at: Option<String>,
    /// The last Heartbeat
    pub last_heartbeat: Option<String>,
    /// The last frame of any kind (a busy charger may send no Heartbeat)
    pub last_seen: Option<String>,
    pub connectors: Vec<ConnectorView>,
    /// Sessions open on it now (the console warns before rejecting a charger that has some)
    pub open_sessions: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorView {
    pub connector_id: i32,
    pub status: String,
    pub error_code: String,
    pub info: Option<String>,
    pub vendor_error_code: Option<String>,
    pub updated_at: String,
}

/// The connectors of one charger among `all`.
pub fn connectors_of(all: &[Connector], charger_id: i64) -> impl Iterator<Item = &Connector> {
    all.iter().filter(move |k| k.charger_id == charger_id)
}

impl ChargerView {
    /// Takes the time of the connection's last frame (kept in memory, see
    /// `ocpp::registry::LastFrame`) as `last_seen` when it is later than the stored one.
    pub fn seen_at(&mut self, last_frame: Option<chrono::NaiveDateTime>) {
        let Some(t) = last_frame else { return };
        let stored = self.last_seen.as_deref().and_then(parse_timestamp);
        if stored.is_none_or(|s| t > s) {
            self.last_seen = Some(format_timestamp(t));
        }
    }

    fn of(ch: Charger, conns: &[Connector], online: bool, open_sessions: i64) -> Self {
        ChargerView {
            open_sessions,
            id: ch.id,
            online,
            node: None,
            has_ocpp_password: ch.ocpp_password_hash.is_some(),
            security_profile: ch.security_profile,
            registration: ch.registration.clone(),
            ocpp_version: ch.ocpp_version,
            ocpp_version_pin: ch.ocpp_version_pin,
            items_per_message_get_variables: ch.items_per_message_get_variables,
            items_per_message_set_variables: ch.items_per_message_set_variables,
            items_per_message_get_report: ch.items_per_message_get_report,
            vendor: ch.vendor,
            model: ch.model,
            serial_number: ch.serial_number,
            firmware_version: ch.firmware_version,
            status: ch.status,
            error_code: ch.error_code,
            last_boot_at: ch.last_boot_at.map(format_timestamp),
            last_heartbeat: ch.last_heartbeat_at.map(format_timestamp),
            last_seen: ch.last_seen_at.map(format_timestamp),
            connectors: connectors_of(conns, ch.id)
                .map(|k| ConnectorView {
                    connector_id: k.connector_id,
                    status: k.status.clone(),
                    error_code: k.error_code.clone(),
                    info: k.info.clone(),
                    vendor_error_code: k.vendor_error_code.clone(),
                    updated_at: format_timestamp(k.updated_at),
                })
                .collect(),
            created_at: format_timestamp(ch.created_at),
            device_id: ch.device_id,
            charging_point_id: ch.charging_point_id,
            station_id: ch.station_id,
            name: ch.name,
            tariff_id: ch.tariff_id,
        }
    }
}

/// Chargers (all, or the one with `device`) with their connectors, in registration order.
fn views(
    c: &mut DbConnection,
    device: Option<&str>,
    online: impl Fn(&str) -> bool,
) -> Result<Vec<ChargerView>, AppError> {
    let mut q = chargers::table
        .order(chargers::id)
        .select(Charger::as_select())
        .into_boxed();
    if let Some(d) = device {
        q = q.filter(chargers::device_id.eq(d.to_string()));
    }
    let list: Vec<Charger> = q.load(c)?;
    let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
    let conns: Vec<Connector> = connectors::table
        .filter(connectors::charger_id.eq_any(&ids))
        .order((connectors::charger_id, connectors::connector_id))
        .select(Connector::as_select())
        .load(c)?;
    let open: Vec<i64> = crate::infra::db::schema::charging_sessions::table
        .filter(crate::infra::db::schema::charging_sessions::charger_id.eq_any(&ids))
        .filter(crate::infra::db::schema::charging_sessions::status.eq_any(SessionStatus::OPEN))
        .select(crate::infra::db::schema::charging_sessions::charger_id)
        .load(c)?;
    Ok(list
        .into_iter()
        .map(|ch| {
            let on = online(&ch.device_id);
            let n = open.iter().filter(|id| **id == ch.id).count() as i64;
            ChargerView::of(ch, &conns, on, n)
        })
        .collect())
}

/// Every charger; `online` tells whether a chargeBoxIdentity is connected.
pub fn list(
    c: &mut DbConnection,
    online: impl Fn(&str) -> bool,
) -> Result<Vec<ChargerView>, AppError> {
    views(c, None, online)
}

pub fn get(
    c: &mut DbConnection,
    device_id: &str,
    online: impl Fn(&str) -> bool,
) -> Result<ChargerView, AppError> {
    views(c, Some(device_id), online)?
        .into_iter()
        .next()
        .ok_or(AppError::ChargerNotFound)
}

/// A charger as registered or changed, with the password csms generated for it (shown once).
pub struct Registered {
    pub charger: ChargerView,
    pub generated_password: Option<String>,
}

/// [`create`], as the API shows the result (no connectors yet).
pub fn register(
    c: &mut DbConnection,
    new: NewCharger,
    online: impl Fn(&str) -> bool,
) -> Result<Registered, AppError> {
    let saved = create(c, new)?;
    let on = online(&saved.charger.device_id);
    Ok(Registered {
        charger: ChargerView::of(saved.charger, &[], on, 0),
        generated_password: saved.generated_password,
    })
}

/// [`update`], as the API shows the result.
pub fn change(
    c: &mut DbConnection,
    device_id: &str,
    changes: Changes,
    online: impl Fn(&str) -> bool,
) -> Result<Registered, AppError> {
    let saved = update(c, device_id, changes)?;
    Ok(Registered {
        charger: get(c, &saved.charger.device_id, online)?,
        generated_password: saved.generated_password,
    })
}

/// [`id_of`], off the executor.
pub async fn find(db: &crate::infra::db::Db, device_id: &str) -> Result<i64, AppError> {
    let d = device_id.to_string();
    db.run(move |c| id_of(c, &d)).await
}

/// The internal id of a registered charger (404 `Charger not found`).
pub fn id_of(c: &mut DbConnection, device_id: &str) -> Result<i64, AppError> {
    chargers::table
        .filter(chargers::device_id.eq(device_id))
        .select(chargers::id)
        .first(c)
        .optional()?
        .ok_or(AppError::ChargerNotFound)
}

/// Deletes a charger that has no charging history; one with history is kept for the books (409).
pub fn delete(c: &mut DbConnection, device_id: &str) -> Result<(), AppError> {
    write_tx(c, |c| {
        let id = id_of(c, device_id)?;
        let sessions: i64 = charging_sessions::table
            .filter(charging_sessions::charger_id.eq(id))
            .count()
            .get_result(c)?;
        let txs: i64 = ocpp_transactions::table
            .filter(ocpp_transactions::charger_id.eq(id))
            .count()
            .get_result(c)?;
        if sessions + txs > 0 {
            return Err(ChargerError::HasHistory.into());
        }
        diesel::delete(connectors::table.filter(connectors::charger_id.eq(id))).execute(c)?;
        diesel::delete(meter_values::table.filter(meter_values::charger_id.eq(id))).execute(c)?;
        diesel::delete(ocpp_messages::table.filter(ocpp_messages::charger_id.eq(id))).execute(c)?;
        // The files its diagnostics and log jobs received go with the jobs (which cascade).
        let mut files: Vec<i64> = crate::infra::db::schema::maintenance_jobs::table
            .filter(crate::infra::db::schema::maintenance_jobs::charger_id.eq(id))
            .filter(crate::infra::db::schema::maintenance_jobs::file_id.is_not_null())
            .select(crate::infra::db::schema::maintenance_jobs::file_id.assume_not_null())
            .load(c)?;
        files.extend(
            crate::infra::db::schema::security_jobs::table
                .filter(crate::infra::db::schema::security_jobs::charger_id.eq(id))
                .filter(crate::infra::db::schema::security_jobs::file_id.is_not_null())
                .select(crate::infra::db::schema::security_jobs::file_id.assume_not_null())
                .load::<i64>(c)?,
        );
        diesel::delete(chargers::table.find(id)).execute(c)?;
        crate::infra::files::delete_in(c, &files)?;
        Ok(())
    })
}

/// Sets (or with `None` removes) the charger's own tariff.
pub fn assign_tariff(
    c: &mut DbConnection,
    device_id: &str,
    tariff_id: Option<i64>,
) -> Result<(), AppError> {
    check_tariff(c, tariff_id)?;
    let n = diesel::update(chargers::table.filter(chargers::device_id.eq(device_id)))
        .set(chargers::tariff_id.eq(tariff_id))
        .execute(c)?;
    if n == 0 {
        Err(AppError::ChargerNotFound)
    } else {
        Ok(())
    }
}

/// What the handshake needs to know about a charger.
pub struct Access {
    pub charger_id: i64,
    pub security_profile: i32,
    pub password_hash: Option<String>,
    /// A new password sent in ChangeConfiguration AuthorizationKey, not yet confirmed.
    pub pending_password_hash: Option<String>,
    /// Whether its BootNotification is answered Accepted (`registration = 'accepted'`).
    pub accepted: bool,
    /// The one OCPP version it may connect with (an operator's pin).
    pub version_pin: Option<String>,
}

/// Most admitted unknown chargers waiting for approval at once.
pub const MAX_PENDING: i64 = 1000;

/// An unknown charger connects while `CSMS_ADMIT_UNKNOWN_CHARGERS` is on: registered as `pending`
/// (security profile 0, in the "Unassigned chargers" station) for the operator to approve. `None`
/// when too many are pending already or the id is not a valid chargeBoxIdentity.
pub fn admit_unknown(c: &mut DbConnection, device_id: &str) -> Result<Option<i64>, AppError> {
    if valid_device_id(device_id).is_err() {
        return Ok(None);
    }
    let result = write_tx(c, |c| {
        let pending: i64 = chargers::table
            .filter(chargers::registration.eq(Registration::Pending))
            .count()
            .get_result(c)?;
        if pending >= MAX_PENDING {
            return Ok(None);
        }
        let station: Option<i64> = crate::infra::db::schema::stations::table
            .filter(crate::infra::db::schema::stations::name.eq("Unassigned chargers"))
            .select(crate::infra::db::schema::stations::id)
            .first(c)
            .optional()?;
        let station = match station {
            Some(id) => id,
            None => diesel::insert_into(crate::infra::db::schema::stations::table)
                .values((
                    crate::infra::db::schema::stations::name.eq("Unassigned chargers"),
                    crate::infra::db::schema::stations::created_at.eq(now()),
                ))
                .returning(crate::infra::db::schema::stations::id)
                .get_result(c)?,
        };
        let id: i64 = diesel::insert_into(chargers::table)
            .values((
                chargers::device_id.eq(device_id),
                chargers::charging_point_id.eq(format!("CP-{device_id}")),
                chargers::station_id.eq(station),
                chargers::security_profile.eq(0),
                chargers::registration.eq(Registration::Pending),
                chargers::created_at.eq(now()),
            ))
            .returning(chargers::id)
            .get_result(c)?;
        log::info!("{device_id}: unknown charger admitted as pending, awaiting approval");
        Ok::<_, AppError>(Some(id))
    });
    match result {
        // Two connections of the same new charger at once: the other one registered it.
        Err(AppError::Database(e)) if crate::infra::db::is_unique_violation(&e) => Ok(None),
        other => other,
    }
}

/// The operator accepts, holds (pending) or rejects (disables) a charger.
pub fn set_registration(
    c: &mut DbConnection,
    device_id: &str,
    status: Registration,
) -> Result<(), AppError> {
    let n = write_tx(c, |c| {
        diesel::update(chargers::table.filter(chargers::device_id.eq(device_id)))
            .set(chargers::registration.eq(status))
            .execute(c)
    })?;
    if n == 0 {
        return Err(AppError::ChargerNotFound);
    }
    Ok(())
}

/// The operator's decision on a charger, applied to its live connection too: an accepted charger
/// is asked to boot again at once (TriggerMessage BootNotification) so that it hears Accepted.
pub async fn decide_registration(
    db: &crate::infra::db::Db,
    stations: std::sync::Arc<dyn crate::domain::station_commands::StationCommands>,
    call_timeout: std::time::Duration,
    device_id: &str,
    status: &str,
) -> Result<(), AppError> {
    let status = Registration::of(status).ok_or(ChargerError::Registration)?;
    let d = device_id.to_string();
    db.run(move |c| set_registration(c, &d, status)).await?;
    let accepted = status == Registration::Accepted;
    // Set on the live connection whatever the decision; a TriggerMessage only for an acceptance.
    if stations.set_accepted(device_id, accepted) && accepted {
        let (stations, device) = (stations.clone(), device_id.to_string());
        tokio::spawn(async move {
            let answer = stations
                .send(
                    &device,
                    crate::domain::station_commands::Command::TriggerBoot,
                    call_timeout,
                )
                .await;
            log::info!("{device}: accepted; boot notification asked for: {answer:?}");
        });
    }
    log::info!("{device_id}: registration set to {status}");
    Ok(())
}

pub fn access(c: &mut DbConnection, device_id: &str) -> Result<Option<Access>, AppError> {
    type Row = (
        i64,
        i32,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    Ok(chargers::table
        .filter(chargers::device_id.eq(device_id))
        .select((
            chargers::id,
            chargers::security_profile,
            chargers::ocpp_password_hash,
            chargers::registration,
            chargers::pending_password_hash,
            chargers::ocpp_version_pin,
        ))
        .first::<Row>(c)
        .optional()?
        .map(
            |(charger_id, security_profile, password_hash, registration, pending, pin)| Access {
                charger_id,
                security_profile,
                password_hash,
                pending_password_hash: pending,
                accepted: registration == Registration::Accepted,
                version_pin: pin,
            },
        ))
}

/// Replaces an old (bcrypt) hash with the fast form after a successful handshake.
pub fn rehash(c: &mut DbConnection, charger_id: i64, password: &str) -> Result<(), AppError> {
    let hash = hash_secret(password);
    write_tx(c, |c| {
        diesel::update(chargers::table.find(charger_id))
            .set(chargers::ocpp_password_hash.eq(hash))
            .execute(c)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_words() {
        crate::infra::db::text_enum::check_words(
            Registration::ALL,
            Registration::as_str,
            Registration::of,
        );
    }

    #[test]
    fn secrets_hash_salted_and_verify() {
        let p = generate_password();
        assert_eq!(p.len(), 40);
        let (a, b) = (hash_secret(&p), hash_secret(&p));
        assert_ne!(a, b, "salted");
        assert_eq!(verify_secret(&p, &a), Verified::Yes);
        assert_eq!(verify_secret("wrong", &a), Verified::No);
        assert_eq!(verify_secret(&p, "sha256$zz$zz"), Verified::No);
        assert_eq!(verify_secret(&p, "garbage"), Verified::No);
        let old = bcrypt::hash(&p, 4).unwrap();
        assert_eq!(verify_secret(&p, &old), Verified::YesRehash);
        assert_eq!(verify_secret("wrong", &old), Verified::No);
    }

    #[test]
    fn profiles_and_passwords() {
        let none = Credentials::default();
        let r = resolve(None, None, &none).unwrap();
        assert_eq!(r.profile, 1);
        assert!(r.generated.is_some() && r.hash.is_some(), "generated");
        let zero = Credentials {
            security_profile: Some(0),
            password: None,
        };
        let r = resolve(None, None, &zero).unwrap();
        assert_eq!((r.profile, r.hash, r.generated), (0, None, None));
        let zero_with = Credentials {
            security_profile: Some(0),
            password: Some(Some("0123456789abcdef".into())),
        };
        assert!(resolve(None, None, &zero_with).is_err());
        let short = Credentials {
            security_profile: Some(1),
            password: Some(Some("short".into())),
        };
        assert!(resolve(None, None, &short).is_err());
        for p in [4, -1] {
            let c = Credentials {
                security_profile: Some(p),
                password: None,
            };
            assert!(resolve(None, None, &c).is_err(), "{p}");
        }
        // Profiles 2 and 3 keep a password (generated when none is given), like profile 1.
        for p in [2, 3] {
            let c = Credentials {
                security_profile: Some(p),
                password: None,
            };
            let r = resolve(None, None, &c).unwrap();
            assert_eq!(r.profile, p);
            assert!(r.generated.is_some() && r.hash.is_some(), "{p}");
        }
        // Keeping the current password when only other settings change.
        let r = resolve(Some(1), Some("sha256$aa$bb"), &Credentials::default()).unwrap();
        assert_eq!(r.hash.as_deref(), Some("sha256$aa$bb"));
        assert!(r.generated.is_none());
    }
}
