//! What every file-transfer job shares, whatever its OCPP request (UpdateFirmware, GetDiagnostics,
//! GetLog, SignedUpdateFirmware): the job as the operator sees it, a status with its timed history,
//! the CALL that starts it, an upload address (a random token, single use, expiring) and the file
//! the charger uploaded to it.
//!
//! The jobs live in two tables with the same columns for all of this (`maintenance_jobs`:
//! UpdateFirmware and GetDiagnostics, `firmware.rs`; `security_jobs`: GetLog and
//! SignedUpdateFirmware, `security_jobs.rs`, which adds a `request_id`). [`job_table!`] writes the
//! job type and the functions below for one of them, from one definition.

use chrono::NaiveDateTime;

use crate::error::AppError;
use crate::infra::db::now;

/// What the file-transfer jobs (firmware updates, diagnostics, logs, signed firmware) work with
/// (built once in `startup.rs`).
pub struct FileJobs {
    pub db: crate::infra::db::Db,
    pub stations: std::sync::Arc<dyn crate::domain::station_commands::StationCommands>,
    pub call_timeout: std::time::Duration,
    /// How long a job's upload address works.
    pub upload_ttl: chrono::Duration,
}

/// The id of a registered charger that is connected: 404 for an unknown one, 409 (offline) when it
/// is not connected.
pub(crate) async fn reachable(desk: &FileJobs, device_id: &str) -> Result<i64, AppError> {
    let d = device_id.to_string();
    let cid = desk
        .db
        .run(move |c| crate::domain::chargers::id_of(c, &d))
        .await?;
    if !desk.stations.is_online(device_id) {
        return Err(AppError::ChargerOffline);
    }
    Ok(cid)
}

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

/// The job type and functions for one job table:
///
/// ```ignore
/// job_table! {
///     table_name, "what",
///     /// The job type's doc
///     pub struct Job {
///         /// kind's doc
///         kind,
///         /// status's doc
///         status,
///         /// receivedBytes's doc
///         received_bytes,
///         /// the table's own columns, if any
///         request_id: i64,
///     }
/// }
/// ```
///
/// where `"what"` names a received file that has no name of its own (`what-<id>`). The job type
/// has the fields every job has, in this order: id, deviceId, kind, the table's own (placed here,
/// though listed last), imageId, location, status, history, fileName, receivedBytes, createdAt,
/// updatedAt. Only jobs that ask
/// for an upload (GetDiagnostics, GetLog) are given a token, so a token names its job.
macro_rules! job_table {
    (
        $table:ident, $what:literal,
        $(#[$doc:meta])*
        pub struct $Job:ident {
            $(#[$kind_doc:meta])*
            kind,
            $(#[$status_doc:meta])*
            status,
            $(#[$bytes_doc:meta])*
            received_bytes,
            $($(#[$own_doc:meta])* $own:ident: $own_ty:ty,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $Job {
            pub id: i64,
            pub device_id: String,
            $(#[$kind_doc])*
            pub kind: String,
            $($(#[$own_doc])* pub $own: $own_ty,)*
            pub image_id: Option<i64>,
            pub location: String,
            $(#[$status_doc])*
            pub status: String,
            /// Every status with its time: [[status, time], ...]
            #[schema(value_type = Vec<Vec<String>>)]
            pub history: Value,
            pub file_name: Option<String>,
            $(#[$bytes_doc])*
            pub received_bytes: Option<i64>,
            pub created_at: String,
            pub updated_at: String,
        }

        /// One job; 404 for an unknown one.
        fn job(c: &mut DbConnection, id: i64) -> Result<$Job, AppError> {
            use crate::infra::db::schema::chargers;
            use diesel::sql_types::{BigInt, Nullable};
            type Row = (
                i64,
                String,
                String,
                $($own_ty,)*
                Option<i64>,
                String,
                String,
                String,
                Option<String>,
                Option<i64>,
                chrono::NaiveDateTime,
                chrono::NaiveDateTime,
            );
            let r: Row = $table::table
                .inner_join(chargers::table)
                .filter($table::id.eq(id))
                .select((
                    $table::id,
                    chargers::device_id,
                    $table::kind,
                    $($table::$own,)*
                    $table::image_id,
                    $table::location,
                    $table::status,
                    $table::history,
                    $table::file_name,
                    // The size only: the file itself stays in the database.
                    diesel::dsl::sql::<Nullable<BigInt>>(concat!(
                        "(SELECT files.size FROM files WHERE files.id = ",
                        stringify!($table),
                        ".file_id)"
                    )),
                    $table::created_at,
                    $table::updated_at,
                ))
                .first(c)
                .optional()?
                .ok_or_else(|| AppError::NotFound("Job not found".into()))?;
            let (id, device_id, kind, $($own,)* image_id, location, status, history, file_name, size, ca, ua) = r;
            Ok($Job {
                id,
                device_id,
                kind,
                $($own,)*
                image_id,
                location,
                status,
                history: serde_json::from_str(&history).unwrap_or(json!([])),
                file_name,
                received_bytes: size,
                created_at: format_timestamp(ca),
                updated_at: format_timestamp(ua),
            })
        }

        /// A charger's jobs of this table, newest first.
        pub fn jobs(c: &mut DbConnection, device_id: &str) -> Result<Vec<$Job>, AppError> {
            let cid = crate::domain::chargers::id_of(c, device_id)?;
            let ids: Vec<i64> = $table::table
                .filter($table::charger_id.eq(cid))
                .order($table::id.desc())
                .limit(100)
                .select($table::id)
                .load(c)?;
            ids.into_iter().map(|id| job(c, id)).collect()
        }

        /// A new job, Requested (in the caller's transaction); `token`: its upload address and
        /// how long that accepts an upload.
        fn insert_job(
            c: &mut DbConnection,
            charger_id: i64,
            kind: &str,
            $($own: $own_ty,)*
            image_id: Option<i64>,
            location: &str,
            token: Option<(&str, chrono::Duration)>,
        ) -> Result<i64, AppError> {
            let t = now();
            let id: i64 = diesel::insert_into($table::table)
                .values((
                    $table::charger_id.eq(charger_id),
                    $table::kind.eq(kind),
                    $($table::$own.eq($own),)*
                    $table::image_id.eq(image_id),
                    $table::location.eq(location),
                    $table::token.eq(token.map(|(t, _)| t)),
                    $table::token_expires_at.eq(token.map(|(_, ttl)| t + ttl)),
                    $table::status.eq("Requested"),
                    $table::created_at.eq(t),
                    $table::updated_at.eq(t),
                ))
                .returning($table::id)
                .get_result(c)?;
            record(c, id, "Requested")?;
            Ok(id)
        }

        /// Sends the command that starts job `id`; `outcome` tells which status its answer (or
        /// why there is none) gives the job, if any.
        async fn send(
            desk: &crate::domain::file_jobs::FileJobs,
            device_id: &str,
            id: i64,
            command: crate::domain::station_commands::Command,
            outcome: impl FnOnce(
                &Result<
                    crate::domain::station_commands::Reply,
                    crate::domain::station_commands::CallFailure,
                >,
            ) -> Option<String>,
        ) -> Result<crate::domain::station_commands::Reply, AppError> {
            let answer = desk
                .stations
                .send(device_id, command, desk.call_timeout)
                .await;
            if let Some(status) = outcome(&answer) {
                set_status(desk, id, status).await?;
            }
            Ok(answer?)
        }

        /// Sets a job's status, in a transaction of its own.
        async fn set_status(
            desk: &crate::domain::file_jobs::FileJobs,
            id: i64,
            status: String,
        ) -> Result<(), AppError> {
            desk
                .db
                .run(move |c| write_tx(c, |c| record(c, id, &status)))
                .await
        }

        /// The name the charger's answer gave the file it will upload, if it gave one.
        async fn set_file_name(
            desk: &crate::domain::file_jobs::FileJobs,
            id: i64,
            name: Option<&str>,
        ) -> Result<(), AppError> {
            let Some(name) = name.map(str::to_string) else {
                return Ok(());
            };
            desk
                .db
                .run(move |c| {
                    write_tx(c, |c| {
                        diesel::update($table::table.find(id))
                            .set($table::file_name.eq(name))
                            .execute(c)
                    })?;
                    Ok(())
                })
                .await
        }

        /// The charger reported `status` for the job `latest` (its id and current status): the
        /// job takes it. False when there is no such job.
        fn reported(
            c: &mut DbConnection,
            latest: Option<(i64, String)>,
            status: &str,
        ) -> Result<bool, AppError> {
            match latest {
                // A repeat (or Installed after csms recognised it at boot) adds nothing.
                Some((_, current)) if current == status => Ok(true),
                Some((id, _)) => record(c, id, status).map(|()| true),
                None => Ok(false),
            }
        }

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
