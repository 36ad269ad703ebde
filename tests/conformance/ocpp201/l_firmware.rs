//! L Firmware Management: the operator's UpdateFirmware, PublishFirmware and UnpublishFirmware,
//! relayed as given (placeholder signing certificate and signature kept); csms keeps each update
//! as a job (`GET /api/admin/chargers/{id}/security-jobs`, kind SignedFirmware, the operator's
//! requestId) that takes the station's answer when it is not Accepted and every
//! FirmwareStatusNotification. A publication's PublishFirmwareStatusNotifications are answered and
//! logged.

use super::k_smart_charging::{relay_as_given, reported as report_logged};
use super::*;

/// The compliance tool's placeholder signing certificate and signature: not parseable, forwarded
/// as given.
const SIGNING_CERTIFICATE: &str = "MIICaTCCAdKgAwIBAgIUXzo...placeholder-signing-certificate";
const SIGNATURE: &str = "c2lnbmF0dXJlLXBsYWNlaG9sZGVy...";

fn at(offset_secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset_secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// UpdateFirmware `request`: retrieved `retrieve_in` seconds from now, installed `install_in`
/// from now when given.
fn update(request: i64, retrieve_in: i64, install_in: Option<i64>) -> Value {
    let mut firmware = json!({"location": format!("https://firmware.example.com/fw-{request}.bin"),
        "retrieveDateTime": at(retrieve_in), "signingCertificate": SIGNING_CERTIFICATE,
        "signature": SIGNATURE});
    if let Some(i) = install_in {
        firmware["installDateTime"] = json!(at(i));
    }
    json!({"requestId": request, "retries": 1, "retryInterval": 30, "firmware": firmware})
}

/// The operator's UpdateFirmware `body`, answered `answer`.
async fn update_firmware(c: &C201<'_>, st: &mut Station, body: Value, answer: &str) {
    let b = relay_as_given(c, st, "UpdateFirmware", body, json!({"status": answer})).await;
    assert_eq!(b["response"]["status"], answer);
}

/// The station reports `statuses` of firmware update `request`.
async fn statuses(st: &mut Station, request: i64, statuses: &[&str]) {
    let action = "FirmwareStatusNotification";
    for s in statuses {
        let p = json!({"status": s, "requestId": request});
        let a = st
            .call(action, p)
            .await
            .unwrap_or_else(|e| panic!("{action} {s}: {e:?}"));
        assert_eq!(a, json!({}), "{action} {s}");
    }
}

/// csms's newest job of `kind` for `request`: its status and the statuses it went through.
async fn job(c: &C201<'_>, kind: &str, request: i64) -> (String, Vec<String>) {
    let path = format!("/api/admin/chargers/{}/security-jobs", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    let job = b["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|j| j["kind"] == kind && j["requestId"] == request)
        .unwrap_or_else(|| panic!("no {kind} job for request {request}: {b}"))
        .clone();
    let history = job["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h[0].as_str().map(str::to_string))
        .collect();
    (
        job["status"].as_str().unwrap_or_default().to_string(),
        history,
    )
}

/// Asserts the job of `kind` for `request` went through `statuses` (in that order) and ends at the
/// last.
async fn job_went(c: &C201<'_>, kind: &str, request: i64, statuses: &[&str]) {
    let (status, history) = job(c, kind, request).await;
    assert_eq!(
        Some(status.as_str()),
        statuses.last().copied(),
        "{history:?}"
    );
    let mut rest = history.iter();
    for s in statuses {
        assert!(rest.any(|h| h == s), "{s} in order in {history:?}");
    }
}

/// The station reboots into the new firmware: Boot reason FirmwareUpdate → Accepted.
async fn firmware_reboot(c: &C201<'_>) -> Station {
    let mut st = c.connect().await;
    let boot = st
        .call("BootNotification", boot_payload("FirmwareUpdate"))
        .await
        .unwrap();
    assert_eq!(boot["status"], "Accepted", "{boot}");
    st
}

/// An update `body` (request `request`) accepted, reported through `before` (up to
/// InstallRebooting), the reboot, and `last`.
async fn installed(c: &C201<'_>, body: Value, request: i64, before: &[&str], last: &str) {
    let mut st = c.booted().await;
    update_firmware(c, &mut st, body, "Accepted").await;
    statuses(&mut st, request, before).await;
    drop(st);
    let mut st = firmware_reboot(c).await;
    statuses(&mut st, request, &[last]).await;
    let mut all = before.to_vec();
    all.push(last);
    job_went(c, "SignedFirmware", request, &all).await;
}

const INSTALL: &[&str] = &[
    "Downloading",
    "Downloaded",
    "SignatureVerified",
    "Installing",
    "InstallRebooting",
];

pub async fn tc_l_01(c: &C201<'_>) {
    installed(c, update(2001, 0, None), 2001, INSTALL, "Installed").await;
}

pub async fn tc_l_02(c: &C201<'_>) {
    let before = [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "InstallScheduled",
        "Installing",
        "InstallRebooting",
    ];
    installed(c, update(2002, 0, Some(120)), 2002, &before, "Installed").await;
}

pub async fn tc_l_03(c: &C201<'_>) {
    let mut before = vec!["DownloadScheduled"];
    before.extend_from_slice(INSTALL);
    installed(c, update(2003, 120, None), 2003, &before, "Installed").await;
}

/// The update answered `answer` (a certificate problem): the job says so.
async fn certificate_refused(c: &C201<'_>, request: i64, answer: &str) -> Station {
    let mut st = c.booted().await;
    update_firmware(c, &mut st, update(request, 0, None), answer).await;
    job_went(c, "SignedFirmware", request, &[answer]).await;
    st
}

/// The station's SecurityEventNotification `kind`: answered, and csms keeps it.
async fn security_event(c: &C201<'_>, st: &mut Station, kind: &str) {
    let tech = format!("{kind} {}", uuid_like());
    let e = json!({"type": kind, "timestamp": now_micros(), "techInfo": tech});
    assert_eq!(
        st.call("SecurityEventNotification", e).await.unwrap(),
        json!({})
    );
    let path = format!("/api/admin/chargers/{}/security-events", c.device);
    let (_, b) = c.app.get(&path, Some(&c.admin)).await;
    let kept = b["events"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["type"] == kind && e["techInfo"] == tech.as_str());
    assert!(kept, "{kind} kept: {b}");
}

pub async fn tc_l_04(c: &C201<'_>) {
    certificate_refused(c, 2004, "RevokedCertificate").await;
}

pub async fn tc_l_05(c: &C201<'_>) {
    let mut st = certificate_refused(c, 2005, "InvalidCertificate").await;
    security_event(c, &mut st, "InvalidFirmwareSigningCertificate").await;
}

/// An accepted update (request `request`) that fails: the station reports `reported`.
async fn failed(c: &C201<'_>, request: i64, reported: &[&str]) -> Station {
    let mut st = c.booted().await;
    update_firmware(c, &mut st, update(request, 0, None), "Accepted").await;
    statuses(&mut st, request, reported).await;
    job_went(c, "SignedFirmware", request, reported).await;
    st
}

pub async fn tc_l_06(c: &C201<'_>) {
    let reported = ["Downloading", "Downloaded", "InvalidSignature"];
    let mut st = failed(c, 2006, &reported).await;
    security_event(c, &mut st, "InvalidFirmwareSignature").await;
}

pub async fn tc_l_07(c: &C201<'_>) {
    failed(c, 2007, &["Downloading", "DownloadFailed"]).await;
}

pub async fn tc_l_08(c: &C201<'_>) {
    let reported = [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "InstallVerificationFailed",
    ];
    failed(c, 2008, &reported).await;
}

pub async fn tc_l_09(c: &C201<'_>) {
    installed(
        c,
        update(2009, 0, None),
        2009,
        INSTALL,
        "InstallationFailed",
    )
    .await;
}

/// A second update (request `second`) while the first (`first`) downloads, answered `answer`;
/// then `going_on` installs.
async fn second_update(c: &C201<'_>, first: i64, second: i64, answer: &str, going_on: i64) {
    let mut st = c.booted().await;
    update_firmware(c, &mut st, update(first, 0, None), "Accepted").await;
    statuses(&mut st, first, &["Downloading"]).await;
    update_firmware(c, &mut st, update(second, 0, None), answer).await;
    statuses(&mut st, going_on, INSTALL).await;
    drop(st);
    let mut st = firmware_reboot(c).await;
    statuses(&mut st, going_on, &["Installed"]).await;
    let mut all = INSTALL.to_vec();
    all.push("Installed");
    job_went(c, "SignedFirmware", going_on, &all).await;
}

pub async fn tc_l_10(c: &C201<'_>) {
    second_update(c, 2010, 2110, "AcceptedCanceled", 2110).await;
    job_went(
        c,
        "SignedFirmware",
        2110,
        &["AcceptedCanceled", "Installed"],
    )
    .await;
}

pub async fn tc_l_11(c: &C201<'_>) {
    second_update(c, 2011, 2111, "Rejected", 2011).await;
    job_went(c, "SignedFirmware", 2111, &["Rejected"]).await;
}

/// During charging (new sessions not allowed while an update is pending): the update waits for
/// the session to end, the connector goes Unavailable, then the install.
pub async fn tc_l_13(c: &C201<'_>) {
    let (mut st, tx) = charging(c).await;
    update_firmware(c, &mut st, update(2013, 0, None), "Accepted").await;
    let waiting = [
        "DownloadScheduled",
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "InstallScheduled",
    ];
    statuses(&mut st, 2013, &waiting).await;
    end_tag_session(&mut st, &tx, 2, "Local").await;
    ended(c, &tx, "Local").await;
    connector_is(&mut st, "Unavailable").await;
    statuses(&mut st, 2013, &["Installing", "InstallRebooting"]).await;
    drop(st);
    let mut st = firmware_reboot(c).await;
    statuses(&mut st, 2013, &["Installed"]).await;
    job_went(
        c,
        "SignedFirmware",
        2013,
        &["InstallScheduled", "Installing", "Installed"],
    )
    .await;
}

/// The operator's PublishFirmware `request`, accepted; the station reports `reported`.
async fn publish(c: &C201<'_>, request: i64, reported: &[&str]) {
    let mut st = c.booted().await;
    let body = json!({"location": format!("https://firmware.example.com/fw-{request}.bin"),
        "checksum": "a3f1c2d4e5b6a7980f1e2d3c4b5a6978", "requestId": request, "retries": 1,
        "retryInterval": 30});
    relay_as_given(
        c,
        &mut st,
        "PublishFirmware",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
    for s in reported {
        let mut p = json!({"status": s, "requestId": request});
        if *s == "Published" {
            p["location"] = json!([format!("http://192.168.1.10/fw-{request}.bin")]);
        }
        report_logged(c, &mut st, "PublishFirmwareStatusNotification", p).await;
    }
}

pub async fn tc_l_17(c: &C201<'_>) {
    let reported = ["Downloading", "Downloaded", "ChecksumVerified", "Published"];
    publish(c, 2017, &reported).await;
}

pub async fn tc_l_19(c: &C201<'_>) {
    publish(c, 2019, &["Downloading", "Downloaded", "InvalidChecksum"]).await;
}

pub async fn tc_l_20(c: &C201<'_>) {
    let reported = [
        "Downloading",
        "Downloaded",
        "ChecksumVerified",
        "PublishFailed",
    ];
    publish(c, 2020, &reported).await;
}

/// UnpublishFirmware with the checksum, answered `answer`.
async fn unpublish(c: &C201<'_>, answer: &str) {
    let mut st = c.booted().await;
    let body = json!({"checksum": "a3f1c2d4e5b6a7980f1e2d3c4b5a6978"});
    let b = relay_as_given(
        c,
        &mut st,
        "UnpublishFirmware",
        body,
        json!({"status": answer}),
    )
    .await;
    assert_eq!(b["response"]["status"], answer);
}

pub async fn tc_l_21(c: &C201<'_>) {
    unpublish(c, "Unpublished").await;
}

pub async fn tc_l_22(c: &C201<'_>) {
    unpublish(c, "NoFirmware").await;
}

pub async fn tc_l_23(c: &C201<'_>) {
    unpublish(c, "DownloadOngoing").await;
}

pub async fn tc_l_24(c: &C201<'_>) {
    publish(c, 2024, &["Downloading", "DownloadFailed"]).await;
}
