//! Storage: one diesel connection type over PostgreSQL and SQLite, an r2d2 pool, embedded migrations,
//! and the two helpers every caller uses: [`Db::run`] (a blocking DB job off the async executor) and
//! [`write_tx`] (a write transaction that takes SQLite's write lock up front).

pub mod group_commit;
pub mod models;
pub mod schema;
pub mod text_enum;

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;
pub use crate::infra::timestamps::now;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Which database a `DATABASE_URL` points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A parsed `DATABASE_URL`: `postgres://...`/`postgresql://...`, or `sqlite://PATH` (also `sqlite:PATH`).
#[derive(Clone, Debug)]
pub struct DbUrl {
    pub backend: Backend,
    /// What the driver gets: the full URL for PostgreSQL, the file path for SQLite.
    pub target: String,
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<Self, AppError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl {
                backend: Backend::Postgres,
                target: url.to_string(),
            });
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                AppError::Config(format!(
                    "DATABASE_URL must start with postgres:// or sqlite://, got {url:?}"
                ))
            })?;
        if path.is_empty() || path == ":memory:" {
            return Err(AppError::Config(
                "DATABASE_URL: SQLite needs a file path (each pooled :memory: connection would be its own database)"
                    .into(),
            ));
        }
        Ok(DbUrl {
            backend: Backend::Sqlite,
            target: path.to_string(),
        })
    }
}

/// r2d2 manager that opens the right variant for the URL (so a bad URL reports the driver's own error)
/// and applies SQLite's pragmas on every new connection.
#[derive(Debug)]
pub struct Manager {
    url: DbUrl,
}

/// `synchronous = FULL`: in WAL mode every commit waits until the WAL is on disk, so a power cut
/// cannot lose a committed hold, refund or settlement. Telemetry opts out per transaction
/// ([`relaxed_tx`]).
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        match self.url.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url.target)
                .map(DbConnection::Postgresql)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url.target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// The shared handle to the database.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    /// One permit per pooled connection: a job waits here, as a cheap async waiter, until a
    /// connection is likely free, instead of on a blocking-pool thread parked in r2d2. Without it a
    /// busy server ran ~300 blocking threads (each with its stack and malloc arena) for 16
    /// connections; see `run`.
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Db {
    /// Opens the pool (creating the SQLite file and its folder if needed) and runs pending migrations.
    pub fn connect(database_url: &str, pool_size: u32) -> Result<Self, AppError> {
        let url = DbUrl::parse(database_url)?;
        if url.backend == Backend::Sqlite
            && let Some(parent) = Path::new(&url.target).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                AppError::Config(format!("cannot create folder {}: {e}", parent.display()))
            })?;
        }
        let backend = url.backend;
        // Fail fast with the driver's own message instead of r2d2's generic timeout.
        let mut probe = Manager { url: url.clone() }.connect().map_err(|e| {
            AppError::Config(format!(
                "cannot open database {}: {e}",
                redact(database_url)
            ))
        })?;
        run_migrations(&mut probe)?;
        drop(probe);
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(1))
            // No `SELECT 1` round trip on every checkout (r2d2's default): a connection that broke
            // is marked by diesel (`has_broken`) and dropped when it comes back.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(15))
            .build(Manager { url })
            .map_err(|e| {
                AppError::Config(format!(
                    "cannot open database {}: {e}",
                    redact(database_url)
                ))
            })?;
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(pool_size.max(1) as usize));
        Ok(Db {
            pool,
            backend,
            slots,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// A pooled connection, for blocking contexts (tests, benches, CLI subcommands).
    pub fn get(&self) -> Result<PooledConn, AppError> {
        Ok(self.pool.get()?)
    }

    /// Runs a blocking database job on the blocking thread pool, never on an async worker.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        // As long as r2d2 would wait for a connection before giving up.
        let slot =
            tokio::time::timeout(Duration::from_secs(15), self.slots.clone().acquire_owned())
                .await
                .map_err(|_| {
                    AppError::Internal("the database is busy: no connection for 15 s".into())
                })?
                .map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AppError::Internal(format!("database task failed: {e}")))?
    }

    /// [`Db::run`] inside one write transaction ([`write_tx`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |c| write_tx(c, f)).await
    }
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<(), AppError> {
    let result = match conn {
        DbConnection::Postgresql(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    match result {
        Ok(0) => Ok(()),
        Ok(n) => {
            log::info!("applied {n} database migration(s)");
            Ok(())
        }
        Err(e) => Err(AppError::Config(format!("migrations failed: {e}"))),
    }
}

/// Writers of this process queue here before SQLite's own write lock. SQLite lets one writer in at a
/// time and makes the others poll (its busy handler sleeps 1, 2, 5, 10 … 100 ms between tries), which
/// under contention turned millisecond transactions into 100 ms waits; a mutex hands the lock over
/// the moment the previous writer commits. `busy_timeout` still covers writers in other processes.
/// One lock per process, not per database file: tests that open several files only serialise their
/// (sub-millisecond) writes; nothing ever opens a write transaction while holding another.
static SQLITE_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock before the
/// first read, so a read-then-write transaction waits (busy_timeout) instead of failing with
/// "database is locked" when another writer got there first. On PostgreSQL it is a plain transaction;
/// correctness there comes from conditional updates and unique indexes, not from the isolation level.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    // A panic inside another writer's closure poisons nothing that matters: its transaction was
    // rolled back or never committed.
    let _writer = SQLITE_WRITERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Loads the rows of one raw SQL query, written with PostgreSQL's `$1, $2` parameters, on either
/// backend: raw SQL runs on the inner connection, and SQLite numbers its parameters `?1, ?2`.
/// `load_raw!(conn, SQL, BigInt => id, Timestamp => t)`.
macro_rules! load_raw {
    ($conn:expr, $sql:expr $(, $ty:ty => $val:expr)* $(,)?) => {
        match $conn {
            $crate::infra::db::DbConnection::Postgresql(pg) => {
                diesel::sql_query($sql)$(.bind::<$ty, _>($val))*.load(pg)
            }
            $crate::infra::db::DbConnection::Sqlite(lite) => {
                diesel::sql_query($sql.replace('$', "?"))$(.bind::<$ty, _>($val))*.load(lite)
            }
        }
    };
}
pub(crate) use load_raw;

/// Narrows a boxed query by the criteria given: `filter_given!(q, column => option, ...)` adds
/// `column = value` for each option that is `Some(value)` (a list's optional filters).
macro_rules! filter_given {
    ($q:ident, $($column:path => $value:expr),+ $(,)?) => {
        $(if let Some(value) = $value {
            $q = $q.filter($column.eq(value));
        })+
    };
}
pub(crate) use filter_given;

/// Multi-row INSERTs for append-only tables (meter values, the message log). The multi-backend
/// connection cannot batch-insert into SQLite, so this runs on the inner connection of each backend.
macro_rules! batch_insert {
    ($name:ident, $table:path, $row:ty) => {
        pub fn $name(conn: &mut DbConnection, rows: &[$row]) -> diesel::QueryResult<()> {
            match conn {
                DbConnection::Postgresql(c) => {
                    for chunk in rows.chunks(1000) {
                        diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
                DbConnection::Sqlite(c) => {
                    for chunk in rows.chunks(500) {
                        diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
            }
            Ok(())
        }
    };
}
batch_insert!(
    insert_meter_values,
    schema::meter_values::table,
    models::NewMeterValue
);
batch_insert!(
    insert_ocpp_messages,
    schema::ocpp_messages::table,
    models::NewOcppMessage
);

/// A write transaction whose commit need not wait for the disk: for diagnostics and bookkeeping that
/// may be lost in a crash without harm (the OCPP message log; the outbox's "published" marks, after
/// which at worst an event is published twice; heartbeats and connector status, which a charger
/// reports again after it reconnects). On PostgreSQL this is `synchronous_commit = off` for this
/// transaction only; on SQLite the connection drops to `synchronous = NORMAL` for this commit and
/// back to `FULL` after it (the pragma cannot change inside a transaction).
/// Never use it for money, sessions or anything a charger was told is stored.
pub fn relaxed_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let DbConnection::Sqlite(_) = conn {
        conn.batch_execute("PRAGMA synchronous = NORMAL")?;
        let result = write_tx(conn, f);
        // If this fails the connection would stay relaxed: mark it broken so the pool drops it.
        conn.batch_execute("PRAGMA synchronous = FULL")?;
        return result;
    }
    write_tx(conn, |c| {
        c.batch_execute("SET LOCAL synchronous_commit TO OFF")?;
        f(c)
    })
}

/// True when a diesel error is a unique-constraint violation (the same on both backends).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A database URL fit for logs: the credentials are replaced by `***`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// `SELECT 1`: whether the database answers (for `/healthz`).
pub fn ping(c: &mut DbConnection) -> Result<(), AppError> {
    Ok(c.batch_execute("SELECT 1")?)
}
