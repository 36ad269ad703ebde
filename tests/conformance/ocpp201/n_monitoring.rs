//! Block N, monitoring, logs and events: the operator's GetMonitoringReport, SetMonitoringBase,
//! SetMonitoringLevel, SetVariableMonitoring and ClearVariableMonitoring reach the station as given
//! (whatever it answers, the operator sees it); a ClearVariableMonitoring with more ids than the
//! station takes (MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring], learnt from its
//! GetVariables answer) goes out in parts. The station's NotifyMonitoringReport and NotifyEvent
//! (alerts, periodic events) are answered `{}`; its events are kept
//! (`GET /api/admin/chargers/{id}/station-events`). The operator's GetLog is a job
//! (`GET /api/admin/chargers/{id}/security-jobs`, kind the logType, the operator's requestId) that
//! takes the station's answer when it is not Accepted and every LogStatusNotification.

use super::k_smart_charging::relay_as_given;
use super::*;

/// A component/variable pair; `evse` Some: the component on that EVSE.
fn component_variable(component: &str, evse: Option<i64>, variable: &str) -> Value {
    let mut c = json!({"name": component});
    if let Some(e) = evse {
        c["evse"] = json!({"id": e});
    }
    json!({"component": c, "variable": {"name": variable}})
}

fn evse_availability() -> Value {
    component_variable("EVSE", Some(1), "AvailabilityState")
}

fn station_power() -> Value {
    component_variable("ChargingStation", None, "Power")
}

/// The operator's `action` with `body`, answered `{status: answer}`.
async fn status_answered(c: &C201<'_>, st: &mut Station, action: &str, body: Value, answer: &str) {
    let b = relay_as_given(c, st, action, body, json!({ "status": answer })).await;
    assert_eq!(b["response"]["status"], answer, "{b}");
}

/// The station's NotifyMonitoringReport for `request_id` (part `seq_no`, more to come when
/// `tbc`): a Delta monitor on EVSE 1's AvailabilityState. Answered `{}`.
async fn monitoring_report(st: &mut Station, request_id: i64, seq_no: i64, tbc: bool) {
    let mut monitor = evse_availability();
    monitor["variableMonitoring"] = json!([{"id": 1, "transaction": false, "value": 1.0,
        "type": "Delta", "severity": 8}]);
    let p = json!({"requestId": request_id, "seqNo": seq_no, "tbc": tbc,
        "generatedAt": now_micros(), "monitor": [monitor]});
    assert_eq!(st.call("NotifyMonitoringReport", p).await, Ok(json!({})));
}

/// Two GetMonitoringReports: the first (`criteria`, `variables`) answered EmptyResultSet, the
/// second Accepted and reported.
async fn monitoring_reports(
    c: &C201<'_>,
    request_id: i64,
    empty: (Option<&str>, Vec<Value>),
    accepted: (Option<&str>, Vec<Value>),
) {
    let mut st = c.booted().await;
    for ((criteria, variables), answer) in [(empty, "EmptyResultSet"), (accepted, "Accepted")] {
        let mut body = json!({ "requestId": request_id });
        if let Some(criteria) = criteria {
            body["monitoringCriteria"] = json!([criteria]);
        }
        if !variables.is_empty() {
            body["componentVariable"] = json!(variables);
        }
        status_answered(c, &mut st, "GetMonitoringReport", body, answer).await;
    }
    monitoring_report(&mut st, request_id, 0, false).await;
}

pub async fn tc_n_01(c: &C201<'_>) {
    let empty = (Some("DeltaMonitoring"), vec![]);
    let accepted = (Some("ThresholdMonitoring"), vec![]);
    monitoring_reports(c, 101, empty, accepted).await;
}

pub async fn tc_n_02(c: &C201<'_>) {
    let empty = (None, vec![station_power()]);
    let accepted = (None, vec![evse_availability()]);
    monitoring_reports(c, 102, empty, accepted).await;
}

pub async fn tc_n_03(c: &C201<'_>) {
    let empty = (Some("DeltaMonitoring"), vec![evse_availability()]);
    let accepted = (Some("ThresholdMonitoring"), vec![station_power()]);
    monitoring_reports(c, 103, empty, accepted).await;
}

pub async fn tc_n_05(c: &C201<'_>) {
    let mut st = c.booted().await;
    for base in ["All", "FactoryDefault", "HardWiredOnly"] {
        let body = json!({ "monitoringBase": base });
        status_answered(c, &mut st, "SetMonitoringBase", body, "Accepted").await;
    }
}

/// A Delta monitor of value 1, severity 8, on `on`'s variable.
fn delta_monitor(on: Value) -> Value {
    let mut m = on;
    m["value"] = json!(1);
    m["type"] = json!("Delta");
    m["severity"] = json!(8);
    m
}

/// SetVariableMonitoring of `monitors`, each accepted (ids from 1).
async fn set_monitoring(c: &C201<'_>, monitors: Vec<Value>) {
    let mut st = c.booted().await;
    let results: Vec<Value> = monitors
        .iter()
        .zip(1..)
        .map(|(m, id)| {
            json!({"id": id, "status": "Accepted", "type": m["type"], "severity": m["severity"],
                "component": m["component"], "variable": m["variable"]})
        })
        .collect();
    let body = json!({ "setMonitoringData": monitors });
    let answer = json!({ "setMonitoringResult": results });
    relay_as_given(c, &mut st, "SetVariableMonitoring", body, answer).await;
}

pub async fn tc_n_08(c: &C201<'_>) {
    set_monitoring(c, vec![delta_monitor(evse_availability())]).await;
}

pub async fn tc_n_09(c: &C201<'_>) {
    let station = component_variable("ChargingStation", None, "AvailabilityState");
    set_monitoring(
        c,
        vec![delta_monitor(evse_availability()), delta_monitor(station)],
    )
    .await;
}

async fn monitoring_level(c: &C201<'_>, answer: &str) {
    let mut st = c.booted().await;
    let body = json!({ "severity": 4 });
    status_answered(c, &mut st, "SetMonitoringLevel", body, answer).await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

pub async fn tc_n_16(c: &C201<'_>) {
    monitoring_level(c, "Accepted").await;
}

pub async fn tc_n_17(c: &C201<'_>) {
    monitoring_level(c, "Rejected").await;
}

/// The station takes 3 ids per ClearVariableMonitoring (it says so to GetVariables): the
/// operator's 5 ids go out as [1, 2, 3] and [4, 5], and the answer holds all 5 results.
pub async fn tc_n_18(c: &C201<'_>) {
    let mut st = c.booted().await;
    let item = json!({"attributeType": "Actual", "component": {"name": "MonitoringCtrlr"},
        "variable": {"name": "ItemsPerMessage", "instance": "ClearVariableMonitoring"}});
    let body = json!({ "getVariableData": [item] });
    let answer = json!({"getVariableResult": [{"attributeStatus": "Accepted",
        "attributeType": "Actual", "attributeValue": "3",
        "component": item["component"], "variable": item["variable"]}]});
    relay_as_given(c, &mut st, "GetVariables", body, answer).await;

    let request = c.command("ClearVariableMonitoring", json!({"id": [1, 2, 3, 4, 5]}));
    for expected in [json!([1, 2, 3]), json!([4, 5])] {
        let f = st.frame().await;
        assert_eq!(f[2], "ClearVariableMonitoring", "{f}");
        assert_eq!(f[3]["id"], expected, "{f}");
        let results: Vec<Value> = f[3]["id"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| json!({"status": "Accepted", "id": id}))
            .collect();
        st.send(json!([3, f[1], {"clearMonitoringResult": results}]))
            .await;
    }
    let (s, b) = request.await.unwrap();
    assert_eq!(s, 200, "{b}");
    let ids: Vec<Value> = b["response"]["clearMonitoringResult"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5].map(|i| json!(i)), "{b}");
}

/// The station's NotifyEvent on EVSE 1's AvailabilityState (`trigger`, `kind` of notification,
/// `actual` value, `cleared` when given), event `id`: answered `{}`, and the newest event in the
/// station's event history.
async fn event(
    c: &C201<'_>,
    st: &mut Station,
    id: i64,
    (trigger, kind): (&str, &str),
    actual: &str,
    cleared: bool,
) {
    let mut e = evse_availability();
    let fields = json!({"eventId": id, "timestamp": now_micros(), "trigger": trigger,
        "actualValue": actual, "eventNotificationType": kind});
    if let (Value::Object(e), Value::Object(f)) = (&mut e, fields) {
        e.extend(f);
    }
    if cleared {
        e["cleared"] = json!(true);
    }
    let p = json!({"generatedAt": now_micros(), "seqNo": 0, "tbc": false, "eventData": [e]});
    assert_eq!(st.call("NotifyEvent", p).await, Ok(json!({})));
    let path = format!("/api/admin/chargers/{}/station-events?limit=1", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    let newest = &b["events"][0];
    assert_eq!(
        (
            &newest["eventId"],
            &newest["trigger"],
            &newest["eventNotificationType"]
        ),
        (&json!(id), &json!(trigger), &json!(kind)),
        "{b}"
    );
    assert_eq!(newest["actualValue"], actual, "{b}");
    assert_eq!(newest["cleared"], cleared, "{b}");
    assert_eq!(newest["evseId"], 1, "{b}");
}

pub async fn tc_n_21(c: &C201<'_>) {
    let mut st = c.booted().await;
    let kind = ("Alerting", "HardWiredMonitor");
    event(c, &mut st, 21, kind, "Unavailable", false).await;
}

pub async fn tc_n_24(c: &C201<'_>) {
    let mut st = c.booted().await;
    for id in 241..244 {
        event(
            c,
            &mut st,
            id,
            ("Periodic", "CustomMonitor"),
            "Available",
            false,
        )
        .await;
    }
}

pub async fn tc_n_48(c: &C201<'_>) {
    let mut st = c.booted().await;
    event(c, &mut st, 48, ("Alerting", "CustomMonitor"), "", false).await;
}

pub async fn tc_n_49(c: &C201<'_>) {
    let mut st = c.booted().await;
    event(
        c,
        &mut st,
        49,
        ("Alerting", "CustomMonitor"),
        "Available",
        true,
    )
    .await;
}

pub async fn tc_n_50(c: &C201<'_>) {
    let mut st = c.booted().await;
    let kind = ("Periodic", "PreconfiguredMonitor");
    event(c, &mut st, 50, kind, "Available", false).await;
}

/// The operator's GetLog of `kind` for `request`, answered `answer`.
async fn get_log(c: &C201<'_>, st: &mut Station, kind: &str, request: i64, answer: &str) {
    let body = json!({"logType": kind, "requestId": request,
        "log": {"remoteLocation": format!("ftp://logs.example.com/{request}/")}});
    let mut reply = json!({ "status": answer });
    if answer != "Rejected" {
        reply["filename"] = json!(format!("{kind}-{request}.log"));
    }
    let b = relay_as_given(c, st, "GetLog", body, reply).await;
    assert_eq!(b["response"]["status"], answer, "{b}");
}

/// The station reports `statuses` of log upload `request`.
async fn log_statuses(st: &mut Station, request: i64, statuses: &[&str]) {
    for s in statuses {
        let p = json!({"status": s, "requestId": request});
        let a = st.call("LogStatusNotification", p).await;
        assert_eq!(a, Ok(json!({})), "LogStatusNotification {s}");
    }
}

/// csms's job of `kind` for `request` went through `statuses` (in that order) and ends at the
/// last.
async fn log_job_went(c: &C201<'_>, kind: &str, request: i64, statuses: &[&str]) {
    let path = format!("/api/admin/chargers/{}/security-jobs", c.device);
    let (s, b) = c.app.get(&path, Some(&c.admin)).await;
    assert_eq!(s, 200, "{b}");
    let job = b["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|j| j["kind"] == kind && j["requestId"] == request)
        .unwrap_or_else(|| panic!("no {kind} job for request {request}: {b}"));
    let history: Vec<&str> = job["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h[0].as_str())
        .collect();
    assert_eq!(job["status"].as_str(), statuses.last().copied(), "{job}");
    let mut rest = history.iter();
    for s in statuses {
        assert!(rest.any(|h| h == s), "{s} in order in {history:?}");
    }
}

/// A log of `kind` uploaded: Uploading, Uploaded.
async fn log_uploaded(c: &C201<'_>, kind: &str, request: i64) {
    let mut st = c.booted().await;
    get_log(c, &mut st, kind, request, "Accepted").await;
    log_statuses(&mut st, request, &["Uploading", "Uploaded"]).await;
    log_job_went(c, kind, request, &["Uploading", "Uploaded"]).await;
}

pub async fn tc_n_25(c: &C201<'_>) {
    log_uploaded(c, "DiagnosticsLog", 2501).await;
}

pub async fn tc_n_34(c: &C201<'_>) {
    let mut st = c.booted().await;
    get_log(c, &mut st, "DiagnosticsLog", 3401, "Rejected").await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
    log_job_went(c, "DiagnosticsLog", 3401, &["Rejected"]).await;
}

pub async fn tc_n_35(c: &C201<'_>) {
    log_uploaded(c, "SecurityLog", 3501).await;
}

/// A second GetLog while the first uploads: the station cancels the first and uploads the
/// second.
pub async fn tc_n_36(c: &C201<'_>) {
    let (first, second) = (3601, 3602);
    let mut st = c.booted().await;
    get_log(c, &mut st, "DiagnosticsLog", first, "Accepted").await;
    log_statuses(&mut st, first, &["Uploading"]).await;
    get_log(c, &mut st, "DiagnosticsLog", second, "AcceptedCanceled").await;
    log_statuses(&mut st, first, &["AcceptedCanceled"]).await;
    log_statuses(&mut st, second, &["Uploading", "Uploaded"]).await;
    let kind = "DiagnosticsLog";
    log_job_went(c, kind, first, &["Uploading", "AcceptedCanceled"]).await;
    log_job_went(
        c,
        kind,
        second,
        &["AcceptedCanceled", "Uploading", "Uploaded"],
    )
    .await;
}

pub async fn tc_n_44(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"id": [1]});
    let answer = json!({"clearMonitoringResult": [{"status": "Rejected", "id": 1}]});
    relay_as_given(c, &mut st, "ClearVariableMonitoring", body, answer).await;
    assert!(st.call("Heartbeat", json!({})).await.is_ok());
}

/// Everything: the report comes in two parts.
pub async fn tc_n_47(c: &C201<'_>) {
    let mut st = c.booted().await;
    let body = json!({"requestId": 147});
    status_answered(c, &mut st, "GetMonitoringReport", body, "Accepted").await;
    monitoring_report(&mut st, 147, 0, true).await;
    monitoring_report(&mut st, 147, 1, false).await;
}

pub async fn tc_n_60(c: &C201<'_>) {
    let both = || {
        vec![
            component_variable("ChargingStation", None, "AvailabilityState"),
            evse_availability(),
        ]
    };
    let empty = (Some("DeltaMonitoring"), both());
    let accepted = (Some("ThresholdMonitoring"), both());
    monitoring_reports(c, 160, empty, accepted).await;
}
