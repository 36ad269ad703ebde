//! Who is calling: the actix extractors that turn a request's bearer token into a customer or
//! operator id (401 without a valid token, 403 for the wrong role).

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::domain::auth::{Jwt, Role};
use crate::error::AppError;

fn authenticate(req: &HttpRequest, wanted: Role) -> Result<i64, AppError> {
    let jwt = req
        .app_data::<web::Data<Jwt>>()
        .ok_or_else(|| AppError::Internal("token keys missing".into()))?;
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| AppError::Unauthorized("Missing bearer token".into()))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| AppError::Unauthorized("Missing bearer token".into()))?;
    jwt.verify_role(token.trim(), wanted)
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
