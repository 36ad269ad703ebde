//! Firmware Management (5 cases): UpdateFirmware and GetDiagnostics are sent as the schemas say,
//! and every status notification of the sequence is answered.

use serde_json::json;

use crate::{Ctx, call, case, eventually, minutes_ago, sent};

pub async fn tc_044_1_firmware_update_download_and_install(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    // An image csms hosts.
    let image = reqwest::Client::new()
        .post(format!(
            "{}/api/admin/firmware?name=fw.bin&version=9.9",
            ctx.app.http
        ))
        .bearer_auth(&ctx.admin)
        .body("firmware")
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let location = format!(
        "{}{}",
        ctx.app.http,
        image["image"]["path"].as_str().unwrap()
    );
    let body = json!({"location": location, "retrieveDate": minutes_ago(0), "retries": 1, "retryInterval": 30});
    let r = ctx.cmd("UpdateFirmware", body.clone()).await;
    assert_eq!(r, json!({}));
    assert_eq!(sent(&sim, "UpdateFirmware"), vec![body]);
    for status in ["Downloading", "Downloaded", "Installing", "Installed"] {
        eventually(status, || async {
            ctx.answered("FirmwareStatusNotification", "status", status)
                .await
        })
        .await;
    }
    // The charger rebooted into the new firmware in between.
    eventually("booted again", || async {
        ctx.received_from_charger("BootNotification").await == 2
    })
    .await;
}
case!(tc_044_1_firmware_update_download_and_install, "TC_044_1");

async fn firmware_failure(ctx: Ctx, steps: &[&str]) {
    let sim = ctx.charger(1).await;
    sim.set_answer("UpdateFirmware", Some(json!({})));
    let r = ctx
        .cmd(
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

pub async fn tc_044_2_firmware_update_download_failed(ctx: Ctx) {
    firmware_failure(ctx, &["Downloading", "DownloadFailed"]).await;
}
case!(tc_044_2_firmware_update_download_failed, "TC_044_2");

pub async fn tc_044_3_firmware_update_installation_failed(ctx: Ctx) {
    firmware_failure(
        ctx,
        &[
            "Downloading",
            "Downloaded",
            "Installing",
            "InstallationFailed",
        ],
    )
    .await;
}
case!(tc_044_3_firmware_update_installation_failed, "TC_044_3");

pub async fn tc_045_1_get_diagnostics(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    // Through the operator API: the charger uploads to csms itself.
    let (s, job) = ctx
        .app
        .post(
            &format!("/api/admin/chargers/{}/diagnostics", ctx.device()),
            Some(&ctx.admin),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{job}");
    assert_eq!(
        job["job"]["fileName"],
        format!("diagnostics-{}.log", ctx.device())
    );
    let got = sent(&sim, "GetDiagnostics");
    assert_eq!(got, vec![json!({"location": job["job"]["location"]})]);
    for status in ["Uploading", "Uploaded"] {
        eventually(status, || async {
            ctx.answered("DiagnosticsStatusNotification", "status", status)
                .await
        })
        .await;
    }
}
case!(tc_045_1_get_diagnostics, "TC_045_1");

pub async fn tc_045_2_get_diagnostics_upload_failed(ctx: Ctx) {
    let sim = ctx.charger(1).await;
    sim.set_answer("GetDiagnostics", Some(json!({"fileName": "diag.log"})));
    let r = ctx
        .cmd(
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
case!(tc_045_2_get_diagnostics_upload_failed, "TC_045_2");
