//! The test harness shared by every test crate (`tests/api`, `tests/conformance`,
//! `tests/bench_smoke.rs`), included by each as `mod support` (`#[path = "../support/mod.rs"]`
//! from a folder crate):
//!
//! - here: the two backends, a fresh database per test (a SQLite file in a temp folder, or a
//!   PostgreSQL database created on `CSMS_TEST_POSTGRES_URL` and dropped afterwards), the admin
//!   the servers are started with;
//! - [`process`]: the built `csms` binary (the one cargo builds for the tests,
//!   `CARGO_BIN_EXE_csms`) as a child process: `csms serve` on random ports, ready once it printed
//!   them, killed with SIGKILL; HTTP calls to it, a fleet of chargers and customers set up through
//!   its API, and the end-of-scenario audit;
//! - [`app`]: the server in the test's own process (`TestApp`) and `dual!`.
//!
//! Not every crate uses every part.

#![allow(dead_code)]

pub mod app;
pub mod ocsp;
pub mod process;
pub mod stand_in;
pub mod station201;

use diesel::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another node on a database that the first `TestApp` owns.
    Shared,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self
            && let Ok(mut c) = diesel::PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    }
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password";

/// `CSMS_TEST_POSTGRES_URL`: the PostgreSQL server the tests create their databases on (its
/// database is where they connect to create and drop them). `None` when it is not set, which
/// fails the test under `CSMS_REQUIRE_POSTGRES=1` (CI).
pub fn postgres_base() -> Option<String> {
    match std::env::var("CSMS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CSMS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("CSMS_REQUIRE_POSTGRES=1 but CSMS_TEST_POSTGRES_URL is not set");
            }
            None
        }
    }
}

/// [`postgres_base`], saying so when the PostgreSQL half of a test is skipped.
pub fn postgres_base_or_skip() -> Option<String> {
    let base = postgres_base();
    if base.is_none() {
        eprintln!("skipped: PostgreSQL half (CSMS_TEST_POSTGRES_URL not set)");
    }
    base
}

/// A new empty database for one test (a SQLite file in a temp folder, or a PostgreSQL database
/// dropped afterwards) and its URL. `None` when PostgreSQL is not configured (and not required).
pub async fn fresh_database(backend: Backend) -> Option<(String, TestDb)> {
    Some(match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("csms.db").display());
            (url, TestDb::Sqlite(dir))
        }
        Backend::Postgres => {
            let base = postgres_base_or_skip()?;
            let name = format!("csms_test_{}", uuid::Uuid::new_v4().simple());
            let admin_url = base.clone();
            let n = name.clone();
            tokio::task::spawn_blocking(move || {
                let mut c = diesel::PgConnection::establish(&admin_url)
                    .expect("connect to CSMS_TEST_POSTGRES_URL");
                diesel::sql_query(format!("CREATE DATABASE {n}"))
                    .execute(&mut c)
                    .expect("create test database");
            })
            .await
            .unwrap();
            let url = match base.rfind('/') {
                Some(i) if i > "postgres://".len() => format!("{}/{name}", &base[..i]),
                _ => format!("{base}/{name}"),
            };
            (
                url,
                TestDb::Postgres {
                    admin_url: base,
                    name,
                },
            )
        }
    })
}
