//! Customer and operator logins: the throttle first (a refused attempt runs no bcrypt), then the
//! account lookup and a constant-time password check (an unknown email is checked against a dummy
//! hash so that both cases take as long), then the outcome back to the throttle.

use std::net::IpAddr;

use diesel::prelude::*;

use super::ratelimit::Realm;
use super::{Role, verify_password};
use crate::error::AppError;
use crate::infra::db::DbConnection;
use crate::infra::db::models::{Customer, Operator};
use crate::infra::db::schema::{customers, operators};
use crate::state::AppState;

/// What a login form sends, and where it came from (`None`: no per-address budget applies).
pub struct Credentials {
    pub email: String,
    pub password: String,
    pub client: Option<IpAddr>,
}

/// An account that logs in with an email and a password: how it is found, the role its token
/// carries and the throttle's realm it counts in.
pub trait Account: Sized + Send + 'static {
    const ROLE: Role;
    const REALM: Realm;
    fn id(&self) -> i64;
    fn password_hash(&self) -> &str;
    /// The account with this (lower-case) email.
    fn find(c: &mut DbConnection, email: &str) -> Result<Option<Self>, AppError>;
}

/// [`Account`] for the row type of a table with `email` and `password_hash` columns, whose role and
/// realm have the same name.
macro_rules! account {
    ($model:ident in $table:ident as $role:ident) => {
        impl Account for $model {
            const ROLE: Role = Role::$role;
            const REALM: Realm = Realm::$role;
            fn id(&self) -> i64 {
                self.id
            }
            fn password_hash(&self) -> &str {
                &self.password_hash
            }
            fn find(c: &mut DbConnection, email: &str) -> Result<Option<Self>, AppError> {
                Ok($table::table
                    .filter($table::email.eq(email))
                    .select($model::as_select())
                    .first(c)
                    .optional()?)
            }
        }
    };
}

account!(Customer in customers as Customer);
account!(Operator in operators as Operator);

/// The token and the account after a successful login.
pub async fn log_in<A: Account>(
    state: &AppState,
    credentials: Credentials,
) -> Result<(String, A), AppError> {
    let email = credentials.email.trim().to_lowercase();
    let attempt = state
        .login_limiter
        .begin(A::REALM, &email, credentials.client)?;
    // On a database error the attempt is dropped: released without counting as a failure.
    let found = state.db.run(move |c| A::find(c, &email)).await?;
    let hash = match &found {
        Some(account) => account.password_hash().to_string(),
        None => state.dummy_hash.clone(),
    };
    let ok = verify_password(credentials.password, hash).await;
    match found {
        Some(account) if ok => {
            attempt.succeeded();
            Ok((state.jwt.issue(A::ROLE, account.id())?, account))
        }
        _ => {
            attempt.failed();
            Err(AppError::Unauthorized("Invalid email or password".into()))
        }
    }
}
