//! `POST /api/user/charging/start`: validate → one transaction that reserves the connector and
//! debits the wallet (the database decides the race) → commit → RemoteStartTransaction → settle.

use std::time::Duration;

use diesel::prelude::*;

use super::desk::Charging;
use super::{Failure, SessionView};
use crate::domain::charging::status::SessionStatus;
use crate::domain::station_commands::{CallFailure, Command};
use crate::domain::telemetry::ConnectorStatus;
use crate::domain::wallet;
use crate::error::{AppError, CONNECTOR_IN_USE};
use crate::infra::db::models::{NewSession, Session};
use crate::infra::db::schema::{charging_sessions, ocpp_transactions};
use crate::infra::db::{DbConnection, is_unique_violation, now, write_tx};

pub struct StartRequest {
    pub device_id: String,
    pub connector_id: i32,
    pub amount: i64,
    pub charging_point_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Starts a session; returns the session view of the winner.
pub async fn start(
    desk: &Charging,
    customer_id: i64,
    req: StartRequest,
) -> Result<SessionView, AppError> {
    if req.amount <= 0 || req.amount > desk.max_amount {
        return Err(AppError::InvalidAmount);
    }
    let hash = request_hash(&req);
    if let Some(answer) = replay_by_key(desk, customer_id, &req, &hash).await {
        return answer;
    }

    // A connector seen taken a moment ago is answered from memory (see `occupancy`): most losers of
    // a race end here. It never lets a start through; the database decides those.
    let device = req.device_id.as_str();
    let cp = req.charging_point_id.as_deref().unwrap_or("");
    let fast = desk.fast_paths;
    let seen_taken = || {
        fast && desk.occupancy.is_taken(device, req.connector_id, cp)
            && desk.stations.is_online(device)
    };
    if seen_taken() {
        return lost(desk, customer_id, &req, &hash).await;
    }
    // One request per connector at a time from here to the reservation; the ones that waited
    // usually find the connector taken by the one before them.
    let gate = match fast {
        true => Some(desk.occupancy.gate(device, req.connector_id).await),
        false => None,
    };
    if seen_taken() {
        drop(gate);
        return lost(desk, customer_id, &req, &hash).await;
    }
    let epoch = desk.occupancy.epoch(device);

    // Checks that need no lock in one query, then (same blocking job, same connection) the
    // transaction that decides the race.
    let online = desk.stations.is_online(device);
    let (checked, reserved) = {
        let args = ReserveArgs {
            customer_id,
            device: req.device_id.clone(),
            connector: req.connector_id,
            charging_point_id: req.charging_point_id.clone(),
            amount: req.amount,
            idempotency_key: req.idempotency_key.clone(),
            request_hash: hash.clone(),
            owner_node: desk.node_id.clone(),
            default_price: desk.default_price_per_kwh,
            online,
            fast,
        };
        let t = std::time::Instant::now();
        let looked = desk.db.run(move |c| lookup_and_reserve(c, &args)).await?;
        metrics::histogram!("csms_start_reserve_seconds").record(t.elapsed().as_secs_f64());
        looked
    };
    let mark_taken = || {
        desk.occupancy
            .mark_taken(device, &checked.charging_point_id, req.connector_id, epoch)
    };
    let Some(reserved) = reserved else {
        // Fast path: the lookup saw an open session on the connector.
        mark_taken();
        drop(gate);
        return lost(desk, customer_id, &req, &hash).await;
    };
    let session = match reserved {
        Ok(s) => {
            mark_taken();
            s
        }
        Err(Reserve::Failed(AppError::ConnectorInUse)) => {
            mark_taken();
            return Err(in_use(customer_id, device, req.connector_id));
        }
        Err(Reserve::Failed(e)) => return Err(e),
        Err(Reserve::Replay(s)) => {
            drop(gate);
            check_same_request(&s, &hash)?;
            return replay_answer(desk, *s).await;
        }
    };
    drop(gate);
    desk.events.wake();

    // The session's one-time idTag: the charger's StartTransaction will carry it back.
    let command = Command::StartCharging {
        connector: req.connector_id,
        id_tag: session.id_tag.clone(),
        remote_start_id: session.id,
    };
    let t = std::time::Instant::now();
    let answer = desk
        .stations
        .send(&req.device_id, command, desk.remote_start_timeout)
        .await;
    metrics::histogram!("csms_start_remote_start_seconds").record(t.elapsed().as_secs_f64());
    let accepted = matches!(&answer, Ok(r) if r.accepted());
    let session_id = session.id;
    let t = std::time::Instant::now();
    let (device_id, cp_id) = (req.device_id.clone(), checked.charging_point_id.clone());
    let (s, view, ended) = desk
        .db
        .write(move |c| {
            let mut ended = None;
            let failure = match &answer {
                _ if accepted => None,
                // A charger not accepted (pending approval, rejected) gets no RemoteStart; one whose
                // protocol cannot carry a start yet gets none either.
                Ok(_)
                | Err(
                    CallFailure::CallError { .. }
                    | CallFailure::NotAccepted
                    | CallFailure::NotSupported { .. },
                ) => Some(Failure::Rejected),
                Err(CallFailure::Timeout) => Some(Failure::Timeout),
                // The RemoteStart may or may not have reached the owning node: like a timeout,
                // refunded now, and a StartTransaction that still comes is billed anew.
                Err(CallFailure::Unavailable) => Some(Failure::Unavailable),
                Err(CallFailure::Offline | CallFailure::Disconnected) => Some(Failure::Offline),
            };
            let ids = (device_id.as_str(), cp_id.as_str());
            let activated = match failure {
                // The row this call made active is final: it stays locked until commit.
                None => super::activate(c, session_id, Some(ids))?,
                // If StartTransaction already made it active, the charger is charging: not a failure.
                Some(reason) => {
                    if super::fail(c, session_id, reason, &[SessionStatus::Pending])? {
                        ended = crate::domain::reservations::end_after_failed_start(c, session_id)?;
                    }
                    None
                }
            };
            // Otherwise answer from the row's final state: another node's recovery, a reboot
            // or a StartTransaction may have decided it meanwhile.
            let s = match activated {
                Some(s) => s,
                None => super::load(c, session_id)?,
            };
            let v = SessionView::of(&s, ids);
            Ok::<_, AppError>((s, v, ended))
        })
        .await?;
    metrics::histogram!("csms_start_activate_seconds").record(t.elapsed().as_secs_f64());
    desk.events.wake();
    if let Some(reservation) = ended {
        crate::domain::reservations::cancel_on_charger(&desk.reservations, device, reservation);
    }
    match failure_error(&s) {
        Some(err) => {
            desk.occupancy.release(device);
            log::info!("session {}: start failed: {err}", session.session_uid);
            Err(err)
        }
        None => {
            log::info!(
                "Charging started successfully (session {}, customer {customer_id}, {} connector {})",
                session.session_uid,
                req.device_id,
                req.connector_id
            );
            Ok(view)
        }
    }
}

/// The error a start answers when its session ended up failed (`None`: it is charging or was).
fn failure_error(s: &Session) -> Option<AppError> {
    if s.status != SessionStatus::Failed {
        return None;
    }
    Some(match s.failure_reason.as_deref().and_then(Failure::parse) {
        Some(Failure::Timeout | Failure::Interrupted) => AppError::ChargerTimeout,
        Some(Failure::Offline | Failure::ChargerRebooted) => AppError::ChargerOffline,
        Some(Failure::ConnectorTaken) => AppError::ConnectorInUse,
        Some(Failure::Unavailable) => AppError::ClusterUnavailable,
        _ => AppError::ChargerRejectedStart,
    })
}

/// A connector seen taken before reserving: a lost race, unless what holds it is this very request,
/// sent a moment earlier with the same Idempotency-Key (a double click), whose answer is replayed.
async fn lost(
    desk: &Charging,
    customer_id: i64,
    req: &StartRequest,
    hash: &str,
) -> Result<SessionView, AppError> {
    if let Some(answer) = replay_by_key(desk, customer_id, req, hash).await {
        return answer;
    }
    Err(in_use(customer_id, &req.device_id, req.connector_id))
}

/// The answer of an earlier request with this request's Idempotency-Key, if there was one. The same
/// key with a different body is refused (422): it is a client bug, not a retry.
async fn replay_by_key(
    desk: &Charging,
    customer_id: i64,
    req: &StartRequest,
    hash: &str,
) -> Option<Result<SessionView, AppError>> {
    let key = req.idempotency_key.clone()?;
    let first = desk
        .db
        .run(move |c| by_idempotency_key(c, customer_id, &key))
        .await;
    match first {
        Ok(Some(s)) => Some(match check_same_request(&s, hash) {
            Ok(()) => replay_answer(desk, s).await,
            Err(e) => Err(e),
        }),
        Ok(None) => None,
        Err(e) => Some(Err(e)),
    }
}

/// The answer to the loser of a race (logged as in the seed scenario).
fn in_use(customer_id: i64, device: &str, connector: i32) -> AppError {
    log::info!("{CONNECTOR_IN_USE} (customer {customer_id}, {device} connector {connector})");
    AppError::ConnectorInUse
}

/// What the start flow reads before reserving: the charger, its connector's status, the price
/// (charger tariff, else station tariff), whether the connector visibly has an open session, and the
/// customer's idTag.
#[derive(diesel::QueryableByName)]
struct Lookup {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    charger_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    charging_point_id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    connector_status: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    price: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    taken: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    id_tag: Option<String>,
}

/// One round trip instead of six: every start request, winners and losers, runs this.
const LOOKUP: &str = "SELECT ch.id AS charger_id, ch.charging_point_id AS charging_point_id, \
     k.status AS connector_status, COALESCE(t1.price_per_kwh, t2.price_per_kwh) AS price, \
     (SELECT COUNT(*) FROM charging_sessions s WHERE s.charger_id = ch.id AND s.connector_id = $2 \
        AND s.status IN ('pending', 'active', 'stopping')) AS taken, \
     (SELECT cu.id_tag FROM customers cu WHERE cu.id = $3) AS id_tag \
     FROM chargers ch JOIN stations st ON st.id = ch.station_id \
     LEFT JOIN tariffs t1 ON t1.id = ch.tariff_id LEFT JOIN tariffs t2 ON t2.id = st.tariff_id \
     LEFT JOIN connectors k ON k.charger_id = ch.id AND k.connector_id = $2 \
     WHERE ch.device_id = $1";

fn lookup(
    c: &mut DbConnection,
    device: &str,
    connector: i32,
    customer_id: i64,
) -> Result<Option<Lookup>, AppError> {
    use diesel::sql_types::{BigInt, Integer, Text};
    let rows: Vec<Lookup> = crate::infra::db::load_raw!(
        c,
        LOOKUP,
        Text => device,
        Integer => connector,
        BigInt => customer_id,
    )?;
    Ok(rows.into_iter().next())
}

struct ReserveArgs {
    customer_id: i64,
    device: String,
    connector: i32,
    charging_point_id: Option<String>,
    amount: i64,
    idempotency_key: Option<String>,
    request_hash: String,
    owner_node: String,
    default_price: i64,
    /// Whether the charger was connected just before (the registry lives in memory).
    online: bool,
    fast: bool,
}

/// What the checks established about the charger, for the answer and the occupancy hint.
struct Checked {
    charging_point_id: String,
}

/// The lookup and its checks, then the reservation. `None` instead of a reservation: the lookup
/// saw the connector taken (fast paths only; nothing was written).
fn lookup_and_reserve(
    c: &mut DbConnection,
    a: &ReserveArgs,
) -> Result<(Checked, Option<Result<Session, Reserve>>), AppError> {
    let look =
        lookup(c, &a.device, a.connector, a.customer_id)?.ok_or(AppError::ChargerNotFound)?;
    if look.id_tag.is_none() {
        return Err(AppError::Unauthorized("Account no longer exists".into()));
    }
    if let Some(cp) = &a.charging_point_id
        && !cp.is_empty()
        && *cp != look.charging_point_id
    {
        return Err(AppError::ChargerNotFound);
    }
    let status = look.connector_status.ok_or(AppError::ConnectorNotFound)?;
    if !a.online {
        return Err(AppError::ChargerOffline);
    }
    if ConnectorStatus::is_out_of_order(&status) {
        return Err(AppError::ConnectorUnavailable);
    }
    let checked = Checked {
        charging_point_id: look.charging_point_id,
    };
    // Visibly taken: answer without taking the write lock. Not a correctness check: the unique
    // index in `reserve` decides every race that gets past it.
    if a.fast && look.taken > 0 {
        return Ok((checked, None));
    }
    let reserved = reserve(
        c,
        &Reservation {
            customer_id: a.customer_id,
            charger_id: look.charger_id,
            connector_id: a.connector,
            amount: a.amount,
            price: look.price.unwrap_or(a.default_price),
            key: a.idempotency_key.as_deref(),
            request_hash: Some(&a.request_hash),
            owner_node: Some(&a.owner_node),
        },
    );
    Ok((checked, Some(reserved)))
}

pub enum Reserve {
    Failed(AppError),
    /// The same Idempotency-Key won a concurrent request: answer with its session.
    Replay(Box<Session>),
}

impl<E: Into<AppError>> From<E> for Reserve {
    fn from(e: E) -> Self {
        Reserve::Failed(e.into())
    }
}

/// What [`reserve`] writes.
pub struct Reservation<'a> {
    pub customer_id: i64,
    pub charger_id: i64,
    pub connector_id: i32,
    pub amount: i64,
    pub price: i64,
    /// The request's Idempotency-Key, and what the request asked for.
    pub key: Option<&'a str>,
    pub request_hash: Option<&'a str>,
    /// The node whose request this is (recovery leaves a live node's pending starts alone).
    pub owner_node: Option<&'a str>,
}

/// The race is decided here, by the database: the partial unique index admits one open session per
/// connector, and the conditional debit cannot take a wallet below zero. Nothing is written for a
/// loser. The session gets a fresh one-time idTag (see `tags`).
pub fn reserve(c: &mut DbConnection, r: &Reservation) -> Result<Session, Reserve> {
    let (customer_id, key) = (r.customer_id, r.key);
    let uid = format!("SESS_{}", uuid::Uuid::new_v4().simple());
    let in_one_call = match c {
        DbConnection::Postgresql(pg) => reserve_in_one_call(pg, r, &uid).transpose(),
        DbConnection::Sqlite(_) => None,
    };
    let result = match in_one_call {
        Some(result) => result,
        None => reserve_step_by_step(c, r, &uid),
    };
    match result {
        Ok(s) => Ok(s),
        Err(AppError::Database(e)) if is_unique_violation(&e) => {
            if let Some(key) = key
                && let Some(s) = by_idempotency_key(c, customer_id, key)?
            {
                return Err(Reserve::Replay(Box::new(s)));
            }
            Err(Reserve::Failed(AppError::ConnectorInUse))
        }
        Err(e) => Err(Reserve::Failed(e)),
    }
}

/// PostgreSQL: [`reserve_step_by_step`]'s work in one round trip, by the server-side function
/// `csms_reserve_start` (migration `reserve_start`), which runs the same statements in the same
/// order inside one implicit transaction. `None` when a reservation covers the connector (nothing
/// was written; the step-by-step path knows how to claim a customer's own reservation).
fn reserve_in_one_call(
    pg: &mut diesel::PgConnection,
    r: &Reservation,
    uid: &str,
) -> Result<Option<Session>, AppError> {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
    let tag = super::tags::one_time_tag();
    let rows: Result<Vec<Session>, diesel::result::Error> = diesel::sql_query(
        "SELECT * FROM csms_reserve_start($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind::<BigInt, _>(r.customer_id)
    .bind::<BigInt, _>(r.charger_id)
    .bind::<Integer, _>(r.connector_id)
    .bind::<BigInt, _>(r.amount)
    .bind::<BigInt, _>(r.price)
    .bind::<Text, _>(uid)
    .bind::<Text, _>(&tag)
    .bind::<Nullable<Text>, _>(r.key)
    .bind::<Nullable<Text>, _>(r.request_hash)
    .bind::<Nullable<Text>, _>(r.owner_node)
    .bind::<Timestamp, _>(now())
    .load(pg);
    match rows {
        Ok(mut rows) => Ok(rows.pop()),
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().starts_with("csms: ") =>
        {
            Err(match info.message() {
                "csms: insufficient balance" => AppError::InsufficientBalance,
                "csms: customer not found" => AppError::NotFound("Customer not found".into()),
                _ => AppError::ConnectorInUse,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// The reservation as statements sent one by one in a transaction (SQLite, and PostgreSQL when a
/// reservation covers the connector).
fn reserve_step_by_step(
    c: &mut DbConnection,
    r: &Reservation,
    uid: &str,
) -> Result<Session, AppError> {
    let Reservation {
        customer_id,
        charger_id,
        connector_id,
        amount,
        price,
        key,
        ..
    } = *r;
    write_tx(c, |c| -> Result<Session, AppError> {
        // Another customer's reservation refuses the start; the customer's own is consumed, and its
        // idTag (which the charger holds the connector for) becomes the session's one-time idTag.
        let claimed =
            crate::domain::reservations::claim_for_start(c, charger_id, connector_id, customer_id)?;
        let tag = match &claimed {
            Some((_, tag)) => tag.clone(),
            None => super::tags::one_time_tag(),
        };
        // A transaction the charger runs without any session (it started while the connector was
        // held by a session that has since ended) still occupies the connector.
        let orphan: i64 = ocpp_transactions::table
            .filter(ocpp_transactions::charger_id.eq(charger_id))
            .filter(ocpp_transactions::connector_id.eq(connector_id))
            .filter(ocpp_transactions::stopped_at.is_null())
            .filter(ocpp_transactions::session_id.is_null())
            .count()
            .get_result(c)?;
        if orphan > 0 {
            return Err(AppError::ConnectorInUse);
        }
        let t = now();
        let new = NewSession {
            session_uid: uid,
            customer_id: Some(customer_id),
            charger_id,
            connector_id,
            origin: "app",
            id_tag: &tag,
            status: SessionStatus::Pending.as_str(),
            amount,
            price_per_kwh: price,
            transaction_id: None,
            meter_start: None,
            idempotency_key: key,
            created_at: t,
            started_at: None,
            updated_at: t,
            start_tag: Some(&tag),
            owner_node: r.owner_node,
            request_hash: r.request_hash,
            resumed_from: None,
        };
        let id: i64 = diesel::insert_into(charging_sessions::table)
            .values(&new)
            .returning(charging_sessions::id)
            .get_result(c)?;
        let session = super::load(c, id)?;
        if let Some((reservation, _)) = claimed {
            crate::domain::reservations::consumed(c, reservation, id)?;
        }
        wallet::apply(
            c,
            customer_id,
            -amount,
            wallet::Kind::ChargeHold,
            Some(session.id),
            Some("Prepaid charging session"),
        )?;
        Ok(session)
    })
}

/// A fingerprint of what a start request asks for, kept with its Idempotency-Key.
fn request_hash(req: &StartRequest) -> String {
    use sha2::{Digest, Sha256};
    let text = format!(
        "{}\n{}\n{}\n{}",
        req.device_id,
        req.connector_id,
        req.amount,
        req.charging_point_id.as_deref().unwrap_or("")
    );
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

fn check_same_request(first: &Session, hash: &str) -> Result<(), AppError> {
    match first.request_hash.as_deref() {
        Some(h) if h != hash => Err(AppError::Unprocessable(
            "Idempotency-Key was already used for a different request".into(),
        )),
        _ => Ok(()),
    }
}

fn by_idempotency_key(
    c: &mut DbConnection,
    customer_id: i64,
    key: &str,
) -> Result<Option<Session>, AppError> {
    Ok(charging_sessions::table
        .filter(charging_sessions::customer_id.eq(customer_id))
        .filter(charging_sessions::idempotency_key.eq(key))
        .select(Session::as_select())
        .first(c)
        .optional()?)
}

/// The answer the first request with this Idempotency-Key got (waiting for it if still in flight).
async fn replay_answer(desk: &Charging, session: Session) -> Result<SessionView, AppError> {
    let deadline = tokio::time::Instant::now() + desk.remote_start_timeout + Duration::from_secs(5);
    let mut s = session;
    while s.status == SessionStatus::Pending && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let id = s.id;
        s = desk.db.run(move |c| super::load(c, id)).await?;
    }
    if s.status == SessionStatus::Pending {
        return Err(AppError::ChargerTimeout);
    }
    match failure_error(&s) {
        Some(err) => Err(err),
        None => desk.db.run(move |c| SessionView::load(c, &s)).await,
    }
}
