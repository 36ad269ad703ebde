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

/// A customer's token and account after a successful login.
pub async fn customer(
    state: &AppState,
    credentials: Credentials,
) -> Result<(String, Customer), AppError> {
    let customer = login(state, Realm::Customer, credentials, |c, email| {
        Ok(customers::table
            .filter(customers::email.eq(email))
            .select(Customer::as_select())
            .first(c)
            .optional()?
            .map(|found| {
                let hash = found.password_hash.clone();
                (found, hash)
            }))
    })
    .await?;
    Ok((state.jwt.issue(Role::Customer, customer.id)?, customer))
}

/// An operator's token and account after a successful login.
pub async fn operator(
    state: &AppState,
    credentials: Credentials,
) -> Result<(String, Operator), AppError> {
    let operator = login(state, Realm::Operator, credentials, |c, email| {
        Ok(operators::table
            .filter(operators::email.eq(email))
            .select(Operator::as_select())
            .first(c)
            .optional()?
            .map(|found| {
                let hash = found.password_hash.clone();
                (found, hash)
            }))
    })
    .await?;
    Ok((state.jwt.issue(Role::Operator, operator.id)?, operator))
}

/// Looks up the account with a (lower-case) email: the account and its password hash.
type FindAccount<T> = fn(&mut DbConnection, &str) -> Result<Option<(T, String)>, AppError>;

async fn login<T: Send + 'static>(
    state: &AppState,
    realm: Realm,
    credentials: Credentials,
    find: FindAccount<T>,
) -> Result<T, AppError> {
    let email = credentials.email.trim().to_lowercase();
    let attempt = state
        .login_limiter
        .begin(realm, &email, credentials.client)?;
    // On a database error the attempt is dropped: released without counting as a failure.
    let found = state.db.run(move |c| find(c, &email)).await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, state.dummy_hash.clone()),
    };
    let ok = verify_password(credentials.password, hash).await;
    match account {
        Some(account) if ok => {
            attempt.succeeded();
            Ok(account)
        }
        _ => {
            attempt.failed();
            Err(AppError::Unauthorized("Invalid email or password".into()))
        }
    }
}
