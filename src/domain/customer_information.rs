//! Customer information (OCPP 2.0.1 N09/N10): what a station holds on a customer, asked for and
//! cleared with CustomerInformation, reported in NotifyCustomerInformation parts. Each request a
//! station was sent is kept with the station's answer; the parts are kept by `seqNo` (a part sent
//! twice counts once) and joined in order when read. A report csms never asked for is kept too,
//! under an `unknown` customer.
//!
//! The operator's request about one customer ([`ask_every_station`]) goes to every station
//! connected here whose protocol carries it (OCPP 2.0.1; 1.6 has no such message), each under a
//! requestId of its own, and each request and answer is kept as above: a clear is on record with
//! the station's word for it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use std::time::Duration;

use crate::domain::chargers::id_of;
use crate::domain::station_commands::{Command, Customer, StationCommands};
use crate::domain::tokens::ID_TOKEN_TYPES;
use crate::error::AppError;
use crate::infra::db::schema::{customer_information as ci, customer_information_parts as parts};
use crate::infra::db::{Db, DbConnection, now, write_tx};

/// What a request asks of a station.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    /// Whom it is about, in words
    pub customer: String,
    pub report: bool,
    pub clear: bool,
}

impl Asked {
    /// From a CustomerInformation request: its idToken, customerIdentifier or customerCertificate.
    pub fn of_request(payload: &Value) -> Asked {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let customer = if payload["idToken"].is_object() {
            let t = &payload["idToken"];
            format!("idToken {} {}", text(&t["type"]), text(&t["idToken"]))
        } else if let Some(id) = payload["customerIdentifier"].as_str() {
            format!("customerIdentifier {id}")
        } else if payload["customerCertificate"].is_object() {
            format!(
                "certificate {}",
                text(&payload["customerCertificate"]["serialNumber"])
            )
        } else {
            "unknown".to_string()
        };
        Asked {
            customer,
            report: payload["report"].as_bool().unwrap_or(false),
            clear: payload["clear"].as_bool().unwrap_or(false),
        }
    }
}

impl Asked {
    /// What the operator asks about `customer`.
    pub fn of(customer: &Customer, report: bool, clear: bool) -> Asked {
        let customer = match customer {
            Customer::Token { id, kind } => format!("idToken {kind} {id}"),
            Customer::Identifier(id) => format!("customerIdentifier {id}"),
        };
        Asked {
            customer,
            report,
            clear,
        }
    }
}

/// The customer an operator names: by token (`id_token`, of `id_token_type`, default Central) or
/// by `identifier`, one of them.
pub fn customer(
    id_token: Option<String>,
    id_token_type: Option<String>,
    identifier: Option<String>,
) -> Result<Customer, AppError> {
    match (id_token, identifier) {
        (Some(id), None) => {
            let kind = id_token_type.unwrap_or_else(|| "Central".into());
            if id.is_empty() || id.chars().count() > 36 {
                return Err(AppError::bad_request("idToken must be 1 to 36 characters"));
            }
            if !ID_TOKEN_TYPES.contains(&kind.as_str()) {
                return Err(AppError::bad_request(format!(
                    "idTokenType must be one of {}",
                    ID_TOKEN_TYPES.join(", ")
                )));
            }
            Ok(Customer::Token { id, kind })
        }
        (None, Some(id)) if !id.is_empty() && id.chars().count() <= 64 => {
            Ok(Customer::Identifier(id))
        }
        (None, Some(_)) => Err(AppError::bad_request(
            "customerIdentifier must be 1 to 64 characters",
        )),
        _ => Err(AppError::bad_request(
            "Name the customer by idToken or by customerIdentifier (one of them)",
        )),
    }
}

/// One station's part of an operator's request.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub device_id: String,
    /// The requestId the station was sent (its reports name it)
    pub request_id: i64,
    /// The station's answer (Accepted, Rejected, Invalid), or `failed: <why>`
    pub status: String,
}

/// Asks every station connected here whose protocol carries it to report and/or clear what it
/// holds on `customer`; each request and answer is kept. 400 when neither is asked.
pub async fn ask_every_station(
    db: &Db,
    stations: &dyn StationCommands,
    timeout: Duration,
    customer: Customer,
    report: bool,
    clear: bool,
) -> Result<Vec<Sent>, AppError> {
    if !report && !clear {
        return Err(AppError::bad_request(
            "Ask for a report, a clear, or both (report or clear true)",
        ));
    }
    let asked = Asked::of(&customer, report, clear);
    let mut devices = stations.devices();
    devices.sort();
    let mut sent = Vec::new();
    for device in devices {
        let command = |request_id| Command::CustomerInformation {
            request_id,
            customer: customer.clone(),
            report,
            clear,
        };
        if stations.check(&device, &command(0)).is_err() {
            continue; // its protocol has no such request
        }
        let (d, a) = (device.clone(), asked.clone());
        let (row, request_id) = db
            .run(move |c| {
                let cid = id_of(c, &d)?;
                let next: Option<i64> = ci::table
                    .filter(ci::charger_id.eq(cid))
                    .select(diesel::dsl::max(ci::request_id))
                    .first(c)?;
                let request_id = next.unwrap_or(0).max(0) + 1;
                Ok((requested(c, &d, request_id, &a)?, request_id))
            })
            .await?;
        let answer = stations.send(&device, command(request_id), timeout).await;
        let status = match &answer {
            Ok(r) => Ok(r.status_or("Rejected").to_string()),
            Err(e) => Err(e.to_string()),
        };
        let kept = status.clone();
        db.run(move |c| answered(c, row, kept.as_deref().map_err(String::as_str)))
            .await?;
        sent.push(Sent {
            device_id: device,
            request_id,
            status: status.unwrap_or_else(|e| format!("failed: {e}")),
        });
    }
    Ok(sent)
}

/// A request as the operator API shows it, with the report the station sent so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerInformation {
    pub request_id: i64,
    /// Whom it is about: `idToken <type> <value>`, `customerIdentifier <id>`,
    /// `certificate <serial>`, or `unknown` (a report csms did not ask for)
    pub customer: String,
    pub report: bool,
    pub clear: bool,
    /// pending, the station's answer (Accepted, Rejected, Invalid), or `failed: <why>`;
    /// `unrequested` for a report csms did not ask for
    pub status: String,
    #[serde(serialize_with = "crate::infra::timestamps::serialize")]
    #[schema(value_type = String)]
    pub requested_at: NaiveDateTime,
    #[serde(serialize_with = "crate::infra::timestamps::serialize_opt")]
    #[schema(value_type = Option<String>)]
    pub answered_at: Option<NaiveDateTime>,
    /// The report: the parts' data joined in seqNo order
    pub data: String,
    /// How many parts arrived
    pub parts: i64,
    /// The last part (tbc false) arrived and none is missing before it
    pub complete: bool,
}

/// Records that `device_id` is sent CustomerInformation `request_id` (`pending`); a request of
/// the same id on that station is replaced. The row id.
pub fn requested(
    c: &mut DbConnection,
    device_id: &str,
    request_id: i64,
    asked: &Asked,
) -> Result<i64, AppError> {
    let cid = id_of(c, device_id)?;
    write_tx(c, |c| {
        diesel::delete(
            ci::table
                .filter(ci::charger_id.eq(cid))
                .filter(ci::request_id.eq(request_id)),
        )
        .execute(c)?;
        Ok(diesel::insert_into(ci::table)
            .values((
                ci::charger_id.eq(cid),
                ci::request_id.eq(request_id),
                ci::customer.eq(&asked.customer),
                ci::report.eq(asked.report),
                ci::clear.eq(asked.clear),
                ci::status.eq("pending"),
                ci::requested_at.eq(now()),
            ))
            .returning(ci::id)
            .get_result(c)?)
    })
}

/// The station's answer to request `row` (`Err`: none came, and why).
pub fn answered(
    c: &mut DbConnection,
    row: i64,
    answer: Result<&str, &str>,
) -> Result<(), AppError> {
    let status = match answer {
        Ok(s) => s.to_string(),
        Err(why) => format!("failed: {why}"),
    };
    diesel::update(ci::table.find(row))
        .set((ci::status.eq(status), ci::answered_at.eq(Some(now()))))
        .execute(c)?;
    Ok(())
}

/// One NotifyCustomerInformation part from `charger_id`.
pub fn reported(
    c: &mut DbConnection,
    charger_id: i64,
    request_id: i64,
    seq_no: i64,
    data: &str,
    tbc: bool,
    generated_at: Option<NaiveDateTime>,
) -> Result<(), AppError> {
    write_tx(c, |c| {
        let known: Option<i64> = ci::table
            .filter(ci::charger_id.eq(charger_id))
            .filter(ci::request_id.eq(request_id))
            .select(ci::id)
            .first(c)
            .optional()?;
        let row = match known {
            Some(row) => row,
            None => diesel::insert_into(ci::table)
                .values((
                    ci::charger_id.eq(charger_id),
                    ci::request_id.eq(request_id),
                    ci::customer.eq("unknown"),
                    ci::report.eq(true),
                    ci::clear.eq(false),
                    ci::status.eq("unrequested"),
                    ci::requested_at.eq(now()),
                ))
                .returning(ci::id)
                .get_result(c)?,
        };
        let seen = parts::table
            .filter(parts::request.eq(row))
            .filter(parts::seq_no.eq(seq_no))
            .count()
            .get_result::<i64>(c)?;
        if seen == 0 {
            diesel::insert_into(parts::table)
                .values((
                    parts::request.eq(row),
                    parts::seq_no.eq(seq_no),
                    parts::data.eq(data),
                    parts::tbc.eq(tbc),
                    parts::generated_at.eq(generated_at),
                    parts::received_at.eq(now()),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

type Row = (
    i64,
    i64,
    String,
    bool,
    bool,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// A station's customer-information requests, newest first, with their reports.
pub fn list(c: &mut DbConnection, device_id: &str) -> Result<Vec<CustomerInformation>, AppError> {
    let cid = id_of(c, device_id)?;
    let rows: Vec<Row> = ci::table
        .filter(ci::charger_id.eq(cid))
        .order(ci::id.desc())
        .limit(200)
        .select((
            ci::id,
            ci::request_id,
            ci::customer,
            ci::report,
            ci::clear,
            ci::status,
            ci::requested_at,
            ci::answered_at,
        ))
        .load(c)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let all: Vec<(i64, i64, String, bool)> = parts::table
        .filter(parts::request.eq_any(&ids))
        .order((parts::request, parts::seq_no))
        .select((parts::request, parts::seq_no, parts::data, parts::tbc))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<&(i64, i64, String, bool)> = all.iter().filter(|p| p.0 == r.0).collect();
            let in_order = mine.iter().enumerate().all(|(i, p)| p.1 == i as i64);
            CustomerInformation {
                request_id: r.1,
                customer: r.2,
                report: r.3,
                clear: r.4,
                status: r.5,
                requested_at: r.6,
                answered_at: r.7,
                data: mine.iter().map(|p| p.2.as_str()).collect(),
                parts: mine.len() as i64,
                complete: in_order && mine.last().is_some_and(|p| !p.3),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_names_its_customer() {
        let t = json!({"requestId": 1, "report": true, "clear": false,
            "idToken": {"idToken": "TAG-1", "type": "ISO14443"}});
        assert_eq!(
            Asked::of_request(&t),
            Asked {
                customer: "idToken ISO14443 TAG-1".into(),
                report: true,
                clear: false
            }
        );
        let c =
            json!({"requestId": 2, "report": false, "clear": true, "customerIdentifier": "C-9"});
        assert_eq!(Asked::of_request(&c).customer, "customerIdentifier C-9");
        assert!(Asked::of_request(&c).clear);
        let cert = json!({"customerCertificate": {"serialNumber": "5AE1"}, "report": true});
        assert_eq!(Asked::of_request(&cert).customer, "certificate 5AE1");
    }
}
