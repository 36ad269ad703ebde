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
