//! Firmware and diagnostics: csms hosts the image the charger downloads, receives the diagnostics
//! upload, and tracks every status the charger reports, including a reboot into the new version
//! without an Installed notification.

use serde_json::{Value, json};

use crate::dual;
use crate::helpers::TestApp;

async fn upload(
    app: &TestApp,
    admin: &str,
    name: &str,
    version: &str,
    data: &[u8],
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/api/admin/firmware?name={name}&version={version}",
            app.http
        ))
        .bearer_auth(admin)
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

async fn job_status(app: &TestApp, admin: &str, device: &str, id: i64) -> Value {
    let (_, b) = app
        .get(
            &format!("/api/admin/chargers/{device}/maintenance"),
            Some(admin),
        )
        .await;
    b["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_job(app: &TestApp, admin: &str, device: &str, id: i64, status: &str) -> Value {
    for _ in 0..300 {
        let j = job_status(app, admin, device, id).await;
        if j["status"] == status {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "job {id} never {status}: {}",
        job_status(app, admin, device, id).await
    );
}

fn statuses(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap().to_string())
        .collect()
}

async fn firmware_update_end_to_end(app: TestApp) {
    let admin = app.admin().await;
    let image = b"\x7fELF firmware 2.0.0 for the simulator".to_vec();
    let (s, b) = upload(&app, &admin, "fw-2.0.0.bin", "2.0.0", &image).await;
    assert_eq!(s, 201, "{b}");
    let img = b["image"].clone();
    assert_eq!(img["size"], image.len());
    assert_eq!(img["sha256"].as_str().unwrap().len(), 64);
    let (s, b) = app.get("/api/admin/firmware", Some(&admin)).await;
    assert_eq!((s, b["images"].as_array().unwrap().len()), (200, 1));

    let sim = app.charger("FW1", 1).await;
    sim.set_next_firmware("2.0.0", true);
    let (s, b) = app
        .post(
            "/api/admin/chargers/FW1/firmware",
            Some(&admin),
            json!({"imageId": img["id"], "retries": 2}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["job"]["id"].as_i64().unwrap();
    let sent = sim
        .received()
        .into_iter()
        .find(|(a, _)| a == "UpdateFirmware")
        .unwrap()
        .1;
    assert_eq!(
        sent["location"],
        format!("{}{}", app.http, img["path"].as_str().unwrap())
    );
    assert_eq!(sent["retries"], 2);
    let job = wait_job(&app, &admin, "FW1", id, "Installed").await;
    assert_eq!(
        statuses(&job),
        vec![
            "Requested",
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed"
        ]
    );
    assert_eq!(
        sim.downloaded(),
        vec![image],
        "the charger got the image from csms"
    );
    let (_, b) = app.get("/api/admin/chargers/FW1", Some(&admin)).await;
    assert_eq!(b["charger"]["firmwareVersion"], "2.0.0", "{b}");
}
dual!(firmware_update_end_to_end);

/// Some chargers only reboot into the new image: csms recognises it from the BootNotification.
async fn reboot_into_new_version_is_installed(app: TestApp) {
    let admin = app.admin().await;
    let (_, b) = upload(&app, &admin, "fw.bin", "3.1", b"image 3.1").await;
    let sim = app.charger("FW2", 1).await;
    sim.set_next_firmware("3.1", false);
    let (s, b) = app
        .post(
            "/api/admin/chargers/FW2/firmware",
            Some(&admin),
            json!({"imageId": b["image"]["id"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["job"]["id"].as_i64().unwrap();
    let job = wait_job(&app, &admin, "FW2", id, "Installed").await;
    assert_eq!(
        statuses(&job),
        vec![
            "Requested",
            "Downloading",
            "Downloaded",
            "Installing",
            "Installed"
        ]
    );
    assert_eq!(
        sim.received_count("UpdateFirmware"),
        1,
        "one request; Installed came from the boot"
    );
}
dual!(reboot_into_new_version_is_installed);

async fn failures_and_bad_input(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("FW3", 1).await;
    // Through the commands API, to an address that does not answer: tracked all the same.
    let (s, b) = app
        .post(
            "/api/admin/chargers/FW3/commands/UpdateFirmware",
            Some(&admin),
            json!({"location": "http://127.0.0.1:9/none.bin", "retrieveDate": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    for _ in 0..300 {
        let (_, b) = app
            .get("/api/admin/chargers/FW3/maintenance", Some(&admin))
            .await;
        if b["jobs"][0]["status"] == "DownloadFailed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, b) = app
        .get("/api/admin/chargers/FW3/maintenance", Some(&admin))
        .await;
    assert_eq!(
        statuses(&b["jobs"][0]),
        vec!["Requested", "Downloading", "DownloadFailed"]
    );
    assert!(sim.downloaded().is_empty());

    assert_eq!(upload(&app, &admin, "", "1.0", b"x").await.0, 400);
    assert_eq!(upload(&app, &admin, "a.bin", "", b"x").await.0, 400);
    assert_eq!(upload(&app, &admin, "a.bin", "1.0", b"").await.0, 400);
    let (s, _) = app
        .post(
            "/api/admin/chargers/FW3/firmware",
            Some(&admin),
            json!({"imageId": 999}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .post(
            "/api/admin/chargers/NOPE/firmware",
            Some(&admin),
            json!({"imageId": 1}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = app.get("/files/firmware/not-a-token/x.bin", None).await;
    assert_eq!(s, 404);
    let resp = reqwest::Client::new()
        .put(format!("{}/files/diagnostics/not-a-token/x.log", app.http))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let (s, _) = app.get("/api/admin/firmware", None).await;
    assert_eq!(s, 401);
}
dual!(failures_and_bad_input);

async fn diagnostics_are_uploaded_to_csms(app: TestApp) {
    let admin = app.admin().await;
    let _sim = app.charger("DG1", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/DG1/diagnostics",
            Some(&admin),
            json!({"startTime": "2026-11-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["job"]["id"].as_i64().unwrap();
    assert_eq!(b["job"]["fileName"], "diagnostics-DG1.log");
    let job = wait_job(&app, &admin, "DG1", id, "Uploaded").await;
    assert_eq!(statuses(&job), vec!["Requested", "Uploading", "Uploaded"]);
    assert_eq!(job["receivedBytes"], 19);
    let resp = reqwest::Client::new()
        .get(format!("{}/api/admin/maintenance/{id}/file", app.http))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "diagnostics of DG1\n");
}
dual!(diagnostics_are_uploaded_to_csms);

/// Rows of the files store: (files, chunks).
async fn stored_files(app: &TestApp) -> (i64, i64) {
    app.db(|c| {
        use csms::infra::db::schema::{file_chunks, files};
        use diesel::prelude::*;
        (
            files::table.count().get_result::<i64>(c).unwrap(),
            file_chunks::table.count().get_result::<i64>(c).unwrap(),
        )
    })
    .await
}

async fn put(url: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A diagnostics job whose charger does not upload by itself: its upload address.
async fn diagnostics_address(app: &TestApp, admin: &str, device: &str) -> (i64, String) {
    let (s, b) = app
        .post(
            &format!("/api/admin/chargers/{device}/diagnostics"),
            Some(admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    (
        b["job"]["id"].as_i64().unwrap(),
        b["job"]["location"].as_str().unwrap().to_string(),
    )
}

/// A diagnostics (or log) upload address takes one upload: a second one, even at the same time,
/// gets 410 and leaves nothing behind; the file the job keeps is the first.
async fn upload_addresses_take_one_upload(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("ONCE1", 1).await;
    sim.set_answer("GetDiagnostics", Some(json!({"fileName": "d.log"})));
    let (id, location) = diagnostics_address(&app, &admin, "ONCE1").await;
    let (s, b) = put(&format!("{location}d.log"), "first upload").await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = put(&format!("{location}d.log"), "second upload, longer").await;
    assert_eq!(s, 410, "{b}");
    assert!(
        b["error"]
            .as_str()
            .unwrap_or_default()
            .contains("already used"),
        "{b}"
    );
    let job = job_status(&app, &admin, "ONCE1", id).await;
    assert_eq!(job["receivedBytes"], 12, "{job}");
    let resp = reqwest::Client::new()
        .get(format!("{}/api/admin/maintenance/{id}/file", app.http))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "first upload");
    assert_eq!(
        stored_files(&app).await,
        (1, 1),
        "the refused upload is gone"
    );

    // Two at once: the database lets one through.
    let (_, location) = diagnostics_address(&app, &admin, "ONCE1").await;
    let big = vec![7u8; 600_000];
    let (url_a, url_b) = (format!("{location}a.log"), format!("{location}b.log"));
    let (a, b) = tokio::join!(put(&url_a, big.clone()), put(&url_b, big.clone()));
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 410], "{a:?} {b:?}");
    // 600,000 bytes: three chunks; the loser's are deleted.
    assert_eq!(stored_files(&app).await, (2, 4));

    // GetLog addresses alike.
    sim.set_answer("GetLog", Some(json!({"status": "Accepted"})));
    let (s, b) = app
        .post(
            "/api/admin/chargers/ONCE1/logs",
            Some(&admin),
            json!({"logType": "SecurityLog"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let location = b["job"]["location"].as_str().unwrap().to_string();
    assert_eq!(put(&format!("{location}s.log"), "log").await.0, 200);
    assert_eq!(put(&format!("{location}s.log"), "log").await.0, 410);

    // Deleting the charger deletes the files its jobs received.
    sim.disconnect().await;
    app.wait_until(|| !app.state.registry.is_online("ONCE1"))
        .await;
    let (s, b) = app
        .request(
            reqwest::Method::DELETE,
            "/api/admin/chargers/ONCE1",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(stored_files(&app).await, (0, 0));
}
dual!(upload_addresses_take_one_upload);

/// An upload address expires CSMS_UPLOAD_TOKEN_TTL_SECS after its request (410).
async fn upload_addresses_expire(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TTL1", 1).await;
    sim.set_answer("GetDiagnostics", Some(json!({"fileName": "d.log"})));
    sim.set_answer("GetLog", Some(json!({"status": "Accepted"})));
    let (_, diagnostics) = diagnostics_address(&app, &admin, "TTL1").await;
    let (_, b) = app
        .post(
            "/api/admin/chargers/TTL1/logs",
            Some(&admin),
            json!({"logType": "DiagnosticsLog"}),
        )
        .await;
    let log = b["job"]["location"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for location in [diagnostics, log] {
        let (s, b) = put(&format!("{location}late.log"), "too late").await;
        assert_eq!(s, 410, "{location}: {b}");
        assert!(
            b["error"].as_str().unwrap_or_default().contains("expired"),
            "{b}"
        );
    }
    assert_eq!(stored_files(&app).await, (0, 0));
}
dual!(upload_addresses_expire, |s| s.upload_token_ttl_secs = 2);

/// Transfers are streamed: an upload is in the database chunk by chunk while it still arrives, a
/// download is sent with its length from those chunks, and an upload past 64 MiB is refused as
/// it passes them, leaving nothing behind.
async fn transfers_are_streamed(app: TestApp) {
    let admin = app.admin().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let rx = tokio_stream::wrappers::ReceiverStream::new(rx);
    let url = format!("{}/api/admin/firmware?name=big.bin&version=9.9", app.http);
    let token = admin.clone();
    let request = tokio::spawn(async move {
        let r = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .body(reqwest::Body::wrap_stream(rx))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    let image: Vec<u8> = (0..(3 * 256 * 1024 + 123))
        .map(|i| (i % 251) as u8)
        .collect();
    tx.send(Ok(image[..600_000].to_vec())).await.unwrap();
    // Two chunks of 256 KiB are stored before the rest of the body has been sent.
    for _ in 0..300 {
        if stored_files(&app).await.1 >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(stored_files(&app).await, (1, 2), "written as it arrives");
    tx.send(Ok(image[600_000..].to_vec())).await.unwrap();
    drop(tx);
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["image"]["size"], image.len());
    let resp = reqwest::get(format!(
        "{}{}",
        app.http,
        b["image"]["path"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.content_length(), Some(image.len() as u64));
    assert_eq!(resp.bytes().await.unwrap().to_vec(), image);
    assert_eq!(stored_files(&app).await, (1, 4));

    // 64 MiB and one byte, sent without a length: refused once it passes the limit.
    let chunks = (0..1025).map(|_| Ok::<_, std::io::Error>(vec![0u8; 64 * 1024]));
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/admin/firmware?name=huge.bin&version=1",
            app.http
        ))
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 413);
    } // (or the server closed the connection while the client was still sending)
    for _ in 0..100 {
        if stored_files(&app).await == (1, 4) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored_files(&app).await,
        (1, 4),
        "nothing left of the refused upload"
    );
}
dual!(transfers_are_streamed);

/// The firmware download address is a secret (its token): the message log shows UpdateFirmware
/// with the token hidden.
async fn firmware_token_is_not_logged(app: TestApp) {
    let admin = app.admin().await;
    let (_, b) = upload(&app, &admin, "fw.bin", "4.0", b"image 4.0").await;
    let path = b["image"]["path"].as_str().unwrap().to_string();
    let token = path.split('/').nth(3).unwrap().to_string();
    assert_eq!(token.len(), 32, "{path}");
    let _sim = app.charger("FWLOG", 1).await;
    let (s, b) = app
        .post(
            "/api/admin/chargers/FWLOG/firmware",
            Some(&admin),
            json!({"imageId": b["image"]["id"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let log = app
        .message_log_with(&admin, "FWLOG", |m| {
            m["action"] == "UpdateFirmware" && m["direction"] == "out"
        })
        .await;
    let text = Value::from(log.clone()).to_string();
    assert!(!text.contains(&token), "the token is not logged: {text}");
    let sent = log
        .iter()
        .find(|m| m["action"] == "UpdateFirmware" && m["direction"] == "out")
        .unwrap();
    assert!(
        sent["frame"][3]["location"]
            .as_str()
            .unwrap()
            .ends_with("/files/firmware/(hidden)/fw.bin"),
        "{sent}"
    );
}
dual!(firmware_token_is_not_logged);

/// The migrations before (`before` true) or from (false) the one that moved files into chunks.
macro_rules! migrate {
    ($conn:expr, $backend:ty, $dir:expr, $before:expr) => {{
        use diesel::migration::{Migration, MigrationSource};
        use diesel_migrations::FileBasedMigrations;
        let source =
            FileBasedMigrations::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir)).unwrap();
        let mut all = MigrationSource::<$backend>::migrations(&source).unwrap();
        all.sort_by_key(|m| m.name().to_string());
        for m in all {
            if (m.name().to_string().as_str() < "2026-12-06-000022") == $before {
                m.run(&mut $conn).unwrap();
            }
        }
    }};
}

/// Reverts the migration that moved files into chunks.
macro_rules! revert_chunks {
    ($conn:expr, $backend:ty, $dir:expr) => {{
        use diesel::migration::{Migration, MigrationSource};
        use diesel_migrations::FileBasedMigrations;
        let source =
            FileBasedMigrations::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir)).unwrap();
        for m in MigrationSource::<$backend>::migrations(&source).unwrap() {
            if m.name().to_string().starts_with("2026-12-06-000022") {
                m.revert(&mut $conn).unwrap();
            }
        }
    }};
}

const LEGACY_IMAGE: &str = "INSERT INTO firmware_images (name, version, token, sha256, size, data, created_at) \
     VALUES ('a.bin', '1', 'tok', 'x', 1, $1, '2026-01-01 00:00:00')";

/// The `data` column of the first image (before chunks, or after the migration is reverted).
macro_rules! legacy_data {
    ($c:expr) => {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Binary>(
            "(SELECT data FROM firmware_images LIMIT 1)",
        ))
        .get_result::<Vec<u8>>($c)
        .unwrap()
    };
}

/// The files stored before chunks (whole, in `data` columns) move into chunks with the migration,
/// byte for byte (and back with its down migration).
async fn legacy_files_move_into_chunks(backend: crate::helpers::Backend) {
    use diesel::prelude::*;
    use diesel::sql_types::Binary;
    let Some((url, _db)) = crate::helpers::fresh_database(backend).await else {
        return;
    };
    let image: Vec<u8> = (0..(2 * 256 * 1024 + 5)).map(|i| (i % 253) as u8).collect();
    let data = image.clone();
    let image_copy = image.clone();
    let chunks: Vec<(i64, bool, Vec<u8>)> = tokio::task::spawn_blocking(move || {
        use csms::infra::db::schema::{file_chunks, files, firmware_images};
        macro_rules! check {
            ($c:expr) => {{
                let file: i64 = firmware_images::table
                    .select(firmware_images::file_id.assume_not_null())
                    .first($c)
                    .unwrap();
                let (size, complete): (i64, bool) = files::table
                    .find(file)
                    .select((files::size, files::complete))
                    .first($c)
                    .unwrap();
                file_chunks::table
                    .filter(file_chunks::file_id.eq(file))
                    .order(file_chunks::seq)
                    .select(file_chunks::data)
                    .load::<Vec<u8>>($c)
                    .unwrap()
                    .into_iter()
                    .map(|d| (size, complete, d))
                    .collect()
            }};
        }
        match backend {
            crate::helpers::Backend::Sqlite => {
                let mut c =
                    diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))
                        .unwrap();
                migrate!(c, diesel::sqlite::Sqlite, "migrations/sqlite", true);
                diesel::sql_query(LEGACY_IMAGE.replace('$', "?"))
                    .bind::<Binary, _>(data)
                    .execute(&mut c)
                    .unwrap();
                migrate!(c, diesel::sqlite::Sqlite, "migrations/sqlite", false);
                let chunks = check!(&mut c);
                revert_chunks!(c, diesel::sqlite::Sqlite, "migrations/sqlite");
                assert_eq!(legacy_data!(&mut c), image_copy, "down restores the file");
                chunks
            }
            crate::helpers::Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&url).unwrap();
                migrate!(c, diesel::pg::Pg, "migrations/postgres", true);
                diesel::sql_query(LEGACY_IMAGE)
                    .bind::<Binary, _>(data)
                    .execute(&mut c)
                    .unwrap();
                migrate!(c, diesel::pg::Pg, "migrations/postgres", false);
                let chunks = check!(&mut c);
                revert_chunks!(c, diesel::pg::Pg, "migrations/postgres");
                assert_eq!(legacy_data!(&mut c), image_copy, "down restores the file");
                chunks
            }
        }
    })
    .await
    .unwrap();
    assert!(
        chunks
            .iter()
            .all(|(size, complete, _)| *size == image.len() as i64 && *complete)
    );
    assert_eq!(
        chunks.iter().map(|(_, _, d)| d.len()).collect::<Vec<_>>(),
        vec![262_144, 262_144, 5]
    );
    let joined: Vec<u8> = chunks.into_iter().flat_map(|(_, _, d)| d).collect();
    assert_eq!(joined, image);
}

mod legacy_files_move_into_chunks {
    #[tokio::test]
    async fn sqlite() {
        super::legacy_files_move_into_chunks(crate::helpers::Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        super::legacy_files_move_into_chunks(crate::helpers::Backend::Postgres).await
    }
}
