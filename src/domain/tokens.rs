//! Authorization tokens: RFID cards and fleet tokens an operator registers, with their OCPP
//! status (`Accepted`, `Blocked`, `Expired`, `Invalid`), expiry, group (`parentIdTag`), and the
//! customer whose wallet pays for them (none: a fleet card the operator bills).
//!
//! idTags are CiString20: stored upper case, unique whatever the case, and never the same as a
//! customer's own idTag. How a token decides a charger's Authorize and StartTransaction is in
//! `charging::tags`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::charging::tags::normalize;
use crate::error::AppError;
use crate::infra::db::schema::{charging_sessions, customers, id_tags};
use crate::infra::db::{DbConnection, is_unique_violation, now, write_tx};
use crate::infra::timestamps::{self, parse_timestamp};

pub const STATUSES: [&str; 4] = ["Accepted", "Blocked", "Expired", "Invalid"];

/// OCPP 2.0.1's IdTokenEnumType: the kinds of identifier a station may present.
pub const ID_TOKEN_TYPES: [&str; 8] = [
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
];

/// A token to register or the changes to one (where every field is optional: what is given
/// changes, `Some(None)` clears `expiry_date`, `parent_id_tag`, `customer_id` or `note`).
#[derive(Debug, Default)]
pub struct TokenInput {
    /// 1–20 printable characters (CiString20; compared case-insensitively). Required on create;
    /// on a change, only the token's own.
    pub id_tag: Option<String>,
    /// Accepted, Blocked, Expired or Invalid (default Accepted)
    pub status: Option<String>,
    /// RFC 3339; after it the token answers Expired
    pub expiry_date: Option<Option<String>>,
    /// The group (another idTag) the token belongs to
    pub parent_id_tag: Option<Option<String>>,
    /// The customer whose wallet pays; none: a fleet card billed by the operator
    pub customer_id: Option<Option<i64>>,
    pub note: Option<Option<String>>,
    /// One of [`ID_TOKEN_TYPES`]: the token matches a 2.0.1 idToken of that type only; none: any
    /// type (and every 1.6 idTag)
    pub id_token_type: Option<Option<String>>,
}

/// A token as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub id_tag: String,
    /// What the operator set
    pub status: String,
    /// What a charger is told now: `Expired` once the expiry date has passed
    pub effective_status: String,
    #[serde(serialize_with = "timestamps::serialize_opt")]
    #[schema(value_type = Option<String>)]
    pub expiry_date: Option<NaiveDateTime>,
    pub parent_id_tag: Option<String>,
    pub customer_id: Option<i64>,
    pub note: Option<String>,
    /// The 2.0.1 idToken type it matches (none: any)
    pub id_token_type: Option<String>,
    #[serde(serialize_with = "timestamps::serialize")]
    #[schema(value_type = String)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "timestamps::serialize_opt")]
    #[schema(value_type = Option<String>)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A token as stored.
#[derive(Queryable, Selectable)]
#[diesel(table_name = id_tags)]
struct Row {
    id_tag: String,
    status: String,
    expiry_date: Option<NaiveDateTime>,
    parent_id_tag: Option<String>,
    customer_id: Option<i64>,
    note: Option<String>,
    id_token_type: Option<String>,
    created_at: NaiveDateTime,
    updated_at: Option<NaiveDateTime>,
}

fn token(r: Row) -> Token {
    let expired = r.status == "Accepted" && r.expiry_date.is_some_and(|e| e < now());
    Token {
        id_tag: r.id_tag,
        effective_status: if expired {
            "Expired".into()
        } else {
            r.status.clone()
        },
        status: r.status,
        expiry_date: r.expiry_date,
        parent_id_tag: r.parent_id_tag,
        customer_id: r.customer_id,
        note: r.note,
        id_token_type: r.id_token_type,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// A valid idTag (upper case), or 400.
pub fn valid_tag(field: &str, tag: &str) -> Result<String, AppError> {
    let t = tag.trim();
    if t.is_empty() || t.len() > 20 || !t.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::bad_request(format!(
            "{field} must be 1 to 20 printable characters without spaces"
        )));
    }
    Ok(normalize(t))
}

/// The validated changes of a [`TokenInput`].
struct Checked {
    status: Option<String>,
    expiry: Option<Option<NaiveDateTime>>,
    parent: Option<Option<String>>,
    customer: Option<Option<i64>>,
    note: Option<Option<String>>,
    kind: Option<Option<String>>,
}

fn check(c: &mut DbConnection, input: &TokenInput) -> Result<Checked, AppError> {
    if let Some(s) = &input.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(AppError::bad_request(
            "status must be Accepted, Blocked, Expired or Invalid",
        ));
    }
    let expiry = match &input.expiry_date {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(Some(parse_timestamp(text).ok_or_else(|| {
            AppError::bad_request("expiryDate must be an RFC 3339 date-time")
        })?)),
    };
    let parent = match &input.parent_id_tag {
        None => None,
        Some(None) => Some(None),
        Some(Some(p)) => Some(Some(valid_tag("parentIdTag", p)?)),
    };
    if let Some(Some(customer)) = input.customer_id {
        let n: i64 = customers::table.find(customer).count().get_result(c)?;
        if n == 0 {
            return Err(AppError::NotFound("Customer not found".into()));
        }
    }
    let note = match &input.note {
        Some(Some(n)) if n.chars().count() > 500 => {
            return Err(AppError::bad_request("note must be at most 500 characters"));
        }
        other => other.clone(),
    };
    if let Some(Some(kind)) = &input.id_token_type
        && !ID_TOKEN_TYPES.contains(&kind.as_str())
    {
        return Err(AppError::bad_request(format!(
            "idTokenType must be one of {}",
            ID_TOKEN_TYPES.join(", ")
        )));
    }
    Ok(Checked {
        status: input.status.clone(),
        expiry,
        parent,
        customer: input.customer_id,
        note,
        kind: input.id_token_type.clone(),
    })
}

fn load(c: &mut DbConnection, tag: &str) -> Result<Token, AppError> {
    id_tags::table
        .filter(id_tags::id_tag.eq(tag))
        .select(Row::as_select())
        .first(c)
        .optional()?
        .map(token)
        .ok_or_else(|| AppError::NotFound("Token not found".into()))
}

/// Registers a token. 409 when the idTag (in any case) is already a token, a customer's own idTag
/// or an app start's one-time idTag.
pub fn create(c: &mut DbConnection, input: TokenInput) -> Result<Token, AppError> {
    let tag = valid_tag(
        "idTag",
        input
            .id_tag
            .as_deref()
            .ok_or_else(|| AppError::bad_request("idTag is required"))?,
    )?;
    write_tx(c, |c| {
        let ch = check(c, &input)?;
        let taken_by_customer: i64 = customers::table
            .filter(customers::id_tag.eq(&tag))
            .count()
            .get_result(c)?;
        let taken_by_start: i64 = charging_sessions::table
            .filter(charging_sessions::start_tag.eq(&tag))
            .count()
            .get_result(c)?;
        if taken_by_customer + taken_by_start > 0 {
            return Err(AppError::Conflict(
                "This idTag already belongs to a customer".into(),
            ));
        }
        let t = now();
        diesel::insert_into(id_tags::table)
            .values((
                id_tags::id_tag.eq(&tag),
                id_tags::status.eq(ch.status.as_deref().unwrap_or("Accepted")),
                id_tags::expiry_date.eq(ch.expiry.flatten()),
                id_tags::parent_id_tag.eq(ch.parent.flatten()),
                id_tags::customer_id.eq(ch.customer.flatten()),
                id_tags::note.eq(ch.note.flatten()),
                id_tags::id_token_type.eq(ch.kind.flatten()),
                id_tags::created_at.eq(t),
                id_tags::updated_at.eq(t),
            ))
            .execute(c)
            .map_err(|e| {
                if is_unique_violation(&e) {
                    AppError::Conflict("A token with this idTag already exists".into())
                } else {
                    e.into()
                }
            })?;
        load(c, &tag)
    })
}

pub fn get(c: &mut DbConnection, tag: &str) -> Result<Token, AppError> {
    load(c, &valid_tag("idTag", tag)?)
}

/// Tokens, newest first, optionally those of one customer.
pub fn list(
    c: &mut DbConnection,
    customer_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Token>, AppError> {
    let mut q = id_tags::table
        .order(id_tags::id.desc())
        .limit(limit.clamp(1, 5000))
        .select(Row::as_select())
        .into_boxed();
    if let Some(customer) = customer_id {
        q = q.filter(id_tags::customer_id.eq(customer));
    }
    Ok(q.load(c)?.into_iter().map(token).collect())
}

/// Changes what the input names. The idTag itself cannot change (register a new token instead).
pub fn update(c: &mut DbConnection, tag: &str, input: TokenInput) -> Result<Token, AppError> {
    let tag = valid_tag("idTag", tag)?;
    if let Some(other) = &input.id_tag
        && normalize(other.trim()) != tag
    {
        return Err(AppError::bad_request(
            "idTag cannot be changed: register a new token",
        ));
    }
    write_tx(c, |c| {
        load(c, &tag)?;
        let ch = check(c, &input)?;
        let row = id_tags::table.filter(id_tags::id_tag.eq(&tag));
        if let Some(s) = &ch.status {
            diesel::update(row).set(id_tags::status.eq(s)).execute(c)?;
        }
        if let Some(e) = ch.expiry {
            diesel::update(row)
                .set(id_tags::expiry_date.eq(e))
                .execute(c)?;
        }
        if let Some(p) = &ch.parent {
            diesel::update(row)
                .set(id_tags::parent_id_tag.eq(p))
                .execute(c)?;
        }
        if let Some(cu) = ch.customer {
            diesel::update(row)
                .set(id_tags::customer_id.eq(cu))
                .execute(c)?;
        }
        if let Some(n) = &ch.note {
            diesel::update(row).set(id_tags::note.eq(n)).execute(c)?;
        }
        if let Some(k) = &ch.kind {
            diesel::update(row)
                .set(id_tags::id_token_type.eq(k))
                .execute(c)?;
        }
        diesel::update(row)
            .set(id_tags::updated_at.eq(now()))
            .execute(c)?;
        load(c, &tag)
    })
}

/// Removes a token; chargers asking for it afterwards are told `Invalid`. Transactions it already
/// started keep their billing.
pub fn delete(c: &mut DbConnection, tag: &str) -> Result<(), AppError> {
    let tag = valid_tag("idTag", tag)?;
    let n = write_tx(c, |c| {
        diesel::delete(id_tags::table.filter(id_tags::id_tag.eq(&tag))).execute(c)
    })?;
    if n == 0 {
        return Err(AppError::NotFound("Token not found".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_cistring20() {
        assert_eq!(valid_tag("idTag", " card-7a ").unwrap(), "CARD-7A");
        assert!(valid_tag("idTag", "").is_err());
        assert!(valid_tag("idTag", "with space").is_err());
        assert!(valid_tag("idTag", &"x".repeat(21)).is_err());
        assert!(valid_tag("idTag", "ünïcode").is_err());
        assert_eq!(valid_tag("idTag", &"x".repeat(20)).unwrap().len(), 20);
    }
}
