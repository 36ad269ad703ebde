//! What chargers upload: one address scheme for every file-transfer job, `/files/{kind}/{token}/{name}`
//! (diagnostics from GetDiagnostics, logs from GetLog), by PUT or POST (chargers use either). The
//! token in the address is the secret, single-use and expiring; the job it belongs to takes the file.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::firmware::declared_size;
use crate::domain::{firmware, security_jobs};
use crate::error::AppError;
use crate::infra::db::DbConnection;
use crate::infra::files::Received;
use crate::state::AppState;

/// Which kind of job an upload address belongs to.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadKind {
    /// GetDiagnostics
    Diagnostics,
    /// GetLog (security and diagnostics logs)
    Logs,
}

type Known = fn(&mut DbConnection, &str) -> Result<(), AppError>;
type Store = fn(&mut DbConnection, &str, &str, &Received) -> Result<(), AppError>;

impl UploadKind {
    /// The job's checks: whether the address may take an upload, and how it takes the file.
    fn job(self) -> (Known, Store) {
        match self {
            UploadKind::Diagnostics => (firmware::upload_address, firmware::receive),
            UploadKind::Logs => (security_jobs::upload_address, security_jobs::receive),
        }
    }
}

/// The upload address's operations, `handler: method, "what the 200 says";`: chargers upload by PUT
/// or POST, and both take the file the same way ([`take`]).
macro_rules! upload_methods {
    ($($handler:ident: $method:ident, $received:tt;)+) => {$(
        #[utoipa::path($method, path = "/files/{kind}/{token}/{name}", tag = "charger",
            params(("kind" = UploadKind, Path), ("token" = String, Path), ("name" = String, Path)),
            request_body(content = Vec<u8>, content_type = "application/octet-stream"),
            responses((status = 200, description = $received, body = crate::http::Done), (status = 400, description = "Invalid file name, or the upload broke off"), (status = 404, description = "Upload address not found"), (status = 410, description = "Upload address already used (it accepts one upload) or expired"), (status = 413, description = "Above 64 MiB")),
        )]
        pub async fn $handler(
            req: HttpRequest,
            state: web::Data<AppState>,
            path: web::Path<(UploadKind, String, String)>,
            payload: web::Payload,
        ) -> Result<HttpResponse, AppError> {
            take(req, state, path, payload).await
        }
    )+};
}

upload_methods! {
    receive: put, "Received";
    receive_post: post, "Received (as PUT)";
}

/// Takes an upload: the address first, then the file name and size, then the file, which the job
/// stores (or it is discarded).
async fn take(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(UploadKind, String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let (kind, token, name) = path.into_inner();
    let (known, store) = kind.job();
    // The address first: an unknown one is 404 whatever the file is called.
    let t = token.clone();
    state.db.run(move |c| known(c, &t)).await?;
    firmware::text("fileName", &name)?;
    declared_size(&req)?;
    let file = crate::infra::files::receive(&state.db, payload).await?;
    let id = file.file_id;
    let stored = state.db.run(move |c| store(c, &token, &name, &file)).await;
    if let Err(e) = stored {
        crate::infra::files::discard(&state.db, id).await;
        return Err(e);
    }
    crate::http::done()
}
