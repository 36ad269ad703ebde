//! Reservations (OCPP 1.6 Reservation profile): a customer, or the operator for a token, holds a
//! connector (connector 0: the whole charger) until an expiry time.
//!
//! **A reservation and an open session on the same connector exclude each other, by the database.**
//! Two reservations of one connector, or two of one customer, cannot both be pending or active: a
//! unique partial index decides, as it decides the start race. A reservation and a session are in two
//! tables, so each side takes the same row lock first (an update of the connector's row) and then
//! looks at the other table within its transaction: whichever commits second sees the first (on
//! PostgreSQL the second waits on the row lock, then reads what the first committed; SQLite runs one
//! writer at a time). See [`lock_connectors`], [`hold`] and [`claim_for_start`].
//!
//! A customer's reservation is sent with a fresh one-time idTag; the holder's app start uses it as
//! its session's one-time idTag, so the charger recognises the holder and the StartTransaction that
//! follows carries the reservationId. Another customer's start gets 400 [`RESERVED`].
//!
//! **Customers' limits** (one account must not be able to block chargers for free): a customer
//! reserves one connector, never the whole charger (connector 0 is the operator's); holds one
//! reservation at a time (a unique partial index); and after letting [`NoShows::max`] reservations
//! expire unused within [`NoShows::window`] is refused new ones for [`NoShows::cooldown`] (decided
//! by a query over this table, so every process agrees). See [`refused_until`].
//!
//! A start that consumed a reservation and then failed gives it back while its time is not up
//! ([`end_after_failed_start`]): the charger consumes a reservation only when a transaction starts.

use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::domain::charging::occupancy::Occupancy;
use crate::domain::charging::status::SessionStatus;
use crate::domain::station_commands::{CallFailure, Command, Reply, StationCommands};
use crate::domain::telemetry::ConnectorStatus;
use crate::domain::tokens::valid_tag;
use crate::error::AppError;
use crate::infra::config::Settings;
use crate::infra::db::schema::{
    chargers, charging_sessions, connectors, ocpp_transactions, reservations,
};
use crate::infra::db::text_enum::text_enum;
use crate::infra::db::{Db, DbConnection, filter_given, is_unique_violation, now, write_tx};
use crate::infra::events::{self, EventBus, Subject};
use crate::infra::timestamps::format_timestamp;

text_enum! {
    /// A reservation's state, stored in `reservations.status`.
    pub enum ReservationStatus {
        /// ReserveNow sent (customers: their hold), no answer yet; it holds the connector.
        Pending = "pending",
        /// The charger accepted; it holds the connector until used, cancelled or expired.
        Active = "active",
        /// A session consumed it.
        Used = "used",
        /// The customer, the operator or a replacing reservation ended it.
        Cancelled = "cancelled",
        /// Its time ran out unused.
        Expired = "expired",
        /// The charger answered something other than Accepted.
        Refused = "refused",
        /// The charger did not answer (offline, timeout, error).
        Failed = "failed",
    }
}

/// The statuses in which a reservation holds its connector.
pub const HOLDING: [ReservationStatus; 2] = [ReservationStatus::Pending, ReservationStatus::Active];
/// Longest reservation an operator can make for a token (a week).
pub const MAX_OPERATOR_MINUTES: i64 = 7 * 24 * 60;
/// Longest reservation a customer can make.
pub const MAX_CUSTOMER_MINUTES: i64 = 120;

/// A customer's reservation of connector 0.
/// What a person is told when a reservation cannot be made, found or changed: every message of
/// this module, mapped to HTTP in one place (`From<ReservationError> for AppError`).
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    #[error("Reservation not found")]
    NotFound,
    #[error("You already have a reservation")]
    AlreadyHolding,
    #[error("Reservation is already {0}")]
    AlreadyEnded(String),
    #[error(
        "A customer reserves one connector (connectorId 1 or more): only the operator can reserve a whole charger"
    )]
    WholeChargerIsOperators,
    #[error("minutes must be 1 to {0}")]
    Minutes(i64),
    #[error("expiryDate must be an RFC 3339 date-time in the future")]
    ExpiryDate,
    #[error("connectorId must be 0 or more")]
    ConnectorId,
    #[error("Charger refused the reservation: {0}")]
    Refused(String),
}

impl From<ReservationError> for AppError {
    fn from(e: ReservationError) -> Self {
        use ReservationError::*;
        match e {
            NotFound => AppError::NotFound(e.to_string()),
            AlreadyHolding | AlreadyEnded(_) => AppError::Conflict(e.to_string()),
            WholeChargerIsOperators | Minutes(_) | ExpiryDate | ConnectorId | Refused(_) => {
                AppError::bad_request(e.to_string())
            }
        }
    }
}

/// The no-show rule: a customer who let `max` reservations expire unused within `window` is refused
/// new ones until `cooldown` after the last of those (`max` 0: no rule).
#[derive(Clone, Copy, Debug)]
pub struct NoShows {
    pub max: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

impl NoShows {
    /// `CSMS_RESERVATION_NO_SHOWS`, `CSMS_RESERVATION_NO_SHOW_WINDOW_SECS`,
    /// `CSMS_RESERVATION_NO_SHOW_COOLDOWN_SECS`.
    pub fn from_settings(s: &Settings) -> NoShows {
        // At most a year (the configuration's bound), so that adding them to a date cannot overflow.
        let secs = |v: u64| Duration::seconds(i64::try_from(v.min(366 * 24 * 3600)).unwrap_or(0));
        NoShows {
            max: s.reservation_no_shows,
            window: secs(s.reservation_no_show_window_secs),
            cooldown: secs(s.reservation_no_show_cooldown_secs),
        }
    }
}

/// Reservations as a service: what holding, sending and cancelling them takes (the database, the
/// stations, the event bus, the occupancy marks and the settings that rule them).
pub struct Reservations {
    pub db: Db,
    pub stations: Arc<dyn StationCommands>,
    pub events: Arc<EventBus>,
    pub occupancy: Arc<Occupancy>,
    pub call_timeout: std::time::Duration,
    /// The no-show rule (`CSMS_RESERVATION_NO_SHOWS` and its window and cool-down).
    pub no_shows: NoShows,
    pub policy: crate::domain::charging::Policy,
}

/// A reservation as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// csms's id of the reservation (the API's)
    pub id: i64,
    /// The reservationId the charger knows: `id` for the reservations csms makes, the operator's
    /// own for a ReserveNow sent through the commands API
    pub reservation_id: i64,
    pub device_id: String,
    /// 0: the whole charger
    pub connector_id: i32,
    pub customer_id: Option<i64>,
    /// The idTag the charger holds the connector for (a one-time tag for a customer's reservation)
    pub id_tag: String,
    pub parent_id_tag: Option<String>,
    /// pending (sent to the charger), active, used (a session consumed it), cancelled, expired,
    /// refused (the charger answered Faulted, Occupied, Unavailable or Rejected), failed (no answer)
    pub status: String,
    /// The charger's answer to ReserveNow, when it was not Accepted
    pub answer: Option<String>,
    pub expires_at: String,
    /// The session that consumed it
    pub session_id: Option<String>,
    pub created_at: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = reservations)]
struct Row {
    id: i64,
    ocpp_id: Option<i64>,
    charger_id: i64,
    connector_id: i32,
    customer_id: Option<i64>,
    id_tag: String,
    parent_id_tag: Option<String>,
    status: String,
    answer: Option<String>,
    expires_at: NaiveDateTime,
    session_id: Option<i64>,
    created_at: NaiveDateTime,
}

fn view(c: &mut DbConnection, r: Row) -> Result<Reservation, AppError> {
    let device_id: String = chargers::table
        .find(r.charger_id)
        .select(chargers::device_id)
        .first(c)?;
    let session_id = match r.session_id {
        Some(id) => charging_sessions::table
            .find(id)
            .select(charging_sessions::session_uid)
            .first(c)
            .optional()?,
        None => None,
    };
    Ok(Reservation {
        reservation_id: r.ocpp(),
        id: r.id,
        device_id,
        connector_id: r.connector_id,
        customer_id: r.customer_id,
        id_tag: r.id_tag,
        parent_id_tag: r.parent_id_tag,
        status: r.status,
        answer: r.answer,
        expires_at: format_timestamp(r.expires_at),
        session_id,
        created_at: format_timestamp(r.created_at),
    })
}

impl Row {
    /// The reservationId the charger knows.
    fn ocpp(&self) -> i64 {
        self.ocpp_id.unwrap_or(self.id)
    }
}

/// What a ReserveNow answer makes of a reservation: `active` when Accepted, `refused` with the
/// charger's status, `failed` with why when it did not answer.
fn outcome(answer: &Result<Reply, CallFailure>) -> (ReservationStatus, Option<String>) {
    match answer {
        Ok(r) if r.accepted() => (ReservationStatus::Active, None),
        Ok(r) => (
            ReservationStatus::Refused,
            Some(r.status_or("Rejected").to_string()),
        ),
        Err(f) => (ReservationStatus::Failed, Some(f.to_string())),
    }
}

fn load(c: &mut DbConnection, id: i64) -> Result<Row, AppError> {
    reservations::table
        .find(id)
        .select(Row::as_select())
        .first(c)
        .optional()?
        .ok_or_else(|| ReservationError::NotFound.into())
}

/// What to reserve.
pub struct Request {
    pub device_id: String,
    pub connector_id: i32,
    /// The customer holding it (an app reservation), or none (the operator's, for `id_tag`).
    pub customer_id: Option<i64>,
    /// For the operator's reservations: the token's idTag (normalized). Customers get a one-time tag.
    pub id_tag: Option<String>,
    pub parent_id_tag: Option<String>,
    pub expires_at: NaiveDateTime,
}

impl Request {
    /// A customer's reservation of a connector (1 or more: connector 0, the whole charger, is for
    /// the operator only) for 1 to [`MAX_CUSTOMER_MINUTES`] minutes (default 15).
    pub fn for_customer(
        device_id: String,
        connector_id: i32,
        customer_id: i64,
        minutes: Option<i64>,
    ) -> Result<Request, AppError> {
        if connector_id < 1 {
            return Err(ReservationError::WholeChargerIsOperators.into());
        }
        Ok(Request {
            device_id,
            connector_id,
            customer_id: Some(customer_id),
            id_tag: None,
            parent_id_tag: None,
            expires_at: customer_expiry(minutes.unwrap_or(15))?,
        })
    }

    /// The operator's reservation for a token (and its group) for 1 minute to a week (default
    /// 15 minutes).
    pub fn for_token(
        device_id: String,
        connector_id: i32,
        id_tag: &str,
        parent_id_tag: Option<&str>,
        minutes: Option<i64>,
    ) -> Result<Request, AppError> {
        let minutes = minutes.unwrap_or(15);
        if !(1..=MAX_OPERATOR_MINUTES).contains(&minutes) {
            return Err(ReservationError::Minutes(MAX_OPERATOR_MINUTES).into());
        }
        Request::token(
            device_id,
            connector_id,
            id_tag,
            parent_id_tag,
            now() + Duration::minutes(minutes),
        )
    }

    fn token(
        device_id: String,
        connector_id: i32,
        id_tag: &str,
        parent_id_tag: Option<&str>,
        expires_at: NaiveDateTime,
    ) -> Result<Request, AppError> {
        Ok(Request {
            device_id,
            connector_id: valid_connector(connector_id)?,
            customer_id: None,
            id_tag: Some(valid_tag("idTag", id_tag)?),
            parent_id_tag: parent_id_tag
                .map(|p| valid_tag("parentIdTag", p))
                .transpose()?,
            expires_at,
        })
    }
}

fn valid_connector(id: i32) -> Result<i32, AppError> {
    if id < 0 {
        return Err(ReservationError::ConnectorId.into());
    }
    Ok(id)
}

/// Takes the connector rows' locks (no change): a session start and a reservation of the same
/// connector serialize on them. Connector 0 locks every connector of the charger.
pub fn lock_connectors(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
) -> Result<usize, AppError> {
    let mut q = diesel::update(connectors::table)
        .filter(connectors::charger_id.eq(charger_id))
        .into_boxed();
    if connector_id != 0 {
        q = q.filter(connectors::connector_id.eq(connector_id));
    }
    Ok(q.set(connectors::status_since.eq(connectors::status_since))
        .execute(c)?)
}

/// Whose reservations [`expire_due`] looks at.
#[derive(Clone, Copy)]
enum Scope {
    All,
    Charger(i64),
    Customer(i64),
    /// A charger's and a customer's (one statement).
    ChargerOrCustomer(i64, i64),
}

/// Marks the reservations whose time is up as expired (all, a charger's or a customer's). Callers
/// that also lock connectors expire first and lock after, all in the same order.
fn expire_due(c: &mut DbConnection, scope: Scope) -> Result<usize, AppError> {
    let mut q = diesel::update(reservations::table)
        .filter(reservations::status.eq_any(HOLDING))
        .filter(reservations::expires_at.le(now()))
        .into_boxed();
    match scope {
        Scope::All => {}
        Scope::Charger(id) => q = q.filter(reservations::charger_id.eq(id)),
        Scope::Customer(id) => q = q.filter(reservations::customer_id.eq(id)),
        Scope::ChargerOrCustomer(charger, customer) => {
            q = q.filter(
                reservations::charger_id
                    .eq(charger)
                    .or(reservations::customer_id.eq(customer)),
            )
        }
    }
    Ok(q.set((
        reservations::status.eq(ReservationStatus::Expired),
        reservations::updated_at.eq(now()),
    ))
    .execute(c)?)
}

/// The holding reservations that cover `connector_id` of a charger: its own and the whole
/// charger's (connector 0). For connector 0: every holding reservation of the charger.
fn covering(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
) -> Result<Vec<Row>, AppError> {
    let mut q = reservations::table
        .filter(reservations::charger_id.eq(charger_id))
        .filter(reservations::status.eq_any(HOLDING))
        .filter(reservations::expires_at.gt(now()))
        .select(Row::as_select())
        .into_boxed();
    if connector_id != 0 {
        q = q.filter(reservations::connector_id.eq_any([0, connector_id]));
    }
    Ok(q.load(c)?)
}

/// Step 1 of a reservation: checks, then one transaction that takes the connector (status
/// `pending`). The charger is asked after the commit ([`reserve`]).
fn hold(c: &mut DbConnection, r: &Request, online: bool, rule: &NoShows) -> Result<Row, AppError> {
    if let Some(customer) = r.customer_id
        && let Some(until) = refused_until(c, customer, rule)?
    {
        return Err(no_show_refusal(rule, until));
    }
    let charger_id = crate::domain::chargers::id_of(c, &r.device_id)?;
    if r.connector_id != 0 {
        let status: Option<String> = connectors::table
            .filter(connectors::charger_id.eq(charger_id))
            .filter(connectors::connector_id.eq(r.connector_id))
            .select(connectors::status)
            .first(c)
            .optional()?;
        match status.as_deref() {
            None => return Err(AppError::ConnectorNotFound),
            Some(s) if ConnectorStatus::is_out_of_order(s) => {
                return Err(AppError::ConnectorUnavailable);
            }
            _ => {}
        }
    }
    if !online {
        return Err(AppError::ChargerOffline);
    }
    let id_tag = match &r.id_tag {
        Some(t) => t.clone(),
        None => crate::domain::charging::tags::one_time_tag().replacen('A', "R", 1),
    };
    let result = write_tx(c, |c| {
        // A customer's expired reservation elsewhere must not count as their one reservation.
        expire_due(
            c,
            match r.customer_id {
                Some(customer) => Scope::ChargerOrCustomer(charger_id, customer),
                None => Scope::Charger(charger_id),
            },
        )?;
        let connectors = lock_connectors(c, charger_id, r.connector_id)?;
        if r.connector_id == 0 && connectors == 0 {
            return Err(AppError::ConnectorNotFound);
        }
        if let Some(other) = covering(c, charger_id, r.connector_id)?.first() {
            return Err(
                if r.customer_id.is_some() && other.customer_id == r.customer_id {
                    AppError::from(ReservationError::AlreadyHolding)
                } else {
                    AppError::ConnectorReserved
                },
            );
        }
        // An open session (or a transaction without one) on the connector; for the whole charger,
        // on every connector.
        let mut open: Vec<i32> = charging_sessions::table
            .filter(charging_sessions::charger_id.eq(charger_id))
            .filter(charging_sessions::status.eq_any(SessionStatus::OPEN))
            .select(charging_sessions::connector_id)
            .load(c)?;
        open.extend(
            ocpp_transactions::table
                .filter(ocpp_transactions::charger_id.eq(charger_id))
                .filter(ocpp_transactions::stopped_at.is_null())
                .select(ocpp_transactions::connector_id)
                .load::<i32>(c)?,
        );
        open.sort_unstable();
        open.dedup();
        let taken = if r.connector_id == 0 {
            open.len() >= connectors
        } else {
            open.contains(&r.connector_id)
        };
        if taken {
            return Err(AppError::ConnectorInUse);
        }
        let t = now();
        let id: i64 = diesel::insert_into(reservations::table)
            .values((
                reservations::charger_id.eq(charger_id),
                reservations::connector_id.eq(r.connector_id),
                reservations::customer_id.eq(r.customer_id),
                reservations::id_tag.eq(&id_tag),
                reservations::parent_id_tag.eq(&r.parent_id_tag),
                reservations::status.eq(ReservationStatus::Pending),
                reservations::expires_at.eq(r.expires_at),
                reservations::created_at.eq(t),
                reservations::updated_at.eq(t),
            ))
            .returning(reservations::id)
            .get_result(c)?;
        // The charger knows it by the same number (unique among the charger's holding ones).
        diesel::update(reservations::table.find(id))
            .set(reservations::ocpp_id.eq(id))
            .execute(c)?;
        events::record(
            c,
            "reservation.created",
            Subject {
                customer_id: r.customer_id,
                charger_id: Some(charger_id),
                session_id: None,
            },
            json!({"reservationId": id, "deviceId": r.device_id, "connectorId": r.connector_id, "expiresAt": format_timestamp(r.expires_at)}),
        )?;
        load(c, id)
    });
    match result {
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            // The per-customer index, or a racing reservation of the same connector.
            let mine: i64 = match r.customer_id {
                Some(customer) => reservations::table
                    .filter(reservations::customer_id.eq(customer))
                    .filter(reservations::status.eq_any(HOLDING))
                    .count()
                    .get_result(c)?,
                None => 0,
            };
            Err(if mine > 0 {
                AppError::from(ReservationError::AlreadyHolding)
            } else {
                AppError::ConnectorReserved
            })
        }
        other => other,
    }
}

/// Reserves: holds the connector in the database, then sends ReserveNow. Anything but `Accepted`
/// leaves nothing holding (the row stays, `refused` or `failed`, as history) and is a 400
/// `Charger refused the reservation: <status>`.
pub async fn reserve(desk: &Reservations, r: Request) -> Result<Reservation, AppError> {
    let (reservation, answer) = reserve_answer(desk, r).await?;
    match answer.as_str() {
        "Accepted" => Ok(reservation),
        other => Err(ReservationError::Refused(other.to_string()).into()),
    }
}

/// [`reserve`], with the charger's answer (`Accepted`, `Faulted`, `Occupied`, `Rejected`,
/// `Unavailable`) instead of an error for a refusal (the commands API relays it as it is).
pub async fn reserve_answer(
    desk: &Reservations,
    r: Request,
) -> Result<(Reservation, String), AppError> {
    // Checked again by the call itself; this saves a row for the common case.
    let online = desk.stations.is_online(&r.device_id);
    let row = {
        let r = Request {
            device_id: r.device_id.clone(),
            parent_id_tag: r.parent_id_tag.clone(),
            id_tag: r.id_tag.clone(),
            ..r
        };
        let rule = desk.no_shows;
        desk.db.run(move |c| hold(c, &r, online, &rule)).await?
    };
    let command = Command::Reserve {
        reservation_id: row.ocpp(),
        connector: row.connector_id,
        expires_at: row.expires_at,
        id_tag: row.id_tag.clone(),
        parent_id_tag: row.parent_id_tag.clone(),
    };
    let answer = desk
        .stations
        .send(&r.device_id, command, desk.call_timeout)
        .await;
    let (id, ocpp_id) = (row.id, row.ocpp());
    let lost = matches!(
        answer,
        Err(CallFailure::Timeout | CallFailure::Disconnected)
    );
    let (status, note) = outcome(&answer);
    let (error, reply) = match answer {
        Ok(r) => (None, r.status_or("Rejected").to_string()),
        Err(f) => (Some(AppError::from(f)), String::new()),
    };
    let done = desk
        .db
        .write(move |c| {
            // Conditional: a start may already have consumed a pending reservation.
            diesel::update(
                reservations::table
                    .find(id)
                    .filter(reservations::status.eq(ReservationStatus::Pending)),
            )
            .set((
                reservations::status.eq(status),
                reservations::answer.eq(&note),
                reservations::updated_at.eq(now()),
            ))
            .execute(c)?;
            let row = load(c, id)?;
            view(c, row)
        })
        .await?;
    desk.events.wake();
    if lost {
        // The charger may have taken it without our hearing the answer: tell it to let go.
        cancel_on_charger(desk, &r.device_id, ocpp_id);
    }
    match error {
        Some(e) => Err(e),
        None => Ok((done, reply)),
    }
}

/// An operator's reservation command in the station's own protocol words (sent as given), with
/// what csms records of it.
pub struct Given {
    /// The id the station knows the reservation by.
    pub reservation_id: i64,
    pub connector_id: i32,
    pub id_tag: String,
    pub parent_id_tag: Option<String>,
    pub expires_at: NaiveDateTime,
    pub command: Command,
}

/// The commands API's ReserveNow, sent **as given** (the operator's reservationId, expiryDate, idTag,
/// parentIdTag and connector): the charger is the authority on its own connectors, so nothing is
/// checked against csms's view first. What csms records follows the charger's answer:
/// - `Accepted`: the connector is free and now reserved by the charger. Transactions csms still
///   holds open there have ended and are settled (`charging::orphans::connector_free`); a
///   reservation csms holds on that connector, or under the same reservationId on that charger, was
///   replaced on the charger (OCPP: a ReserveNow with a held id replaces it; one reservation per
///   connector) and ends `cancelled`; the operator's reservation is recorded `active` under its id,
///   so that the StartTransaction carrying that reservationId is linked to it and the customer path
///   sees the connector reserved.
/// - `Faulted`, `Occupied`, `Unavailable`, `Rejected`: recorded `refused`, nothing else changes.
/// - no answer: recorded `failed` (csms sends nothing of its own after it).
///
/// Returns the charger's answer, and the recorded reservation.
pub async fn reserve_as_given(
    desk: &Reservations,
    device: &str,
    given: Given,
) -> Result<(Reply, Reservation), AppError> {
    let Given {
        reservation_id: ocpp_id,
        connector_id,
        id_tag,
        parent_id_tag,
        expires_at,
        command,
    } = given;
    let id_tag = crate::domain::charging::tags::normalize(&id_tag);
    let parent = parent_id_tag
        .as_deref()
        .map(crate::domain::charging::tags::normalize);
    let sent_at = now();
    let answer = desk.stations.send(device, command, desk.call_timeout).await;
    let (status, note) = outcome(&answer);
    let result = answer.map_err(AppError::from);
    let (d, policy) = (device.to_string(), desk.policy);
    let recorded = desk
        .db
        .run(move |c| {
            let charger_id = crate::domain::chargers::id_of(c, &d)?;
            if status == ReservationStatus::Active {
                crate::domain::charging::orphans::connector_free(
                    c,
                    charger_id,
                    connector_id,
                    sent_at,
                    "a reservation",
                    &policy,
                )?;
            }
            write_tx(c, |c| {
                if status == ReservationStatus::Active {
                    let replaced = diesel::update(
                        reservations::table
                            .filter(reservations::charger_id.eq(charger_id))
                            .filter(reservations::status.eq_any(HOLDING))
                            .filter(
                                reservations::ocpp_id
                                    .eq(ocpp_id)
                                    .or(reservations::connector_id.eq(connector_id)),
                            ),
                    )
                    .set((
                        reservations::status.eq(ReservationStatus::Cancelled),
                        reservations::answer.eq(format!(
                            "replaced on the charger by the operator's reservation {ocpp_id}"
                        )),
                        reservations::updated_at.eq(now()),
                    ))
                    .execute(c)?;
                    if replaced > 0 {
                        log::info!(
                            "{d}: the operator's ReserveNow {ocpp_id} replaced {replaced} reservation(s) csms held there"
                        );
                    }
                }
                let t = now();
                let id: i64 = diesel::insert_into(reservations::table)
                    .values((
                        reservations::charger_id.eq(charger_id),
                        reservations::connector_id.eq(connector_id),
                        reservations::customer_id.eq(None::<i64>),
                        reservations::id_tag.eq(&id_tag),
                        reservations::parent_id_tag.eq(&parent),
                        reservations::status.eq(status),
                        reservations::answer.eq(&note),
                        reservations::expires_at.eq(expires_at),
                        reservations::created_at.eq(t),
                        reservations::updated_at.eq(t),
                        reservations::ocpp_id.eq(ocpp_id),
                    ))
                    .returning(reservations::id)
                    .get_result(c)?;
                let row = load(c, id)?;
                view(c, row)
            })
        })
        .await?;
    desk.events.wake();
    desk.occupancy.release(device);
    Ok((result?, recorded))
}

/// Sends CancelReservation for the reservationId the charger knows, in the background (best effort:
/// the charger's own expiry is the backstop).
pub fn cancel_on_charger(desk: &Reservations, device: &str, id: i64) {
    let (stations, device, timeout) =
        (desk.stations.clone(), device.to_string(), desk.call_timeout);
    tokio::spawn(async move {
        let answer = stations
            .send(
                &device,
                Command::CancelReservation { reservation_id: id },
                timeout,
            )
            .await;
        log::info!("reservation {id}: cancelled on {device}: {answer:?}");
    });
}

/// Cancels a holding reservation (`customer_id`: only if it is theirs) and tells the charger.
pub async fn cancel(
    desk: &Reservations,
    id: i64,
    customer_id: Option<i64>,
) -> Result<Reservation, AppError> {
    let (device, done) = desk
        .db
        .write(move |c| {
            let row = load(c, id)?;
            if customer_id.is_some() && row.customer_id != customer_id {
                return Err(ReservationError::NotFound.into());
            }
            let n = diesel::update(
                reservations::table
                    .find(id)
                    .filter(reservations::status.eq_any(HOLDING)),
            )
            .set((
                reservations::status.eq(ReservationStatus::Cancelled),
                reservations::updated_at.eq(now()),
                reservations::customer_cancelled_at.eq(customer_id.map(|_| now())),
            ))
            .execute(c)?;
            if n == 0 {
                return Err(ReservationError::AlreadyEnded(row.status).into());
            }
            events::record(
                c,
                "reservation.cancelled",
                Subject {
                    customer_id: row.customer_id,
                    charger_id: Some(row.charger_id),
                    session_id: None,
                },
                json!({"reservationId": id}),
            )?;
            let row = load(c, id)?;
            let v = view(c, row)?;
            Ok((v.device_id.clone(), v))
        })
        .await?;
    desk.events.wake();
    cancel_on_charger(desk, &device, done.reservation_id);
    Ok(done)
}

/// The commands API's CancelReservation (for the reservationId the charger knows), once the charger
/// accepted it: the holding reservation with that id is marked cancelled. Returns whether one was.
pub fn cancelled_by_command(
    c: &mut DbConnection,
    device_id: &str,
    id: i64,
) -> Result<bool, AppError> {
    let charger_id: Option<i64> = chargers::table
        .filter(chargers::device_id.eq(device_id))
        .select(chargers::id)
        .first(c)
        .optional()?;
    let Some(charger_id) = charger_id else {
        return Err(AppError::ChargerNotFound);
    };
    let n = diesel::update(
        reservations::table
            .filter(reservations::ocpp_id.eq(id))
            .filter(reservations::charger_id.eq(charger_id))
            .filter(reservations::status.eq_any(HOLDING)),
    )
    .set((
        reservations::status.eq(ReservationStatus::Cancelled),
        reservations::updated_at.eq(now()),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// A station says its reservation `id` ended on its own: its time ran out (`expired`), or it was
/// removed (the connector faulted, or became unavailable). The holding reservation with that id
/// ends `expired` or `cancelled`; returns whether one did.
pub fn ended_by_station(
    c: &mut DbConnection,
    charger_id: i64,
    id: i64,
    expired: bool,
) -> Result<bool, AppError> {
    let (status, note) = match expired {
        true => (ReservationStatus::Expired, "expired on the charger"),
        false => (ReservationStatus::Cancelled, "removed by the charger"),
    };
    let n = diesel::update(
        reservations::table
            .filter(reservations::ocpp_id.eq(id))
            .filter(reservations::charger_id.eq(charger_id))
            .filter(reservations::status.eq_any(HOLDING)),
    )
    .set((
        reservations::status.eq(status),
        reservations::answer.eq(note),
        reservations::updated_at.eq(now()),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// For an app start by `customer_id` on a connector, inside the start's transaction (after its
/// connector lock): `Err(ConnectorReserved)` when another holder's reservation covers the connector;
/// the customer's own covering reservation (consumed by the start: its idTag becomes the session's)
/// otherwise. A reservation given back after a failed start ([`end_after_failed_start`]) still
/// carries the idTag that failed session was started with: the tag moves to the new session (the
/// unique `start_tag` index admits one session per tag; the failed one can no longer be re-opened
/// by a StartTransaction with it, the new one is what the charger's reservation now stands for).
pub fn claim_for_start(
    c: &mut DbConnection,
    charger_id: i64,
    connector_id: i32,
    customer_id: i64,
) -> Result<Option<(i64, String)>, AppError> {
    lock_connectors(c, charger_id, connector_id)?;
    let rows = covering(c, charger_id, connector_id)?;
    if rows.is_empty() {
        return Ok(None);
    }
    match rows.iter().find(|r| r.customer_id == Some(customer_id)) {
        Some(mine) => {
            diesel::update(
                charging_sessions::table
                    .filter(charging_sessions::start_tag.eq(&mine.id_tag))
                    .filter(charging_sessions::status.eq(SessionStatus::Failed)),
            )
            .set(charging_sessions::start_tag.eq(None::<String>))
            .execute(c)?;
            Ok(Some((mine.id, mine.id_tag.clone())))
        }
        None => Err(AppError::ConnectorReserved),
    }
}

type UsedBy = (
    diesel::dsl::Eq<reservations::status, ReservationStatus>,
    diesel::dsl::Eq<reservations::session_id, Option<i64>>,
    diesel::dsl::Eq<reservations::updated_at, NaiveDateTime>,
);

/// The change that marks a reservation consumed (by session `session_id`, when csms knows it).
fn used_by(session_id: Option<i64>) -> UsedBy {
    (
        reservations::status.eq(ReservationStatus::Used),
        reservations::session_id.eq(session_id),
        reservations::updated_at.eq(now()),
    )
}

/// The start that claimed reservation `id` created session `session_id`.
pub fn consumed(c: &mut DbConnection, id: i64, session_id: i64) -> Result<(), AppError> {
    diesel::update(
        reservations::table
            .find(id)
            .filter(reservations::status.eq_any(HOLDING)),
    )
    .set(used_by(Some(session_id)))
    .execute(c)?;
    Ok(())
}

/// An app start that consumed a reservation failed (rejected, no answer, offline). A charger
/// consumes a reservation only when a transaction starts with it (and that StartTransaction carries
/// the reservationId, which marks it used: [`used_by_transaction`]), so after a failed start it still
/// holds it. While its time is not up the reservation is given back: holding again (`active`), the
/// same id, idTag and expiry, and the charger is told nothing. Otherwise (its time is up, or
/// something else holds the connector or the customer's one reservation meanwhile) it ends
/// `cancelled` and the charger is told to let go ([`cancel_on_charger`], after the commit): the
/// reservationId the charger knows is returned for that.
pub fn end_after_failed_start(
    c: &mut DbConnection,
    session_id: i64,
) -> Result<Option<i64>, AppError> {
    let row: Option<Row> = reservations::table
        .filter(reservations::session_id.eq(session_id))
        .filter(reservations::status.eq(ReservationStatus::Used))
        .select(Row::as_select())
        .first(c)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.expires_at > now() {
        // In a savepoint: on PostgreSQL a unique violation (the customer reserved elsewhere at this
        // very moment) would otherwise abort the whole transaction, the refund with it.
        match c.transaction(|c| give_back(c, &row)) {
            Ok(true) => return Ok(None),
            Ok(false) => {}
            Err(AppError::Database(e)) if is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
    }
    diesel::update(reservations::table.find(row.id))
        .set((
            reservations::status.eq(ReservationStatus::Cancelled),
            reservations::answer.eq("the start it was used for failed"),
            reservations::updated_at.eq(now()),
        ))
        .execute(c)?;
    Ok(Some(row.ocpp()))
}

/// [`end_after_failed_start`]'s give-back, under the connector lock: whether it holds again.
fn give_back(c: &mut DbConnection, row: &Row) -> Result<bool, AppError> {
    // Expire, then lock, as `hold` does (the other order could deadlock with it on PostgreSQL).
    if let Some(customer) = row.customer_id {
        expire_due(c, Scope::Customer(customer))?;
    }
    lock_connectors(c, row.charger_id, row.connector_id)?;
    if !covering(c, row.charger_id, row.connector_id)?.is_empty() {
        return Ok(false);
    }
    if let Some(customer) = row.customer_id {
        let other: i64 = reservations::table
            .filter(reservations::customer_id.eq(customer))
            .filter(reservations::status.eq_any(HOLDING))
            .count()
            .get_result(c)?;
        if other > 0 {
            return Ok(false);
        }
    }
    let n = diesel::update(
        reservations::table
            .find(row.id)
            .filter(reservations::status.eq(ReservationStatus::Used)),
    )
    .set((
        reservations::status.eq(ReservationStatus::Active),
        reservations::session_id.eq(None::<i64>),
        reservations::updated_at.eq(now()),
    ))
    .execute(c)?;
    if n == 1 {
        events::record(
            c,
            "reservation.restored",
            Subject {
                customer_id: row.customer_id,
                charger_id: Some(row.charger_id),
                session_id: None,
            },
            json!({"reservationId": row.id, "expiresAt": format_timestamp(row.expires_at)}),
        )?;
    }
    Ok(n == 1)
}

/// A StartTransaction carried `reservationId`: the charger ended the reservation (whatever csms
/// answers), so it is used, linked to the session if any.
pub fn used_by_transaction(
    c: &mut DbConnection,
    charger_id: i64,
    reservation_id: i64,
    session_id: Option<i64>,
    connector_id: i32,
) -> Result<(), AppError> {
    diesel::update(
        reservations::table
            .filter(reservations::ocpp_id.eq(reservation_id))
            .filter(reservations::charger_id.eq(charger_id))
            .filter(reservations::connector_id.eq_any([0, connector_id]))
            .filter(reservations::status.eq_any(HOLDING)),
    )
    .set(used_by(session_id))
    .execute(c)?;
    Ok(())
}

/// The holding reservations of a charger's connectors, by connector (0: the whole charger), for
/// showing connectors as Reserved: `(connector_id, customer_id)`.
pub fn holding(c: &mut DbConnection) -> Result<Vec<(i64, i32, Option<i64>)>, AppError> {
    Ok(reservations::table
        .filter(reservations::status.eq_any(HOLDING))
        .filter(reservations::expires_at.gt(now()))
        .select((
            reservations::charger_id,
            reservations::connector_id,
            reservations::customer_id,
        ))
        .load(c)?)
}

pub fn get(
    c: &mut DbConnection,
    id: i64,
    customer_id: Option<i64>,
) -> Result<Reservation, AppError> {
    let row = load(c, id)?;
    if customer_id.is_some() && row.customer_id != customer_id {
        return Err(ReservationError::NotFound.into());
    }
    view(c, row)
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    pub customer_id: Option<i64>,
    pub device_id: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
}

/// Reservations, newest first.
pub fn list(c: &mut DbConnection, f: Filter) -> Result<Vec<Reservation>, AppError> {
    expire_due(c, Scope::All)?;
    let mut q = reservations::table
        .inner_join(chargers::table)
        .order(reservations::id.desc())
        .limit(f.limit.unwrap_or(200).clamp(1, 1000))
        .select(Row::as_select())
        .into_boxed();
    filter_given!(q,
        reservations::customer_id => f.customer_id,
        chargers::device_id => f.device_id,
        reservations::status => f.status,
    );
    let rows: Vec<Row> = q.load(c)?;
    rows.into_iter().map(|r| view(c, r)).collect()
}

/// Expires reservations whose time is up (every few seconds in the background).
pub fn sweep(c: &mut DbConnection) -> Result<usize, AppError> {
    write_tx(c, |c| expire_due(c, Scope::All))
}

/// Until when a customer may not reserve because of the no-show rule (`None`: they may now): the
/// latest `max` of their reservations that went unused (cancelled by them after holding the
/// connector for [`HELD_BEFORE_CANCEL`], or expired: `expired`, or still marked holding past
/// their expiry) lying within one `window`, plus `cooldown` after the last of them.
pub fn refused_until(
    c: &mut DbConnection,
    customer_id: i64,
    rule: &NoShows,
) -> Result<Option<NaiveDateTime>, AppError> {
    let k = rule.max as usize;
    if k == 0 {
        return Ok(None);
    }
    let t = now();
    // Only a group whose last no-show is within `cooldown` of now still refuses, and its first
    // lies within `window` before that.
    let since = t - rule.cooldown - rule.window;
    let mut unused: Vec<NaiveDateTime> = reservations::table
        .filter(reservations::customer_id.eq(customer_id))
        .filter(reservations::expires_at.gt(since))
        .filter(reservations::expires_at.le(t))
        .filter(
            reservations::status
                .eq(ReservationStatus::Expired)
                .or(reservations::status.eq_any(HOLDING)),
        )
        .select(reservations::expires_at)
        .load(c)?;
    // Cancelled by the customer after holding the connector for a while: cancelling at the end and
    // reserving again would otherwise hold a connector forever.
    let cancelled: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = reservations::table
        .filter(reservations::customer_id.eq(customer_id))
        .filter(reservations::customer_cancelled_at.gt(since))
        .filter(reservations::customer_cancelled_at.le(t))
        .select((
            reservations::created_at,
            reservations::customer_cancelled_at,
        ))
        .load(c)?;
    unused.extend(
        cancelled
            .into_iter()
            .filter_map(|(created, at)| at.filter(|at| *at - created >= HELD_BEFORE_CANCEL)),
    );
    unused.sort_unstable_by(|a, b| b.cmp(a));
    Ok(unused
        .windows(k)
        .find(|w| w[0] - w[k - 1] <= rule.window)
        .map(|w| w[0] + rule.cooldown)
        .filter(|until| *until > t))
}

/// A customer's own cancellation after holding the connector this long counts as a no-show.
pub const HELD_BEFORE_CANCEL: Duration = Duration::minutes(5);

/// The 429 for a customer the no-show rule refuses until `until`.
fn no_show_refusal(rule: &NoShows, until: NaiveDateTime) -> AppError {
    let wait = (until - now()).num_seconds().max(1);
    AppError::RateLimited {
        message: format!(
            "You let {} reservations go unused within {}: new reservations are refused until {}.",
            rule.max,
            span(rule.window),
            format_timestamp(until)
        ),
        retry_after_secs: u64::try_from(wait).unwrap_or(1),
    }
}

/// "24 hours", "90 minutes", "45 seconds".
fn span(d: Duration) -> String {
    let s = d.num_seconds();
    let (n, unit) = if s % 3600 == 0 {
        (s / 3600, "hour")
    } else if s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// How long a customer's reservation lasts: 1 to [`MAX_CUSTOMER_MINUTES`] minutes from now.
fn customer_expiry(minutes: i64) -> Result<NaiveDateTime, AppError> {
    if !(1..=MAX_CUSTOMER_MINUTES).contains(&minutes) {
        return Err(ReservationError::Minutes(MAX_CUSTOMER_MINUTES).into());
    }
    Ok(now() + Duration::minutes(minutes))
}

/// Background: marks reservations whose time is up as expired, every 5 seconds.
pub async fn run(desk: Arc<Reservations>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tick.tick().await;
        match desk.db.run(sweep).await {
            Ok(0) => {}
            Ok(n) => log::info!("{n} reservation(s) expired"),
            Err(e) => log::warn!("reservation sweep: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ReservationStatus;

    #[test]
    fn reservation_words() {
        crate::infra::db::text_enum::check_words(
            ReservationStatus::ALL,
            ReservationStatus::as_str,
            ReservationStatus::of,
        );
    }
}
