//! Firmware Management (5 cases): UpdateFirmware and GetDiagnostics are sent as the schemas say,
//! and every status notification of the sequence is answered.

use serde_json::json;

use crate::helpers::TestApp;
use crate::{answered, call, cmd, dual, eventually, minutes_ago, sent};

async fn tc_044_1_firmware_update_download_and_install(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0441", 1).await;
    // An image csms hosts.
    let image = reqwest::Client::new()
        .post(format!(
            "{}/api/admin/firmware?name=fw.bin&version=9.9",
            app.http
        ))
        .bearer_auth(&admin)
        .body("firmware")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let location = format!("{}{}", app.http, image["image"]["path"].as_str().unwrap());
    let body = json!({"location": location, "retrieveDate": minutes_ago(0), "retries": 1, "retryInterval": 30});
    let r = cmd(&app, &admin, "TC0441", "UpdateFirmware", body.clone()).await;
    assert_eq!(r, json!({}));
    assert_eq!(sent(&sim, "UpdateFirmware"), vec![body]);
    for status in ["Downloading", "Downloaded", "Installing", "Installed"] {
        eventually(status, || async {
            answered(
                &app,
                &admin,
                "TC0441",
                "FirmwareStatusNotification",
                "status",
                status,
            )
            .await
        })
        .await;
    }
    // The charger rebooted into the new firmware in between.
    eventually("booted again", || async {
        crate::log(&app, &admin, "TC0441")
            .await
            .iter()
            .filter(|(d, a, _)| d == "in" && a == "BootNotification")
            .count()
            == 2
    })
    .await;
}
dual!(tc_044_1_firmware_update_download_and_install);

async fn firmware_failure(app: TestApp, device: &str, steps: &[&str]) {
    let admin = app.admin().await;
    let sim = app.charger(device, 1).await;
    sim.set_answer("UpdateFirmware", Some(json!({})));
    let r = cmd(
        &app,
        &admin,
        device,
        "UpdateFirmware",
        json!({"location": "http://127.0.0.1/firmware.bin", "retrieveDate": minutes_ago(0)}),
    )
    .await;
    assert_eq!(r, json!({}));
    for status in steps {
        let a = call(
            &sim,
            "FirmwareStatusNotification",
            json!({"status": status}),
        )
        .await;
        assert_eq!(a, json!({}));
    }
}

async fn tc_044_2_firmware_update_download_failed(app: TestApp) {
    firmware_failure(app, "TC0442", &["Downloading", "DownloadFailed"]).await;
}
dual!(tc_044_2_firmware_update_download_failed);

async fn tc_044_3_firmware_update_installation_failed(app: TestApp) {
    firmware_failure(
        app,
        "TC0443",
        &[
            "Downloading",
            "Downloaded",
            "Installing",
            "InstallationFailed",
        ],
    )
    .await;
}
dual!(tc_044_3_firmware_update_installation_failed);

async fn tc_045_1_get_diagnostics(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0451", 1).await;
    // Through the operator API: the charger uploads to csms itself.
    let (s, job) = app
        .post(
            "/api/admin/chargers/TC0451/diagnostics",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    assert_eq!(job["job"]["fileName"], "diagnostics-TC0451.log");
    let got = sent(&sim, "GetDiagnostics");
    assert_eq!(got, vec![json!({"location": job["job"]["location"]})]);
    for status in ["Uploading", "Uploaded"] {
        eventually(status, || async {
            answered(
                &app,
                &admin,
                "TC0451",
                "DiagnosticsStatusNotification",
                "status",
                status,
            )
            .await
        })
        .await;
    }
}
dual!(tc_045_1_get_diagnostics);

async fn tc_045_2_get_diagnostics_upload_failed(app: TestApp) {
    let admin = app.admin().await;
    let sim = app.charger("TC0452", 1).await;
    sim.set_answer("GetDiagnostics", Some(json!({"fileName": "diag.log"})));
    let r = cmd(
        &app,
        &admin,
        "TC0452",
        "GetDiagnostics",
        json!({"location": "http://127.0.0.1/diagnostics/"}),
    )
    .await;
    assert_eq!(r["fileName"], "diag.log");
    for status in ["Uploading", "UploadFailed"] {
        let a = call(
            &sim,
            "DiagnosticsStatusNotification",
            json!({"status": status}),
        )
        .await;
        assert_eq!(a, json!({}));
    }
}
dual!(tc_045_2_get_diagnostics_upload_failed);
