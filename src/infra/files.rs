//! Files csms keeps (firmware images, diagnostics files and logs chargers upload) stored in the
//! database as chunks of at most [`CHUNK_BYTES`], so that a transfer never holds a whole file in
//! memory: an upload is written chunk by chunk as it arrives (and refused as soon as it passes
//! [`MAX_FILE_BYTES`]), a download read chunk by chunk as it is sent. Every node of a cluster reads
//! and writes them alike, with no shared volume.
//!
//! A file is `complete` from the transaction that gives it to its image or job (the domain's, which
//! also consumes the upload address); until then it belongs to nobody. An upload that fails is
//! deleted at once; one abandoned by a crash is deleted by the next upload after two hours.

use std::time::Duration;

use actix_web::web::Bytes;
use diesel::prelude::*;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::infra::db::schema::{file_chunks, files};
use crate::infra::db::{Db, DbConnection, now, relaxed_tx, write_tx};

/// Largest file accepted (a firmware image, a diagnostics file, a log).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// The size of a stored chunk: what one upload or download holds in memory at a time.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// An upload that takes longer than this is cut off (and its chunks deleted).
pub const UPLOAD_DEADLINE: Duration = Duration::from_secs(3600);

/// Incomplete files older than this are abandoned uploads (twice [`UPLOAD_DEADLINE`]).
const ABANDONED_AFTER_SECS: i64 = 2 * 3600;

/// A file written by [`receive`], not yet given to an image or job.
#[derive(Debug)]
pub struct Received {
    pub file_id: i64,
    pub size: i64,
    /// SHA-256 of the content, hex
    pub sha256: String,
}

/// A new, empty, incomplete file; abandoned uploads are deleted first.
fn create(c: &mut DbConnection) -> Result<i64, AppError> {
    let stale = now() - chrono::Duration::seconds(ABANDONED_AFTER_SECS);
    write_tx(c, |c| {
        let abandoned: Vec<i64> = files::table
            .filter(files::complete.eq(false))
            .filter(files::created_at.lt(stale))
            .select(files::id)
            .load(c)?;
        if !abandoned.is_empty() {
            log::info!("deleting {} abandoned uploads", abandoned.len());
            delete_in(c, &abandoned)?;
        }
        Ok(diesel::insert_into(files::table)
            .values((
                files::size.eq(0i64),
                files::complete.eq(false),
                files::created_at.eq(now()),
            ))
            .returning(files::id)
            .get_result(c)?)
    })
}

/// Appends chunk `seq`. Relaxed: the transaction that completes the file is durable and carries
/// every earlier write to disk with it; a crash before it leaves an abandoned upload.
fn append(c: &mut DbConnection, file_id: i64, seq: i32, data: &[u8]) -> Result<(), AppError> {
    relaxed_tx(c, |c| {
        diesel::insert_into(file_chunks::table)
            .values((
                file_chunks::file_id.eq(file_id),
                file_chunks::seq.eq(seq),
                file_chunks::data.eq(data),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Marks a received file complete: call it in the transaction that gives the file to its owner.
pub fn complete(c: &mut DbConnection, r: &Received) -> Result<(), AppError> {
    let n = diesel::update(files::table.find(r.file_id))
        .set((files::complete.eq(true), files::size.eq(r.size)))
        .execute(c)?;
    if n == 0 {
        return Err(AppError::Internal(format!("file {} is gone", r.file_id)));
    }
    Ok(())
}

/// Deletes files and their chunks (inside the caller's transaction).
pub fn delete_in(c: &mut DbConnection, ids: &[i64]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(file_chunks::table.filter(file_chunks::file_id.eq_any(ids))).execute(c)?;
    diesel::delete(files::table.filter(files::id.eq_any(ids))).execute(c)?;
    Ok(())
}

/// Deletes a file that will not be given to anyone (a failed or refused upload).
pub async fn discard(db: &Db, file_id: i64) {
    let deleted = db
        .run(move |c| write_tx(c, |c| delete_in(c, &[file_id])))
        .await;
    if let Err(e) = deleted {
        log::warn!("file {file_id} not deleted (the next upload after two hours will): {e}");
    }
}

/// Writes an upload into a new file chunk by chunk as it arrives; at most [`MAX_FILE_BYTES`]
/// (413 as soon as it passes them) and [`UPLOAD_DEADLINE`]. On any failure nothing is left behind.
pub async fn receive<S, E>(db: &Db, body: S) -> Result<Received, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file_id = db.run(create).await?;
    let written = tokio::time::timeout(UPLOAD_DEADLINE, write_chunks(db, file_id, body)).await;
    match written {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            discard(db, file_id).await;
            Err(e)
        }
        Err(_) => {
            discard(db, file_id).await;
            Err(AppError::bad_request(format!(
                "Upload took longer than {} minutes",
                UPLOAD_DEADLINE.as_secs() / 60
            )))
        }
    }
}

async fn write_chunks<S, E>(db: &Db, file_id: i64, mut body: S) -> Result<Received, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let (mut seq, mut size) = (0i32, 0usize);
    let mut sha = Sha256::new();
    let flush = |piece: Vec<u8>, seq: i32| async move {
        db.run(move |c| append(c, file_id, seq, &piece)).await
    };
    while let Some(part) = body.next().await {
        let part = part.map_err(|e| AppError::bad_request(format!("Upload failed: {e}")))?;
        size += part.len();
        if size > MAX_FILE_BYTES {
            return Err(AppError::TooLarge(format!(
                "Files are limited to {} MiB",
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        sha.update(&part);
        let mut part = &part[..];
        while !part.is_empty() {
            let take = (CHUNK_BYTES - buf.len()).min(part.len());
            buf.extend_from_slice(&part[..take]);
            part = &part[take..];
            if buf.len() == CHUNK_BYTES {
                let piece = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES));
                flush(piece, seq).await?;
                seq += 1;
            }
        }
    }
    if !buf.is_empty() {
        flush(buf, seq).await?;
    }
    Ok(Received {
        file_id,
        size: size as i64,
        sha256: sha.finalize().iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// A stored file, read chunk by chunk: one database read per chunk as the client takes them.
pub fn read(db: Db, file_id: i64) -> impl Stream<Item = Result<Bytes, AppError>> + 'static {
    futures_util::stream::try_unfold(0i32, move |seq| {
        let db = db.clone();
        async move {
            let chunk: Option<Vec<u8>> = db
                .run(move |c| {
                    Ok(file_chunks::table
                        .find((file_id, seq))
                        .select(file_chunks::data)
                        .first(c)
                        .optional()?)
                })
                .await?;
            Ok(chunk.map(|d| (Bytes::from(d), seq + 1)))
        }
    })
}

/// The size of a complete file (`None`: no such file, or not complete).
pub fn size(c: &mut DbConnection, file_id: i64) -> Result<Option<i64>, AppError> {
    Ok(files::table
        .find(file_id)
        .filter(files::complete.eq(true))
        .select(files::size)
        .first(c)
        .optional()?)
}
