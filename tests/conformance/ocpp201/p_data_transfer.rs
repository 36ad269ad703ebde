//! Block P, DataTransfer and customData: a station's DataTransfer is answered by csms's vendor
//! handlers (as for 1.6), and customData on any message is accepted without complaint.

use super::*;

/// The station's DataTransfer: its answer (never a CALLERROR).
async fn data_transfer(st: &mut Station, p: Value) -> Value {
    st.call("DataTransfer", p.clone())
        .await
        .unwrap_or_else(|e| panic!("{p}: {e:?}"))
}

/// The tool's own vendorId is unknown to csms: UnknownVendorId. csms's own vendor answers an
/// unknown messageId UnknownMessageId, and echoes any JSON data.
pub async fn tc_p_02(c: &C201<'_>) {
    let mut st = c.booted().await;
    let a = data_transfer(
        &mut st,
        json!({"vendorId": "org.openchargealliance.octt", "messageId": "TestMessage",
            "data": "TestData"}),
    )
    .await;
    assert_eq!(a, json!({"status": "UnknownVendorId"}));
    let a = data_transfer(
        &mut st,
        json!({"vendorId": "org.csms", "messageId": "TestMessage"}),
    )
    .await;
    assert_eq!(a, json!({"status": "UnknownMessageId"}));
    let data = json!({"nested": [1, "two", {"three": 3.5}]});
    let a = data_transfer(
        &mut st,
        json!({"vendorId": "org.csms", "messageId": "Echo", "data": data}),
    )
    .await;
    assert_eq!(a, json!({"status": "Accepted", "data": data}));
}

/// customData (vendorId and the vendor's own fields) on a StatusNotification and on a Started
/// TransactionEvent and its transactionInfo: answered as without it, and the transaction recorded.
pub async fn tc_p_03(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let custom = json!({"vendorId": "org.openchargealliance.octt", "customField": "P03",
        "nested": {"n": 1}});
    let mut s = status(1, "Occupied");
    s["customData"] = custom.clone();
    assert_eq!(st.call("StatusNotification", s).await, Ok(json!({})));
    let tx = uuid_like();
    let e = event(
        "Started",
        &tx,
        0,
        "Authorized",
        json!({"idToken": token("TAG-001", "ISO14443"), "customData": custom,
            "transactionInfo": {"transactionId": tx, "chargingState": "EVConnected",
            "customData": custom}}),
    );
    let a = send_event(&mut st, e).await;
    status_in(&a, &["Accepted"]);
    let (tag, stopped, _) = recorded(c, &tx).await;
    assert_eq!((tag.as_str(), stopped), ("TAG-001", false));
    end_tag_session(&mut st, &tx, 1, "Local").await;
    ended(c, &tx, "Local").await;
    available(&mut st).await;
}
