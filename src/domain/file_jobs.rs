//! What every file-transfer job shares, whatever its OCPP request (UpdateFirmware, GetDiagnostics,
//! GetLog, SignedUpdateFirmware): a status with its timed history, an upload address (a random
//! token, single use, expiring) and the file the charger uploaded to it.
//!
//! The jobs live in two tables with the same columns for all of this (`maintenance_jobs`:
//! UpdateFirmware and GetDiagnostics, `firmware.rs`; `security_jobs`: GetLog and
//! SignedUpdateFirmware, `security_jobs.rs`). [`job_table!`] writes the functions below for one of
//! them, from one definition: `record`, `upload_address`, `receive` and `received_file`.

use chrono::NaiveDateTime;

use crate::error::AppError;
use crate::infra::db::now;

/// 404 for an address that does not exist, 410 for one that was already used (it accepts one upload)
/// or has expired.
pub(crate) fn check_address(
    found: Option<(Option<NaiveDateTime>, Option<NaiveDateTime>)>,
) -> Result<(), AppError> {
    match found {
        None => Err(AppError::NotFound("Upload address not found".into())),
        Some((_, Some(_))) => Err(AppError::Gone(
            "This upload address was already used: it accepts one upload".into(),
        )),
        Some((expires, None)) if expires.is_none_or(|t| t <= now()) => Err(AppError::Gone(
            "This upload address has expired: ask for the file again".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// The job functions for one job table: `job_table!(table, "what")`, where `"what"` names a
/// received file that has no name of its own (`what-<id>`). Only jobs that ask for an upload
/// (GetDiagnostics, GetLog) are given a token, so a token names its job.
macro_rules! job_table {
    ($table:ident, $what:literal) => {
        /// Sets a job's status, adding it to the history.
        fn record(c: &mut DbConnection, id: i64, status: &str) -> Result<(), AppError> {
            let history: String = $table::table.find(id).select($table::history).first(c)?;
            let mut h: Vec<Value> = serde_json::from_str(&history).unwrap_or_default();
            h.push(json!([status, format_timestamp(now())]));
            diesel::update($table::table.find(id))
                .set((
                    $table::status.eq(status),
                    $table::history.eq(Value::from(h).to_string()),
                    $table::updated_at.eq(now()),
                ))
                .execute(c)?;
            Ok(())
        }

        /// Whether `token` is an upload address of this kind of job that may take an upload
        /// (checked before the body is read, and again when it has been): 404 unknown, 410 used
        /// or expired.
        pub fn upload_address(c: &mut DbConnection, token: &str) -> Result<(), AppError> {
            crate::domain::file_jobs::check_address(
                $table::table
                    .filter($table::token.eq(token))
                    .select(($table::token_expires_at, $table::token_used_at))
                    .first(c)
                    .optional()?,
            )
        }

        /// A charger uploaded its file (received by `crate::infra::files::receive`): the job
        /// takes it and the upload address is used up, in one transaction whose UPDATE only
        /// matches an address still unused and unexpired. Of two uploads to one address, one
        /// wins; the other gets 410 (and the caller discards its file).
        pub fn receive(
            c: &mut DbConnection,
            token: &str,
            file_name: &str,
            file: &Received,
        ) -> Result<(), AppError> {
            let name = text("fileName", file_name)?;
            write_tx(c, |c| {
                let t = now();
                let n = diesel::update(
                    $table::table
                        .filter($table::token.eq(token))
                        .filter($table::token_used_at.is_null())
                        .filter($table::token_expires_at.gt(t)),
                )
                .set((
                    $table::file_name.eq(&name),
                    $table::file_id.eq(file.file_id),
                    $table::token_used_at.eq(t),
                    $table::updated_at.eq(t),
                ))
                .execute(c)?;
                if n == 0 {
                    upload_address(c, token)?;
                    return Err(AppError::Gone(
                        "This upload address was already used".into(),
                    ));
                }
                crate::infra::files::complete(c, file)
            })
        }

        /// The file a job received, as a [`Download`]; 404 for an unknown job or none received.
        pub(crate) fn received_file(c: &mut DbConnection, id: i64) -> Result<Download, AppError> {
            let (name, file): (Option<String>, Option<i64>) = $table::table
                .find(id)
                .select(($table::file_name, $table::file_id))
                .first(c)
                .optional()?
                .ok_or_else(|| AppError::NotFound("Job not found".into()))?;
            stored(
                c,
                name.unwrap_or_else(|| format!(concat!($what, "-{}"), id)),
                file,
            )
        }
    };
}
pub(crate) use job_table;
