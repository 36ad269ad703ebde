//! The customer wallet: every balance change is a conditional UPDATE plus a ledger row plus an outbox
//! event, all inside the caller's transaction, so the balance always equals the sum of the ledger.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

use crate::domain::charging::status::SessionStatus;
use crate::domain::money;
use crate::error::AppError;
use crate::infra::db::models::LedgerRow;
use crate::infra::db::schema::{customers, wallet_ledger};
use crate::infra::db::{DbConnection, now};
use crate::infra::events::{self, Subject};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Credit,
    ChargeHold,
    Refund,
    Adjustment,
    /// Energy beyond a session's hold (an overrun, a late StopTransaction), debited from the wallet.
    Charge,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Credit => "credit",
            Kind::ChargeHold => "charge_hold",
            Kind::Refund => "refund",
            Kind::Adjustment => "adjustment",
            Kind::Charge => "charge",
        }
    }
}

/// Moves `delta` minor units (negative = debit) into a wallet. A debit that would take the balance
/// below zero changes nothing and fails with `InsufficientBalance`; the check is the UPDATE itself.
pub fn apply(
    c: &mut DbConnection,
    customer_id: i64,
    delta: i64,
    kind: Kind,
    session_id: Option<i64>,
    note: Option<&str>,
) -> Result<i64, AppError> {
    let target = customers::table.filter(customers::id.eq(customer_id));
    let balance_after: Option<i64> = if delta < 0 {
        diesel::update(target.filter(customers::balance.ge(-delta)))
            .set(customers::balance.eq(customers::balance + delta))
            .returning(customers::balance)
            .get_result(c)
            .optional()?
    } else {
        diesel::update(target)
            .set(customers::balance.eq(customers::balance + delta))
            .returning(customers::balance)
            .get_result(c)
            .optional()?
    };
    let Some(balance_after) = balance_after else {
        let exists: i64 = customers::table
            .filter(customers::id.eq(customer_id))
            .count()
            .get_result(c)?;
        return Err(if exists == 0 {
            AppError::NotFound("Customer not found".into())
        } else {
            AppError::InsufficientBalance
        });
    };
    diesel::insert_into(wallet_ledger::table)
        .values((
            wallet_ledger::customer_id.eq(customer_id),
            wallet_ledger::kind.eq(kind.as_str()),
            wallet_ledger::amount.eq(delta),
            wallet_ledger::balance_after.eq(balance_after),
            wallet_ledger::session_id.eq(session_id),
            wallet_ledger::note.eq(note),
            wallet_ledger::created_at.eq(now()),
        ))
        .execute(c)?;
    let name = match kind {
        Kind::ChargeHold | Kind::Charge => "wallet.debited",
        Kind::Refund => "wallet.refunded",
        Kind::Credit => "wallet.credited",
        Kind::Adjustment if delta < 0 => "wallet.debited",
        Kind::Adjustment => "wallet.credited",
    };
    events::record(
        c,
        name,
        Subject {
            customer_id: Some(customer_id),
            session_id,
            ..Default::default()
        },
        json!({"amount": money::to_major(delta.abs()), "balance": money::to_major(balance_after), "kind": kind.as_str(), "note": note}),
    )?;
    Ok(balance_after)
}

/// The books at one moment: what was credited, what sits in wallets, what is held by open sessions and
/// what was paid for energy. Money is conserved when `credits == wallets + held + paid`, every wallet
/// equals the sum of its ledger rows, and every closed session is fully accounted for.
#[derive(Debug, Default, serde::Serialize)]
pub struct Audit {
    pub credits: i64,
    pub wallets: i64,
    pub held: i64,
    pub paid: i64,
    /// Human-readable violations; empty when the books balance.
    pub problems: Vec<String>,
}

impl Audit {
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.credits == self.wallets + self.held + self.paid
    }
}

/// Reads everything from one snapshot, so that money moving while it runs cannot show as a hole.
pub fn audit(c: &mut DbConnection) -> Result<Audit, AppError> {
    c.transaction(|c| {
        // SQLite (WAL) reads one snapshot per transaction already; PostgreSQL's default isolation
        // takes a new one per statement.
        if let DbConnection::Postgresql(_) = c {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        audit_snapshot(c)
    })
}

fn audit_snapshot(c: &mut DbConnection) -> Result<Audit, AppError> {
    use crate::infra::db::schema::charging_sessions;
    let mut a = Audit::default();
    let wallets: Vec<(i64, i64)> = customers::table
        .select((customers::id, customers::balance))
        .load(c)?;
    let ledger: Vec<(i64, String, i64)> = wallet_ledger::table
        .select((
            wallet_ledger::customer_id,
            wallet_ledger::kind,
            wallet_ledger::amount,
        ))
        .load(c)?;
    let mut sums = std::collections::HashMap::new();
    for (customer, kind, amount) in &ledger {
        *sums.entry(*customer).or_insert(0i64) += amount;
        if kind == "credit" || kind == "adjustment" {
            a.credits += amount;
        }
    }
    for (id, balance) in wallets {
        a.wallets += balance;
        let sum = sums.get(&id).copied().unwrap_or(0);
        if balance != sum || balance < 0 {
            a.problems.push(format!(
                "customer {id}: balance {balance} but ledger sum {sum}"
            ));
        }
    }
    // Every session with a hold: app starts, and customers' own idTags used at the charger. A
    // closed one reconciles: the price of its energy = what the customer paid (from the hold, and
    // late charges) + what was written off, and the customer never paid more than the amount they
    // authorized.
    let mut written: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for (session, amount) in crate::infra::db::schema::write_offs::table
        .filter(crate::infra::db::schema::write_offs::session_id.is_not_null())
        .select((
            crate::infra::db::schema::write_offs::session_id,
            crate::infra::db::schema::write_offs::amount,
        ))
        .load::<(Option<i64>, i64)>(c)?
    {
        *written.entry(session.unwrap_or_default()).or_default() += amount;
    }
    type Row = (
        i64,
        String,
        i64,
        i64,
        i64,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
    );
    let sessions: Vec<Row> = charging_sessions::table
        .filter(
            charging_sessions::amount
                .gt(0)
                .or(charging_sessions::status.eq(SessionStatus::Completed)),
        )
        .select((
            charging_sessions::id,
            charging_sessions::status,
            charging_sessions::amount,
            charging_sessions::cost,
            charging_sessions::late_cost,
            charging_sessions::refund,
            charging_sessions::energy_wh,
            charging_sessions::price_per_kwh,
            charging_sessions::customer_id,
        ))
        .load(c)?;
    let mut late_costs = 0;
    for (id, status, amount, cost, late_cost, refund, energy_wh, price, customer) in sessions {
        let off = written.get(&id).copied().unwrap_or(0);
        let priced = money::energy_cost(energy_wh, price);
        if amount == 0 {
            // A fleet card's session: the operator bills its energy, no wallet pays.
            if customer.is_some() || cost != priced || late_cost != 0 || off != 0 {
                a.problems.push(format!(
                    "session {id} (fleet, {status}): {energy_wh} Wh at {price} = {priced}, cost {cost}, late {late_cost}, written off {off}"
                ));
            }
            continue;
        }
        late_costs += late_cost;
        let state = SessionStatus::of(&status);
        match state {
            Some(SessionStatus::Pending | SessionStatus::Active | SessionStatus::Stopping) => {
                a.held += amount
            }
            Some(SessionStatus::Completed) if refund.is_some_and(|r| r + cost == amount) => {
                a.paid += cost + late_cost
            }
            Some(SessionStatus::Failed) if refund == Some(amount) => {}
            _ => a.problems.push(format!(
                "session {id} ({status}): amount {amount}, cost {cost}, refund {refund:?}"
            )),
        }
        if cost + late_cost > amount {
            a.problems.push(format!(
                "session {id}: the customer paid {} beyond the {amount} they authorized",
                cost + late_cost - amount
            ));
        }
        let closed = matches!(
            state,
            Some(SessionStatus::Completed | SessionStatus::Failed)
        );
        if closed && priced != cost + late_cost + off {
            a.problems.push(format!(
                "session {id} ({status}): {energy_wh} Wh at {price} = {priced}, but paid {cost} + late {late_cost} + written off {off}"
            ));
        }
        if !closed && off != 0 {
            a.problems.push(format!(
                "session {id} ({status}): written off {off} while open"
            ));
        }
    }
    // Billing invariant: every transaction a charger reports is billed against a hold, belongs to a
    // fleet card (no customer), or was refused and is being stopped.
    use crate::infra::db::schema::ocpp_transactions as tx;
    type TxRow = (
        i64,
        Option<String>,
        Option<i64>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let unbilled: Vec<TxRow> = tx::table
        .select((
            tx::id,
            tx::id_tag_status,
            tx::session_id,
            tx::stopped_at,
            tx::stop_next_at,
        ))
        .filter(
            tx::session_id
                .is_null()
                .or(tx::id_tag_status.ne("Accepted")),
        )
        .load(c)?;
    for (id, status, session, stopped, must_stop) in unbilled {
        match (status.as_deref(), session) {
            (Some("Accepted"), None) => a
                .problems
                .push(format!("transaction {id} accepted without a session")),
            (Some(s), _) if s != "Accepted" && stopped.is_none() && must_stop.is_none() => {
                a.problems.push(format!(
                    "transaction {id} refused ({s}) but not being stopped"
                ))
            }
            _ => {}
        }
    }
    let free: i64 = charging_sessions::table
        .filter(charging_sessions::customer_id.is_not_null())
        .filter(charging_sessions::amount.eq(0))
        .count()
        .get_result(c)?;
    if free > 0 {
        a.problems
            .push(format!("{free} session(s) of customers without a hold"));
    }
    // Charges beyond a hold are exactly the sessions' late costs.
    let charged: i64 = ledger
        .iter()
        .filter(|(_, kind, _)| kind == "charge")
        .map(|(_, _, amount)| -amount)
        .sum();
    if charged != late_costs {
        a.problems.push(format!(
            "ledger charges {charged} != sessions' late costs {late_costs}"
        ));
    }
    if a.credits != a.wallets + a.held + a.paid {
        a.problems.push(format!(
            "credits {} != wallets {} + held {} + paid {}",
            a.credits, a.wallets, a.held, a.paid
        ));
    }
    Ok(a)
}

/// A wallet ledger row as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: i64,
    /// credit, charge_hold, refund, adjustment or charge
    #[serde(rename = "type")]
    pub kind: String,
    /// Major units; negative for a debit
    #[schema(value_type = f64)]
    pub amount: money::Major,
    #[schema(value_type = f64)]
    pub balance_after: money::Major,
    /// The session it belongs to, if any
    pub session_id: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

/// The newest `limit` ledger rows of a customer, newest first.
pub fn history(
    c: &mut DbConnection,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<LedgerEntry>, AppError> {
    use crate::infra::db::schema::charging_sessions;
    let rows: Vec<(LedgerRow, Option<String>)> = wallet_ledger::table
        .left_join(
            charging_sessions::table.on(charging_sessions::id
                .nullable()
                .eq(wallet_ledger::session_id)),
        )
        .filter(wallet_ledger::customer_id.eq(customer_id))
        .order(wallet_ledger::id.desc())
        .limit(limit)
        .select((
            LedgerRow::as_select(),
            charging_sessions::session_uid.nullable(),
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(row, session_id)| LedgerEntry {
            id: row.id,
            kind: row.kind,
            amount: money::Major(row.amount),
            balance_after: money::Major(row.balance_after),
            session_id,
            note: row.note,
            created_at: crate::infra::timestamps::format_timestamp(row.created_at),
        })
        .collect())
}
