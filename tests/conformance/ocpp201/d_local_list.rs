//! Block D, Local authorization list management: the operator's SendLocalList and
//! GetLocalListVersion reach the station as given, and the operator sees its answer.

use super::*;

/// An entry of the local list: `id` (Central) with `status`, or without idTokenInfo (a removal).
fn entry(id: &str, status: Option<&str>) -> Value {
    let mut e = json!({"idToken": token(id, "Central")});
    if let Some(status) = status {
        e["idTokenInfo"] = json!({ "status": status });
    }
    e
}

/// The operator's SendLocalList `body`, relayed as given and answered `answer`.
async fn send_local_list(c: &C201<'_>, st: &mut Station, body: Value, answer: &str) {
    let request = c.command("SendLocalList", body.clone());
    relayed(
        st,
        request,
        "SendLocalList",
        body,
        json!({ "status": answer }),
    )
    .await;
}

/// The operator's GetLocalListVersion, answered `version`: the operator reads that version.
async fn local_list_version(c: &C201<'_>, st: &mut Station, version: i64) {
    let request = c.command("GetLocalListVersion", json!({}));
    let b = relayed(
        st,
        request,
        "GetLocalListVersion",
        json!({}),
        json!({ "versionNumber": version }),
    )
    .await;
    assert_eq!(b["response"]["versionNumber"], version, "{b}");
    assert_eq!(b["action"], "GetLocalListVersion", "{b}");
}

/// Full: the station has version 1; the full list (D001001, D001002, each with idTokenInfo) goes
/// out as version 2.
pub async fn tc_d_01(c: &C201<'_>) {
    let mut st = c.booted().await;
    local_list_version(c, &mut st, 1).await;
    let body = json!({"versionNumber": 2, "updateType": "Full", "localAuthorizationList": [
        entry("D001001", Some("Accepted")), entry("D001002", Some("Accepted"))]});
    send_local_list(c, &mut st, body, "Accepted").await;
}

/// Differential: D001001 Accepted, version 3 (after the station's 2).
pub async fn tc_d_02(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"versionNumber": 3, "updateType": "Differential",
        "localAuthorizationList": [entry("D001001", Some("Accepted"))]});
    send_local_list(c, &mut st, body, "Accepted").await;
}

/// Differential removal: D001001 without idTokenInfo.
pub async fn tc_d_03(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"versionNumber": 4, "updateType": "Differential",
        "localAuthorizationList": [entry("D001001", None)]});
    send_local_list(c, &mut st, body, "Accepted").await;
}

/// Full with no list clears the station's list. An empty array is not a list the schema allows
/// (minItems 1): refused before anything is sent (the next command is the first the station sees).
pub async fn tc_d_04(c: &C201<'_>) {
    let mut st = c.booted().await;
    let (s, b) = c
        .command(
            "SendLocalList",
            json!({"versionNumber": 5, "updateType": "Full", "localAuthorizationList": []}),
        )
        .await
        .unwrap();
    assert_eq!(s, 400, "{b}");
    let body = json!({"versionNumber": 5, "updateType": "Full"});
    send_local_list(c, &mut st, body, "Accepted").await;
}

pub async fn tc_d_08(c: &C201<'_>) {
    let mut st = c.booted().await;
    local_list_version(c, &mut st, 1).await;
}

/// No list on the station: version 0.
pub async fn tc_d_09(c: &C201<'_>) {
    let mut st = c.booted().await;
    local_list_version(c, &mut st, 0).await;
}
