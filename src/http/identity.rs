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

/// The extractor of one role's id: `$name(id)` once the bearer token is a valid one of `$role`.
macro_rules! authenticated {
    ($(#[$doc:meta])* $name:ident($role:ident)) => {
        $(#[$doc])*
        pub struct $name(pub i64);

        impl FromRequest for $name {
            type Error = AppError;
            type Future = Ready<Result<Self, AppError>>;
            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(authenticate(req, Role::$role).map($name))
            }
        }
    };
}

authenticated!(
    /// The authenticated customer of a request.
    CustomerId(Customer)
);

authenticated!(
    /// The authenticated operator of a request.
    OperatorId(Operator)
);
