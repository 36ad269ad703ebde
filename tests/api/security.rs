//! HTTP-side security: login throttling.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::dual;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

const THROTTLED: &str = "Too many failed login attempts. Try again in ";

/// A request whose response headers matter: (status, headers, body as JSON or string).
async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.http))
        .timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("HTTP request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

async fn login(app: &TestApp, path: &str, email: &str, password: &str) -> (u16, HeaderMap, Value) {
    raw(
        app,
        reqwest::Method::POST,
        path,
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

fn retry_after(headers: &HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After header")
}

/// 30 wrong passwords in a row for one account: 5 are checked (401), the rest are refused with 429 and
/// Retry-After, and while locked even the right password is refused.
async fn login_lockout_per_account(app: TestApp) {
    app.customer("victim@example.com", 0.0).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let (s, headers, body) = login(
            &app,
            "/api/customer/login",
            "victim@example.com",
            "wrong password",
        )
        .await;
        statuses.push(s);
        assert_eq!(body["success"], false);
        if s == 429 {
            let wait = retry_after(&headers);
            assert!((1..=30).contains(&wait), "Retry-After {wait}");
            let unit = if wait == 1 { "second" } else { "seconds" };
            assert_eq!(body["error"], format!("{THROTTLED}{wait} {unit}."));
        } else {
            assert_eq!(body["error"], "Invalid email or password");
        }
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Case does not make another account; the right password does not get through either.
    let (s, headers, body) = login(
        &app,
        "/api/customer/login",
        "Victim@Example.com",
        "password",
    )
    .await;
    assert_eq!(s, 429, "{body}");
    assert!(retry_after(&headers) >= 1);
    // Another account from the same address is not affected (5 failures are within its budget).
    app.customer("bystander@example.com", 0.0).await;
    let (s, _, body) = login(
        &app,
        "/api/customer/login",
        "bystander@example.com",
        "password",
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Operators have their own accounts: the same rules, separately.
    for i in 0..8 {
        let (s, _, _) = login(&app, "/api/admin/login", ADMIN_EMAIL, "wrong").await;
        assert_eq!(s, if i < 5 { 401 } else { 429 }, "attempt {i}");
    }
    let (s, headers, _) = login(&app, "/api/admin/login", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(s, 429);
    assert!(retry_after(&headers) <= 30);
}
dual!(login_lockout_per_account);

/// A success resets the account's count: 4 failures, a success, 4 failures, and a success again.
async fn login_success_resets_the_count(app: TestApp) {
    app.customer("forgetful@example.com", 0.0).await;
    for _ in 0..2 {
        for _ in 0..4 {
            let (s, _, _) =
                login(&app, "/api/customer/login", "forgetful@example.com", "nope").await;
            assert_eq!(s, 401);
        }
        let (s, _, body) = login(
            &app,
            "/api/customer/login",
            "forgetful@example.com",
            "password",
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
}
dual!(login_success_resets_the_count);

/// The per-address budget, with a small limit: failures spread over many accounts from one address
/// (the tests' 127.0.0.1) close it for every account, the right password included.
async fn login_budget_per_address(app: TestApp) {
    app.customer("real@example.com", 0.0).await;
    for i in 0..3 {
        let (s, _, _) = login(
            &app,
            "/api/customer/login",
            &format!("guess{i}@example.com"),
            "x",
        )
        .await;
        assert_eq!(s, 401);
    }
    let (s, headers, body) =
        login(&app, "/api/customer/login", "real@example.com", "password").await;
    assert_eq!(s, 429, "{body}");
    let wait = retry_after(&headers);
    assert!(wait > 500 && wait <= 600, "the window is 600 s: {wait}");
    // It is one budget for the address, operator logins included.
    let (s, _, _) = login(&app, "/api/admin/login", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(s, 429);
}
dual!(login_budget_per_address, |s| s.login_addr_max_failures = 3);
