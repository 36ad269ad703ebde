//! Block N, customer information: the operator's CustomerInformation reaches the station as
//! given (whatever it answers, the operator sees it), and the station's NotifyCustomerInformation
//! is answered `{}`, with or without data, for requestIds csms did or did not issue. csms keeps
//! each request with the station's answer and its report
//! (`GET /api/admin/chargers/{id}/customer-information`).

use super::*;

/// The customer the cases ask about: TAG-001 (ISO14443).
fn tag_001() -> Value {
    json!({"idToken": token("TAG-001", "ISO14443")})
}

/// The operator's CustomerInformation (`requestId`, `report`, `clear`, and the customer as
/// `customer`), relayed as given and answered `answer`.
async fn customer_information(
    c: &C201<'_>,
    st: &mut Station,
    request_id: i64,
    (report, clear): (bool, bool),
    customer: Value,
    answer: &str,
) {
    let mut body = json!({"requestId": request_id, "report": report, "clear": clear});
    if let (Value::Object(b), Value::Object(customer)) = (&mut body, customer) {
        b.extend(customer);
    }
    let request = c.command("CustomerInformation", body.clone());
    let b = relayed(
        st,
        request,
        "CustomerInformation",
        body,
        json!({ "status": answer }),
    )
    .await;
    assert_eq!(b["success"], true, "{b}");
    let kept = kept(c, request_id).await;
    assert_eq!(kept["status"], answer, "{kept}");
    assert_eq!(
        (kept["report"] == report, kept["clear"] == clear),
        (true, true)
    );
}

/// What csms keeps of request `request_id` of the case's station.
async fn kept(c: &C201<'_>, request_id: i64) -> Value {
    let path = format!("/api/admin/chargers/{}/customer-information", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    b["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["requestId"] == request_id)
        .cloned()
        .unwrap_or_else(|| panic!("request {request_id} not kept: {b}"))
}

/// The station's NotifyCustomerInformation for `request_id` carrying `data`: answered `{}`, and
/// kept as the request's whole report.
async fn notify_customer(c: &C201<'_>, st: &mut Station, request_id: i64, data: &str) {
    let p = json!({"data": data, "seqNo": 0, "tbc": false, "requestId": request_id,
        "generatedAt": now_micros()});
    assert_eq!(st.call("NotifyCustomerInformation", p).await, Ok(json!({})));
    let kept = kept(c, request_id).await;
    assert_eq!(kept["data"], data, "{kept}");
    assert_eq!(kept["complete"], true, "{kept}");
}

/// What the station holds on TAG-001, as the tool writes it.
const DATA: &str = "idToken TAG-001 (ISO14443): 3 transactions, last 2026-12-07";

pub async fn tc_n_27(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 27, (true, false), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 27, DATA).await;
}

pub async fn tc_n_28(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 28, (true, false), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 28, "").await;
}

pub async fn tc_n_29(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 29, (true, false), tag_001(), "Rejected").await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

pub async fn tc_n_30(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 30, (true, true), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 30, DATA).await;
}

pub async fn tc_n_31(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 31, (true, true), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 31, "").await;
}

/// Clear without report: the station still notifies (that it cleared).
pub async fn tc_n_32(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 32, (false, true), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 32, "Cleared").await;
}

/// Clear and report TAG-001, then the operator removes it from the station's local list.
pub async fn tc_n_46(c: &C201<'_>) {
    let mut st = c.booted().await;
    customer_information(c, &mut st, 46, (true, true), tag_001(), "Accepted").await;
    notify_customer(c, &mut st, 46, DATA).await;
    let body = json!({"versionNumber": 2, "updateType": "Differential",
        "localAuthorizationList": [tag_001()]});
    let request = c.command("SendLocalList", body.clone());
    relayed(
        &mut st,
        request,
        "SendLocalList",
        body,
        json!({"status": "Accepted"}),
    )
    .await;
}

pub async fn tc_n_62(c: &C201<'_>) {
    let mut st = c.booted().await;
    let customer = json!({"customerIdentifier": "OpenChargeAlliance"});
    customer_information(c, &mut st, 62, (true, true), customer, "Accepted").await;
    notify_customer(c, &mut st, 62, DATA).await;
}

/// The customer named by a certificate's hash data (placeholder hashes, kept as given).
pub async fn tc_n_63(c: &C201<'_>) {
    let mut st = c.booted().await;
    let customer = json!({"customerCertificate": {"hashAlgorithm": "SHA256",
        "issuerNameHash": "b4e2f4ae2ff2f9b4f1d5e5b0a4c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4",
        "issuerKeyHash": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2",
        "serialNumber": "1f2e3d4c"}});
    customer_information(c, &mut st, 63, (true, true), customer, "Accepted").await;
    notify_customer(c, &mut st, 63, DATA).await;
}
