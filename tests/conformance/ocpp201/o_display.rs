//! Block O, Display messages: the operator's SetDisplayMessage, GetDisplayMessages and
//! ClearDisplayMessage reach the station as given (whatever it answers, the operator sees it),
//! and the station's NotifyDisplayMessages is answered `{}`.

use super::*;

/// A display message `id` at `priority` with `content` (UTF8), and `extra` fields of MessageInfo.
fn message(id: i64, priority: &str, content: &str, extra: Value) -> Value {
    let mut m = json!({"id": id, "priority": priority,
        "message": {"format": "UTF8", "content": content}});
    if let (Value::Object(m), Value::Object(extra)) = (&mut m, extra) {
        for (k, v) in extra {
            m.insert(k, v);
        }
    }
    json!({ "message": m })
}

/// The operator's SetDisplayMessage `body`, relayed as given and answered `answer`.
async fn set_message(c: &C201<'_>, st: &mut Station, body: Value, answer: &str) {
    let request = c.command("SetDisplayMessage", body.clone());
    let b = relayed(
        st,
        request,
        "SetDisplayMessage",
        body,
        json!({ "status": answer }),
    )
    .await;
    assert_eq!(b["action"], "SetDisplayMessage", "{b}");
}

/// The operator's GetDisplayMessages `body`, relayed as given and answered `answer`.
async fn get_messages(c: &C201<'_>, st: &mut Station, body: Value, answer: &str) {
    let request = c.command("GetDisplayMessages", body.clone());
    relayed(
        st,
        request,
        "GetDisplayMessages",
        body,
        json!({ "status": answer }),
    )
    .await;
}

/// The operator's ClearDisplayMessage of `id`, answered `answer`.
async fn clear_message(c: &C201<'_>, st: &mut Station, id: i64, answer: &str) {
    let request = c.command("ClearDisplayMessage", json!({ "id": id }));
    relayed(
        st,
        request,
        "ClearDisplayMessage",
        json!({ "id": id }),
        json!({ "status": answer }),
    )
    .await;
}

/// The station reports its messages for `request_id` (`info`): answered `{}`.
async fn notify_messages(st: &mut Station, request_id: i64, info: Vec<Value>) {
    let mut p = json!({"requestId": request_id, "tbc": false});
    if !info.is_empty() {
        p["messageInfo"] = json!(info);
    }
    let a = st.call("NotifyDisplayMessages", p).await;
    assert_eq!(a, Ok(json!({})));
}

/// An idle message 1, NormalCycle.
fn idle_message(content: &str) -> Value {
    message(1, "NormalCycle", content, json!({"state": "Idle"}))
}

pub async fn tc_o_01(c: &C201<'_>) {
    let mut st = c.booted().await;
    set_message(c, &mut st, idle_message("Welcome"), "Accepted").await;
}

/// All messages: requestId only; the station reports the one it holds.
pub async fn tc_o_02(c: &C201<'_>) {
    let mut st = c.booted().await;
    let set = idle_message("Welcome");
    set_message(c, &mut st, set.clone(), "Accepted").await;
    get_messages(c, &mut st, json!({"requestId": 61}), "Accepted").await;
    notify_messages(&mut st, 61, vec![set["message"].clone()]).await;
}

pub async fn tc_o_03(c: &C201<'_>) {
    let mut st = c.booted().await;
    get_messages(c, &mut st, json!({"requestId": 62}), "Unknown").await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

pub async fn tc_o_04(c: &C201<'_>) {
    let mut st = c.booted().await;
    set_message(c, &mut st, idle_message("Welcome"), "Accepted").await;
    clear_message(c, &mut st, 1, "Accepted").await;
}

pub async fn tc_o_05(c: &C201<'_>) {
    let mut st = c.booted().await;
    clear_message(c, &mut st, 999, "Unknown").await;
}

/// The idToken of the cases' charging sessions, a Central token (csms knows it untyped: the
/// operator API takes no idTokenType yet, and an untyped token matches any type).
const DRIVER: &str = "100000C01";

/// A charging session of 100000C01 (Central): Authorize, Started (Authorized), Charging. The
/// station and the transaction id.
async fn session(c: &C201<'_>) -> (Station, String) {
    let (s, b) = c
        .app
        .post(
            "/api/admin/id-tags",
            Some(&c.admin),
            json!({ "idTag": DRIVER }),
        )
        .await;
    assert!(s == 201 || s == 409, "{s} {b}");
    let mut st = c.booted().await;
    authorize(&mut st, DRIVER, "Central", &["Accepted"]).await;
    let (tx, a) = start_with(&mut st, DRIVER, "Central").await;
    status_in(&a, &["Accepted"]);
    state_change(&mut st, &tx, 1, "ChargingStateChanged", "Charging").await;
    (st, tx)
}

/// A message for the running transaction (`extra` beside it); then the driver unplugs
/// (EVDisconnected) and csms closes the transaction.
async fn transaction_message(c: &C201<'_>, extra: Value) {
    let (mut st, tx) = session(c).await;
    let mut m = message(2, "InFront", "Charging for you", extra);
    m["message"]["transactionId"] = json!(tx);
    set_message(c, &mut st, m, "Accepted").await;
    ev_disconnected(&mut st, &tx, 2).await;
    closed_for(c, &tx, "EVDisconnected").await;
}

pub async fn tc_o_06(c: &C201<'_>) {
    transaction_message(c, json!({})).await;
}

pub async fn tc_o_07(c: &C201<'_>) {
    let mut st = c.booted().await;
    get_messages(c, &mut st, json!({"requestId": 63, "id": [1]}), "Accepted").await;
    notify_messages(
        &mut st,
        63,
        vec![idle_message("Welcome")["message"].clone()],
    )
    .await;
}

pub async fn tc_o_08(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 64, "priority": "NormalCycle"});
    get_messages(c, &mut st, body, "Accepted").await;
    notify_messages(
        &mut st,
        64,
        vec![idle_message("Welcome")["message"].clone()],
    )
    .await;
}

pub async fn tc_o_09(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 65, "state": "Idle"});
    get_messages(c, &mut st, body, "Accepted").await;
    notify_messages(
        &mut st,
        65,
        vec![idle_message("Welcome")["message"].clone()],
    )
    .await;
}

pub async fn tc_o_10(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(
        3,
        "InFront",
        "For someone else",
        json!({"transactionId": "no-such-transaction-o10"}),
    );
    set_message(c, &mut st, m, "UnknownTransaction").await;
}

pub async fn tc_o_11(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 66, "id": [9999]});
    get_messages(c, &mut st, body, "Unknown").await;
}

/// The same id again with new content replaces the message.
pub async fn tc_o_12(c: &C201<'_>) {
    let mut st = c.booted().await;
    set_message(c, &mut st, idle_message("First"), "Accepted").await;
    set_message(c, &mut st, idle_message("Second"), "Accepted").await;
}

pub async fn tc_o_13(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(
        4,
        "NormalCycle",
        "Later",
        json!({"state": "Idle", "startDateTime": "2030-01-01T10:00:00.000000Z"}),
    );
    set_message(c, &mut st, m, "Accepted").await;
}

pub async fn tc_o_14(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(
        5,
        "NormalCycle",
        "Until then",
        json!({"state": "Idle", "endDateTime": "2030-01-01T10:00:00.000000Z"}),
    );
    set_message(c, &mut st, m, "Accepted").await;
}

pub async fn tc_o_17(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(6, "AlwaysFront", "Urgent", json!({"state": "Idle"}));
    set_message(c, &mut st, m, "NotSupportedPriority").await;
}

pub async fn tc_o_18(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(
        7,
        "NormalCycle",
        "Out of order",
        json!({"state": "Faulted"}),
    );
    set_message(c, &mut st, m, "NotSupportedState").await;
}

pub async fn tc_o_19(c: &C201<'_>) {
    let mut st = c.booted().await;
    let mut m = message(
        8,
        "NormalCycle",
        "https://example.com/m",
        json!({"state": "Idle"}),
    );
    m["message"]["message"]["format"] = json!("URI");
    set_message(c, &mut st, m, "NotSupportedMessageFormat").await;
}

pub async fn tc_o_25(c: &C201<'_>) {
    let mut st = c.booted().await;
    let m = message(9, "NormalCycle", "Charging", json!({"state": "Charging"}));
    set_message(c, &mut st, m, "Accepted").await;
}

pub async fn tc_o_26(c: &C201<'_>) {
    let mut st = c.booted().await;
    set_message(c, &mut st, idle_message("Refused"), "Rejected").await;
}

pub async fn tc_o_27(c: &C201<'_>) {
    transaction_message(c, json!({"startDateTime": "2030-01-01T10:00:00.000000Z"})).await;
}

pub async fn tc_o_28(c: &C201<'_>) {
    transaction_message(c, json!({"endDateTime": "2030-01-01T10:00:00.000000Z"})).await;
}
