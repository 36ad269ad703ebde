//! idTags: who pays for a transaction a charger reports.
//!
//! OCPP idTags are CiString20: compared case-insensitively. csms stores them upper case and upper-
//! cases what a charger sends. Every app start gets a **one-time idTag** (`start_tag`, unique in the
//! database), sent in RemoteStartTransaction and valid until its session ends, so a StartTransaction
//! maps to exactly one session, however late, repeated or re-cased it arrives.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Failure;
use super::evidence::Authorization;
use crate::domain::charging::status::SessionStatus;
use crate::error::AppError;
use crate::infra::db::models::{OcppTransaction, Session};
use crate::infra::db::schema::{charging_sessions, customers, id_tags};
use crate::infra::db::{DbConnection, now};
use crate::infra::timestamps;

diesel::define_sql_function! {
    /// SQL `upper()`, the same on PostgreSQL and SQLite for ASCII (idTags are printable ASCII).
    fn upper(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// An idTag as csms compares it.
pub fn normalize(tag: &str) -> String {
    tag.to_ascii_uppercase()
}

/// A fresh one-time idTag for an app start: 20 characters (the CiString20 maximum), upper case,
/// 76 random bits after the `A` prefix.
pub fn one_time_tag() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("A{}", hex[..19].to_ascii_uppercase())
}

/// How long a charger may treat a wallet-paid idTag as valid on its own: the `expiryDate` of every
/// `Accepted` answer for a one-time app tag or a customer's card. A charger that caches the answer
/// (AuthorizationCacheEnabled) cannot start that tag offline later: the wallet needs csms to take
/// a hold (invariant 1). Online, the charger asks again anyway.
pub const WALLET_TAG_VALIDITY_SECS: i64 = 60;

/// `Accepted` for a tag a wallet pays for: valid [`WALLET_TAG_VALIDITY_SECS`] from now, or until
/// the card's own expiry if that is sooner.
pub fn wallet_accepted(card: Option<&Authorization>) -> Authorization {
    let soon = now() + chrono::Duration::seconds(WALLET_TAG_VALIDITY_SECS);
    let card_expiry = card
        .and_then(|i| i.expiry_date.as_deref())
        .and_then(timestamps::parse_timestamp);
    Authorization {
        status: "Accepted".into(),
        expiry_date: Some(timestamps::format_timestamp(
            card_expiry.map_or(soon, |e| e.min(soon)),
        )),
        parent_id_tag: card.and_then(|i| i.parent_id_tag.clone()),
    }
}

/// The answer about a transaction's idTag given again (a repeated start, a later event that
/// carries it): the status it got and, for a wallet-paid one that was accepted, the short validity
/// every such answer carries ([`wallet_accepted`], capped by a card's own expiry and with its
/// group), so that a charger that caches this answer cannot start the tag offline later.
pub fn answer_again(c: &mut DbConnection, tx: &OcppTransaction) -> Result<Authorization, AppError> {
    let Some(status) = &tx.id_tag_status else {
        return authorize(c, tx.charger_id, &tx.id_tag, None);
    };
    let wallet_paid = match tx.session_id.filter(|_| status == "Accepted") {
        Some(sid) => charging_sessions::table
            .find(sid)
            .select(charging_sessions::customer_id)
            .first::<Option<i64>>(c)?
            .is_some(),
        None => false,
    };
    Ok(if wallet_paid {
        // A customer's card: its own expiry (if sooner) and group, as its first answer had.
        let card: Option<(Option<NaiveDateTime>, Option<String>)> = id_tags::table
            .filter(id_tags::id_tag.eq(normalize(&tx.id_tag)))
            .select((id_tags::expiry_date, id_tags::parent_id_tag))
            .first(c)
            .optional()?;
        let card = card.map(|(expiry, parent)| Authorization {
            status: "Accepted".into(),
            expiry_date: expiry.map(timestamps::format_timestamp),
            parent_id_tag: parent,
        });
        wallet_accepted(card.as_ref())
    } else {
        Authorization::status(status)
    })
}

/// Who pays for a transaction started with an idTag.
pub enum Payer {
    /// The one-time tag of an app start on this charger.
    AppStart(Box<Session>),
    /// A customer's own idTag used at the charger, or a card linked to a customer: billed against a
    /// hold on that customer's wallet.
    Customer {
        customer_id: i64,
        info: Authorization,
    },
    /// An accepted card that belongs to no customer (a fleet card): the operator bills it, no
    /// wallet is involved.
    Fleet(Authorization),
    /// Not allowed to charge (unknown, blocked, expired).
    Refused(Authorization),
}

/// Who pays for `tag` (already normalized) on `charger_id`, presented as a `kind` of identifier
/// where the station says (OCPP 2.0.1's idToken type): a token registered with a type is only
/// that kind of identifier (another kind with the same value is unknown).
pub fn identify(
    c: &mut DbConnection,
    charger_id: i64,
    tag: &str,
    kind: Option<&str>,
) -> Result<Payer, AppError> {
    let app: Option<Session> = charging_sessions::table
        .filter(charging_sessions::start_tag.eq(tag))
        .filter(charging_sessions::charger_id.eq(charger_id))
        .select(Session::as_select())
        .first(c)
        .optional()?;
    if let Some(s) = app {
        return Ok(Payer::AppStart(Box::new(s)));
    }
    let customer: Option<i64> = customers::table
        .filter(customers::id_tag.eq(tag))
        .select(customers::id)
        .first(c)
        .optional()?;
    if let Some(customer_id) = customer {
        return Ok(Payer::Customer {
            customer_id,
            info: wallet_accepted(None),
        });
    }
    type Card = (
        String,
        Option<NaiveDateTime>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let card: Option<Card> = id_tags::table
        .filter(id_tags::id_tag.eq(tag)) // stored upper case (see `tokens`)
        .select((
            id_tags::status,
            id_tags::expiry_date,
            id_tags::parent_id_tag,
            id_tags::customer_id,
            id_tags::id_token_type,
        ))
        .first(c)
        .optional()?;
    let Some((status, expiry, parent, customer, card_kind)) = card else {
        return Ok(Payer::Refused(Authorization::status("Invalid")));
    };
    if let (Some(registered), Some(presented)) = (card_kind.as_deref(), kind)
        && registered != presented
    {
        return Ok(Payer::Refused(Authorization::status("Invalid")));
    }
    let expired = status == "Accepted" && expiry.is_some_and(|e| e < now());
    let info = Authorization {
        status: if expired { "Expired".into() } else { status },
        expiry_date: expiry.map(timestamps::format_timestamp),
        parent_id_tag: parent,
    };
    Ok(match (info.status.as_str(), customer) {
        ("Accepted", Some(customer_id)) => Payer::Customer {
            customer_id,
            info: wallet_accepted(Some(&info)),
        },
        ("Accepted", None) => Payer::Fleet(info),
        _ => Payer::Refused(info),
    })
}

/// Whether `tag` (normalized) is in an accepted transaction that is still open, other than `except`:
/// a card or a customer's own tag charges on one connector at a time (`ConcurrentTx`).
pub fn in_transaction(
    c: &mut DbConnection,
    tag: &str,
    except: Option<i64>,
) -> Result<bool, AppError> {
    use crate::infra::db::schema::ocpp_transactions as t;
    let n: i64 = t::table
        .filter(t::stopped_at.is_null())
        .filter(upper(t::id_tag).eq(tag))
        .filter(t::id_tag_status.eq("Accepted"))
        .filter(t::id.ne(except.unwrap_or(-1)))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Whether a failed app start may be re-opened by a late StartTransaction: it never had a
/// transaction, it failed in a way the charger may not have heard of ([`Failure::may_resume`]),
/// and the customer did not cancel it since.
pub fn resumable(s: &Session) -> bool {
    s.status == SessionStatus::Failed
        && s.transaction_id.is_none()
        && s.cancelled_at.is_none()
        && s.failure_reason
            .as_deref()
            .and_then(Failure::parse)
            .is_some_and(Failure::may_resume)
}

/// Authorize.req: what a StartTransaction with this tag would be answered, without side effects.
/// Customers need money in the wallet (Blocked otherwise); a one-time tag is Accepted while its
/// session waits for the charger, or when a late start could be funded.
pub fn authorize(
    c: &mut DbConnection,
    charger_id: i64,
    id_tag: &str,
    kind: Option<&str>,
) -> Result<Authorization, AppError> {
    Ok(authorize_payer(c, charger_id, id_tag, kind)?.0)
}

/// [`authorize`], and whether a customer's wallet pays for the tag.
pub fn authorize_payer(
    c: &mut DbConnection,
    charger_id: i64,
    id_tag: &str,
    kind: Option<&str>,
) -> Result<(Authorization, bool), AppError> {
    let balance = |c: &mut DbConnection, id: i64| -> Result<i64, AppError> {
        Ok(customers::table
            .find(id)
            .select(customers::balance)
            .first(c)?)
    };
    let tag = normalize(id_tag);
    // OCPP 1.6: ConcurrentTx answers StartTransaction only; Authorize answers the tag's own status
    // (a card charging elsewhere is still valid: the charger may be asking to stop with it).
    let payer = identify(c, charger_id, &tag, kind)?;
    let wallet = matches!(payer, Payer::AppStart(_) | Payer::Customer { .. });
    let info = match payer {
        Payer::AppStart(s) => {
            // Valid while its session is open (waiting for the charger, or charging).
            let open = SessionStatus::is_open(&s.status);
            let fundable = resumable(&s)
                && match s.customer_id {
                    Some(id) => balance(c, id)? >= s.amount,
                    None => false,
                };
            if open || fundable {
                wallet_accepted(None)
            } else if resumable(&s) {
                Authorization::status("Blocked") // a late start would be refused: the wallet is short
            } else {
                Authorization::status("Invalid") // the session ended: the tag is spent
            }
        }
        Payer::Customer { customer_id, info } => {
            if balance(c, customer_id)? > 0 {
                info
            } else {
                Authorization {
                    status: "Blocked".into(),
                    ..info
                }
            }
        }
        Payer::Fleet(info) | Payer::Refused(info) => info,
    };
    Ok((info, wallet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_tags_fit_cistring20_and_differ() {
        let a = one_time_tag();
        let b = one_time_tag();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(normalize(&a.to_lowercase()), a);
    }
}
