//! Passwords (bcrypt, off the async executor), tokens (JWT HS256 with expiry), the short-lived
//! tickets that open a customer's event stream, and logins with their throttle. The HTTP side turns
//! a bearer token into a customer or operator id (`api::identity`).

pub mod login;
pub mod ratelimit;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Operator,
}

/// The `aud` of an events ticket. API tokens carry no audience, and each kind refuses the other.
const EVENTS_TICKET_AUDIENCE: &str = "csms-events";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    exp: u64,
    iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
    ticket_ttl_secs: u64,
}

/// A ticket for `GET /api/user/events?ticket=`: valid for `expires_in_secs`, for nothing else.
pub struct EventsTicket {
    pub ticket: String,
    pub expires_in_secs: u64,
}

impl Jwt {
    pub fn new(secret: &[u8], ttl_secs: u64, ticket_ttl_secs: u64) -> Self {
        Jwt {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
            ticket_ttl_secs,
        }
    }

    fn encode(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("token: {e}")))
    }

    pub fn issue(&self, role: Role, id: i64) -> Result<String, AppError> {
        let iat = jsonwebtoken::get_current_timestamp();
        self.encode(&Claims {
            sub: id.to_string(),
            role,
            iat,
            exp: iat + self.ttl_secs,
            aud: None,
        })
    }

    /// A short-lived ticket that opens the customer's event stream (EventSource cannot send an
    /// Authorization header, and a URL ends up in logs and history: a 24-hour API token must not).
    pub fn issue_events_ticket(&self, customer_id: i64) -> Result<EventsTicket, AppError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let ticket = self.encode(&Claims {
            sub: customer_id.to_string(),
            role: Role::Customer,
            iat,
            exp: iat + self.ticket_ttl_secs,
            aud: Some(EVENTS_TICKET_AUDIENCE.into()),
        })?;
        Ok(EventsTicket {
            ticket,
            expires_in_secs: self.ticket_ttl_secs,
        })
    }

    /// The customer of a valid events ticket; 401 for anything else, API tokens included.
    pub fn verify_events_ticket(&self, ticket: &str) -> Result<i64, AppError> {
        let invalid = || AppError::Unauthorized("Invalid or expired events ticket".into());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[EVENTS_TICKET_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(ticket, &self.decoding, &validation)
            .map_err(|_| invalid())?;
        if data.claims.role != Role::Customer
            || data.claims.aud.as_deref() != Some(EVENTS_TICKET_AUDIENCE)
        {
            return Err(invalid());
        }
        data.claims.sub.parse().map_err(|_| invalid())
    }

    /// The id in a valid token of the wanted role; 401 for a bad token, 403 for the wrong role.
    pub fn verify_role(&self, token: &str, wanted: Role) -> Result<i64, AppError> {
        let (role, id) = self.verify(token)?;
        if role != wanted {
            return Err(AppError::Forbidden(match wanted {
                Role::Operator => "Operator access required".into(),
                Role::Customer => "Customer access required".into(),
            }));
        }
        Ok(id)
    }

    fn verify(&self, token: &str) -> Result<(Role, i64), AppError> {
        let invalid = || AppError::Unauthorized("Invalid or expired token".into());
        // No audience expected: a token that names one (an events ticket) is refused by the library,
        // and again here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| invalid())?;
        if data.claims.aud.is_some() {
            return Err(invalid());
        }
        let id = data.claims.sub.parse().map_err(|_| invalid())?;
        Ok((data.claims.role, id))
    }
}

pub async fn hash_password(password: String, cost: u32) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(format!("bcrypt: {e}")))
}

/// Constant-time bcrypt check, off the executor. A malformed hash counts as a mismatch.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt() -> Jwt {
        Jwt::new(b"0123456789abcdef0123456789abcdef", 3600, 60)
    }

    #[test]
    fn tickets_and_api_tokens_do_not_stand_in_for_each_other() {
        let jwt = jwt();
        let ticket = jwt.issue_events_ticket(7).expect("ticket");
        assert_eq!(ticket.expires_in_secs, 60);
        assert_eq!(jwt.verify_events_ticket(&ticket.ticket).expect("valid"), 7);
        assert!(jwt.verify_role(&ticket.ticket, Role::Customer).is_err());
        let token = jwt.issue(Role::Customer, 7).expect("token");
        assert_eq!(jwt.verify_role(&token, Role::Customer).expect("valid"), 7);
        assert!(jwt.verify_events_ticket(&token).is_err());
        let operator = jwt.issue(Role::Operator, 1).expect("token");
        assert!(jwt.verify_events_ticket(&operator).is_err());
    }

    #[test]
    fn expired_or_foreign_tickets_are_refused() {
        let jwt = jwt();
        let now = jsonwebtoken::get_current_timestamp();
        let expired = jwt
            .encode(&Claims {
                sub: "7".into(),
                role: Role::Customer,
                iat: now - 120,
                exp: now - 60,
                aud: Some(EVENTS_TICKET_AUDIENCE.into()),
            })
            .expect("encode");
        assert!(jwt.verify_events_ticket(&expired).is_err());
        let operator_ticket = jwt
            .encode(&Claims {
                sub: "1".into(),
                role: Role::Operator,
                iat: now,
                exp: now + 60,
                aud: Some(EVENTS_TICKET_AUDIENCE.into()),
            })
            .expect("encode");
        assert!(jwt.verify_events_ticket(&operator_ticket).is_err());
        let other_key = Jwt::new(b"another secret, also 32 bytes long", 3600, 60)
            .issue_events_ticket(7)
            .expect("ticket");
        assert!(jwt.verify_events_ticket(&other_key.ticket).is_err());
    }
}
