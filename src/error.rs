//! One error type for the application, mapped to HTTP responses here and to OCPP-J CALLERRORs in
//! `protocol::frame::ErrorCode::from_app_error`. The messages shared across the core are written
//! here; a domain module's own messages live in its error enum, mapped into `AppError` in one
//! `From` impl beside it (`reservations::ReservationError`, `chargers::ChargerError`,
//! `customers::CustomerError`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// A start on a connector another customer holds a reservation for.
pub const CONNECTOR_RESERVED: &str = "This connector is reserved by another customer.";

/// The exact message of the seed scenario for the loser of a race.
pub const CONNECTOR_IN_USE: &str = "This charger connector is currently in use by another customer. Please try a different connector or wait for the current session to end.";

/// The body of every error answer: `{"success": false, "error": "<message for a person>"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always false
    pub success: bool,
    pub error: String,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody {
            success: false,
            error: error.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    // --- start/stop charging (texts fixed by the contract) ---
    #[error("{}", CONNECTOR_IN_USE)]
    ConnectorInUse,
    #[error("{}", CONNECTOR_RESERVED)]
    ConnectorReserved,
    #[error("Insufficient wallet balance")]
    InsufficientBalance,
    #[error("Charger is offline")]
    ChargerOffline,
    #[error("Connector is not available")]
    ConnectorUnavailable,
    #[error("Invalid amount")]
    InvalidAmount,
    #[error("Charger not found")]
    ChargerNotFound,
    #[error("Connector not found")]
    ConnectorNotFound,
    #[error("Charger rejected the start request")]
    ChargerRejectedStart,
    #[error("Charger rejected the stop request")]
    ChargerRejectedStop,
    #[error("Charger did not respond")]
    ChargerTimeout,
    /// Cluster mode: the node holding the charger cannot be reached because NATS is down.
    #[error(
        "The central system's nodes cannot reach each other right now. Please try again shortly."
    )]
    ClusterUnavailable,
    #[error("Session not found")]
    SessionNotFound,

    // --- generic ---
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A well-formed request that cannot be processed (e.g. an Idempotency-Key reused for another body).
    #[error("{0}")]
    Unprocessable(String),
    /// An upload above the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// An address that existed and no longer works (an upload address used or expired).
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Login refused by the throttle (`auth::ratelimit`); 429 with `Retry-After`.
    #[error("Too many failed login attempts. Try again in {}.", seconds(*retry_after_secs))]
    TooManyLoginAttempts { retry_after_secs: u64 },
    /// Refused for a while (registrations from one address, a customer's reservations after
    /// no-shows); 429 with `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The charger answered a remote command with a CALLERROR.
    #[error("Charger answered with an error: {code}: {description}")]
    ChargerCallError { code: String, description: String },

    // --- internal (logged, shown as a generic message) ---
    #[error("configuration error: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

/// "1 second", "30 seconds".
pub(crate) fn seconds(n: u64) -> String {
    if n == 1 {
        "1 second".into()
    } else {
        format!("{n} seconds")
    }
}

impl AppError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }

    fn is_internal(&self) -> bool {
        matches!(
            self,
            AppError::Config(_) | AppError::Database(_) | AppError::Pool(_) | AppError::Internal(_)
        )
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        use AppError::*;
        match self {
            ConnectorInUse | ConnectorReserved | InsufficientBalance | ChargerOffline
            | ConnectorUnavailable | InvalidAmount | ChargerRejectedStart | ChargerRejectedStop
            | BadRequest(_) => StatusCode::BAD_REQUEST,
            ChargerNotFound | ConnectorNotFound | SessionNotFound | NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            Conflict(_) => StatusCode::CONFLICT,
            Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Gone(_) => StatusCode::GONE,
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Forbidden(_) => StatusCode::FORBIDDEN,
            TooManyLoginAttempts { .. } | RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ChargerTimeout => StatusCode::GATEWAY_TIMEOUT,
            ClusterUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ChargerCallError { .. } => StatusCode::BAD_GATEWAY,
            Config(_) | Database(_) | Pool(_) | Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = if self.is_internal() {
            log::error!("{self}");
            "Internal server error".to_string()
        } else {
            self.to_string()
        };
        let mut response = HttpResponse::build(self.status_code());
        if let AppError::TooManyLoginAttempts { retry_after_secs }
        | AppError::RateLimited {
            retry_after_secs, ..
        } = self
        {
            response.insert_header((actix_web::http::header::RETRY_AFTER, *retry_after_secs));
        }
        response.json(ErrorBody::new(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_login_attempts_is_429_with_retry_after() {
        let e = AppError::TooManyLoginAttempts {
            retry_after_secs: 30,
        };
        assert_eq!(
            e.to_string(),
            "Too many failed login attempts. Try again in 30 seconds."
        );
        let r = e.error_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            r.headers()
                .get(actix_web::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("30")
        );
        let one = AppError::TooManyLoginAttempts {
            retry_after_secs: 1,
        };
        assert_eq!(
            one.to_string(),
            "Too many failed login attempts. Try again in 1 second."
        );
    }
}
