//! Customer accounts: registration rules, the profile, the operator's customer list and wallet
//! credits (the wallet itself is `crate::domain::wallet`).

use std::net::IpAddr;

use diesel::prelude::*;

use crate::domain::wallet;
use crate::error::AppError;
use crate::infra::db::models::{Customer, NewCustomer};
use crate::infra::db::schema::customers;
use crate::infra::db::{DbConnection, is_unique_violation, now, write_tx};
use crate::state::AppState;

/// Largest single wallet credit (major units 1,000,000.00).
pub const MAX_CREDIT: i64 = 100_000_000;

pub fn valid_email(email: &str) -> bool {
    let parts: Vec<&str> = email.split('@').collect();
    email.chars().count() <= 254
        && parts.len() == 2
        && !parts[0].is_empty()
        && parts[1].contains('.')
        && !email.contains(char::is_whitespace)
}

/// What a person is told about their account: every message of this module, mapped to HTTP in
/// one place (`From<CustomerError> for AppError`).
#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("name must be at most 100 characters")]
    Name,
    #[error("A valid email is required")]
    Email,
    #[error("password must be 6 to 72 characters")]
    Password,
    #[error("Email is already registered")]
    EmailTaken,
    #[error("Account no longer exists")]
    Gone,
    #[error("Customer not found")]
    NotFound,
}

impl From<CustomerError> for AppError {
    fn from(e: CustomerError) -> Self {
        use CustomerError::*;
        match e {
            Name | Email | Password => AppError::bad_request(e.to_string()),
            EmailTaken => AppError::Conflict(e.to_string()),
            Gone => AppError::Unauthorized(e.to_string()),
            NotFound => AppError::NotFound(e.to_string()),
        }
    }
}

/// A registration as given (`name` and `email` trimmed; the email is lower-cased here).
pub struct Registration {
    pub name: String,
    pub email: String,
    pub password: String,
}

/// Checks a registration before its password is hashed: 400 with the field's rule.
pub fn check(r: &Registration) -> Result<(), AppError> {
    if r.name.chars().count() > 100 {
        return Err(CustomerError::Name.into());
    }
    if !valid_email(&r.email) {
        return Err(CustomerError::Email.into());
    }
    if r.password.chars().count() < 6 || r.password.len() > 72 {
        return Err(CustomerError::Password.into());
    }
    Ok(())
}

/// Registers a customer, cheapest checks first: the input ([`check`]), the client address's
/// registration budget (`auth::ratelimit`: 429 with `Retry-After`), whether the email is taken (one
/// indexed read: 409), and only then the password hash (bcrypt, the costly step). The unique index on
/// the email still decides between two registrations of one email at the same moment (409).
pub async fn register(
    state: &AppState,
    r: Registration,
    client: Option<IpAddr>,
) -> Result<Customer, AppError> {
    check(&r)?;
    let registering = state
        .login_limiter
        .begin_registration(client)
        .map_err(|t| {
            let secs = t.retry_after_secs();
            AppError::RateLimited {
                message: format!(
                    "Too many registrations from this address. Try again in {}.",
                    crate::error::seconds(secs)
                ),
                retry_after_secs: secs,
            }
        })?;
    let email = r.email.clone();
    // On a database error the registration is dropped: released without counting.
    if state.db.run(move |c| email_taken(c, &email)).await? {
        registering.counted();
        return Err(email_conflict());
    }
    let hash = crate::domain::auth::hash_password(r.password, state.settings.bcrypt_cost).await?;
    let (name, email) = (r.name, r.email);
    let created = state.db.run(move |c| create(c, &name, &email, &hash)).await;
    if matches!(&created, Ok(_) | Err(AppError::Conflict(_))) {
        registering.counted();
    }
    created
}

/// Whether an account has this (lower-case) email.
pub fn email_taken(c: &mut DbConnection, email: &str) -> Result<bool, AppError> {
    let n: i64 = customers::table
        .filter(customers::email.eq(email))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

fn email_conflict() -> AppError {
    CustomerError::EmailTaken.into()
}

/// A fresh idTag for a customer: 20 characters at most, as OCPP's IdToken allows.
fn new_id_tag() -> String {
    format!(
        "C{}",
        &uuid::Uuid::new_v4().simple().to_string()[..15].to_uppercase()
    )
}

/// Creates the account (wallet 0); 409 when the email is taken.
pub fn create(
    c: &mut DbConnection,
    name: &str,
    email: &str,
    password_hash: &str,
) -> Result<Customer, AppError> {
    let tag = new_id_tag();
    let new = NewCustomer {
        name,
        email,
        password_hash,
        id_tag: &tag,
        balance: 0,
        created_at: now(),
    };
    let id: i64 = diesel::insert_into(customers::table)
        .values(&new)
        .returning(customers::id)
        .get_result(c)
        .map_err(|e| {
            if is_unique_violation(&e) {
                email_conflict()
            } else {
                AppError::from(e)
            }
        })?;
    load(c, id)
}

fn load(c: &mut DbConnection, id: i64) -> Result<Customer, AppError> {
    Ok(customers::table
        .find(id)
        .select(Customer::as_select())
        .first::<Customer>(c)?)
}

/// The account behind a customer token (401 when it was deleted since).
pub fn profile(c: &mut DbConnection, id: i64) -> Result<Customer, AppError> {
    customers::table
        .find(id)
        .select(Customer::as_select())
        .first::<Customer>(c)
        .optional()?
        .ok_or_else(|| CustomerError::Gone.into())
}

pub fn list(c: &mut DbConnection) -> Result<Vec<Customer>, AppError> {
    Ok(customers::table
        .order(customers::id)
        .select(Customer::as_select())
        .load::<Customer>(c)?)
}

/// An operator's credit: `amount` minor units (1 to [`MAX_CREDIT`], else `Invalid amount`).
pub fn valid_credit(amount: Option<i64>) -> Result<i64, AppError> {
    amount
        .filter(|a| *a > 0 && *a <= MAX_CREDIT)
        .ok_or(AppError::InvalidAmount)
}

/// Credits a wallet (ledger note: the operator's, at most 200 characters, or "Operator credit").
pub fn credit(
    c: &mut DbConnection,
    id: i64,
    amount: i64,
    note: Option<&str>,
) -> Result<Customer, AppError> {
    let note: Option<String> = note.map(|s| s.chars().take(200).collect());
    write_tx(c, |c| {
        let exists: i64 = customers::table
            .filter(customers::id.eq(id))
            .count()
            .get_result(c)?;
        if exists == 0 {
            return Err(CustomerError::NotFound.into());
        }
        wallet::apply(
            c,
            id,
            amount,
            wallet::Kind::Credit,
            None,
            Some(note.as_deref().unwrap_or("Operator credit")),
        )?;
        load(c, id)
    })
}
