//! Passwords (bcrypt, off the async executor), tokens (JWT HS256 with expiry), logins with their
//! throttle, plus the actix extractors that turn a bearer token into a customer or operator id.

pub mod login;
pub mod ratelimit;

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Operator,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    exp: u64,
    iat: u64,
}

pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl Jwt {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        Jwt {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs,
        }
    }

    pub fn issue(&self, role: Role, id: i64) -> Result<String, AppError> {
        let iat = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: id.to_string(),
            role,
            iat,
            exp: iat + self.ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("token: {e}")))
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
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AppError::Unauthorized("Invalid or expired token".into()))?;
        let id = data
            .claims
            .sub
            .parse()
            .map_err(|_| AppError::Unauthorized("Invalid or expired token".into()))?;
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

fn authenticate(req: &HttpRequest, wanted: Role) -> Result<i64, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::Internal("application state missing".into()))?;
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| AppError::Unauthorized("Missing bearer token".into()))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| AppError::Unauthorized("Missing bearer token".into()))?;
    state.jwt.verify_role(token.trim(), wanted)
}

/// The authenticated customer of a request.
pub struct CustomerId(pub i64);

impl FromRequest for CustomerId {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req, Role::Customer).map(CustomerId))
    }
}

/// The authenticated operator of a request.
pub struct OperatorId(pub i64);

impl FromRequest for OperatorId {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req, Role::Operator).map(OperatorId))
    }
}
