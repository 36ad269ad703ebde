//! HTTP-side security: login throttling, the events ticket, security headers, the JWT secret check.

use std::time::Duration;

use csms::infra::config::Settings;
use csms::startup::Application;
use futures_util::StreamExt;
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

async fn register(app: &TestApp, email: &str, password: &str) -> (u16, HeaderMap, Value) {
    raw(
        app,
        reqwest::Method::POST,
        "/api/customer/register",
        None,
        Some(json!({"name": "N", "email": email, "password": password})),
    )
    .await
}

/// Registrations from one address (the tests' 127.0.0.1), with a budget of 3 per hour: invalid input
/// does not spend it, a new account and an email already registered do; the fourth is refused with
/// 429 and Retry-After, creates nothing, and logins are not affected.
async fn registration_budget_per_address(app: TestApp) {
    for bad in ["not-an-email", "x@example.com"] {
        let password = if bad.contains('@') { "123" } else { "password" };
        let (s, _, body) = register(&app, bad, password).await;
        assert_eq!(s, 400, "{body}");
    }
    assert_eq!(register(&app, "r1@example.com", "password").await.0, 201);
    let (s, _, body) = register(&app, "R1@example.com", "password").await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("Email is already registered"))
    );
    assert_eq!(register(&app, "r2@example.com", "password").await.0, 201);
    let (s, headers, body) = register(&app, "r3@example.com", "password").await;
    assert_eq!(s, 429, "{body}");
    let wait = retry_after(&headers);
    assert!(wait > 3500 && wait <= 3600, "the window is an hour: {wait}");
    assert_eq!(
        body["error"],
        format!("Too many registrations from this address. Try again in {wait} seconds.")
    );
    let (s, _, _) = login(&app, "/api/customer/login", "r3@example.com", "password").await;
    assert_eq!(s, 401, "nothing was created");
    let (s, _, body) = login(&app, "/api/customer/login", "r1@example.com", "password").await;
    assert_eq!(s, 200, "{body}");
    let (s, _, _) = login(&app, "/api/admin/login", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(s, 200);
}
dual!(registration_budget_per_address, |s| {
    s.register_addr_max = 3;
    s.register_addr_window_secs = 3600;
});

/// A registration with an email already registered is refused before the password is hashed: with
/// an expensive bcrypt cost it answers in a fraction of the time a new registration takes.
async fn duplicate_email_is_refused_before_hashing(app: TestApp) {
    let hash = csms::domain::auth::hash_password("password".into(), 4)
        .await
        .expect("hash");
    app.db(move |c| csms::domain::customers::create(c, "Old", "old@example.com", &hash).unwrap())
        .await;
    let t = std::time::Instant::now();
    let (s, _, body) = register(&app, "old@example.com", "password").await;
    let duplicate = t.elapsed();
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("Email is already registered"))
    );
    let t = std::time::Instant::now();
    let (s, _, body) = register(&app, "new@example.com", "password").await;
    let fresh = t.elapsed();
    assert_eq!(s, 201, "{body}");
    assert!(
        duplicate * 3 < fresh,
        "duplicate {duplicate:?}, new account {fresh:?}"
    );
}
dual!(duplicate_email_is_refused_before_hashing, |s| s
    .bcrypt_cost =
    14);

/// Reads the event stream until `want` appears (or fails after 10 s).
async fn read_until(resp: reqwest::Response, want: &str) {
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains(want) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(found, "{want:?} not in the stream: {seen:?}");
}

async fn events_ticket(app: TestApp) {
    let c = app.customer("sse@example.com", 0.0).await;
    let admin = app.admin().await;
    let (s, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/user/events/ticket",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["expiresIn"], 60);
    let ticket = body["ticket"].as_str().expect("ticket").to_string();

    // The ticket opens the customer's own stream.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/user/events?ticket={ticket}", app.http))
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let (s, b) = app
        .post(
            &format!("/api/admin/customers/{}/wallet/credit", c.id),
            Some(&admin),
            json!({"amount": 12.5}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    read_until(resp, "event: wallet.credited").await;

    // The Authorization header keeps working for clients that can send it.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/user/events", app.http))
        .bearer_auth(&c.token)
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status().as_u16(), 200);
    drop(resp);

    // The 24-hour API token is no longer accepted in the URL.
    let (s, _, body) = raw(
        &app,
        reqwest::Method::GET,
        &format!("/api/user/events?token={}", c.token),
        None,
        None,
    )
    .await;
    assert_eq!((s, body["success"].as_bool()), (401, Some(false)), "{body}");
    // Nor as a ticket.
    let (s, _, _) = raw(
        &app,
        reqwest::Method::GET,
        &format!("/api/user/events?ticket={}", c.token),
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    // A ticket is useless as an API token, the event stream's header included.
    for (method, path) in [
        (reqwest::Method::GET, "/api/user/profile"),
        (reqwest::Method::GET, "/api/user/wallet"),
        (reqwest::Method::POST, "/api/user/events/ticket"),
        (reqwest::Method::GET, "/api/user/events"),
        (reqwest::Method::GET, "/api/admin/chargers"),
    ] {
        let (s, _, body) = raw(&app, method, path, Some(&ticket), None).await;
        assert_eq!(s, 401, "{path}: {body}");
    }
    // Garbage, no credentials at all, and operators (who have no event stream) are refused.
    let (s, _, _) = raw(
        &app,
        reqwest::Method::GET,
        "/api/user/events?ticket=garbage",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = raw(&app, reqwest::Method::GET, "/api/user/events", None, None).await;
    assert_eq!(s, 401);
    let (s, _, _) = raw(
        &app,
        reqwest::Method::POST,
        "/api/user/events/ticket",
        None,
        None,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = raw(
        &app,
        reqwest::Method::POST,
        "/api/user/events/ticket",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(s, 403);
}
dual!(events_ticket);

/// With a 1-second lifetime, a ticket is refused once it has expired.
async fn events_ticket_expires(app: TestApp) {
    let c = app.customer("late@example.com", 0.0).await;
    let (s, _, body) = raw(
        &app,
        reqwest::Method::POST,
        "/api/user/events/ticket",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!((s, body["expiresIn"].as_u64()), (200, Some(1)), "{body}");
    let ticket = body["ticket"].as_str().expect("ticket").to_string();
    // exp is in whole seconds and checked without leeway: 2.5 s is past it whatever the rounding.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (s, _, body) = raw(
        &app,
        reqwest::Method::GET,
        &format!("/api/user/events?ticket={ticket}"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(body["error"], "Invalid or expired events ticket");
}
dual!(events_ticket_expires, |s| s.sse_ticket_ttl_secs = 1);

fn assert_security_headers(path: &str, headers: &HeaderMap, swagger: bool) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no {name} header"))
            .to_string()
    };
    assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
    assert_eq!(get("x-frame-options"), "DENY", "{path}");
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{path}: {directive} not in {csp}");
    }
    assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
    if swagger {
        assert!(
            csp.contains("style-src 'self' 'unsafe-inline'"),
            "{path}: {csp}"
        );
    } else {
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self';"), "{path}: {csp}");
    }
}

async fn security_headers(app: TestApp) {
    let c = app.customer("hdr@example.com", 0.0).await;
    let admin = app.admin().await;
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("/", None, 200),
        ("/index.html", None, 200),
        ("/user-panel.html", None, 200),
        ("/admin.html", None, 200),
        ("/user-panel.js", None, 200),
        ("/app.css", None, 200),
        ("/healthz", None, 200),
        ("/metrics", None, 200),
        ("/api/openapi.json", None, 200),
        ("/api/user/profile", Some(c.token.as_str()), 200),
        ("/api/admin/stations", Some(admin.as_str()), 200),
        // errors: 401 from an extractor, 403, 404 from the static fallback
        ("/api/user/profile", None, 401),
        ("/api/admin/stations", Some(c.token.as_str()), 403),
        ("/no-such-file.html", None, 404),
    ];
    for (path, token, want) in cases {
        let (s, headers, body) = raw(&app, reqwest::Method::GET, path, token, None).await;
        assert_eq!(s, want, "{path}: {body}");
        assert_security_headers(path, &headers, false);
    }
    // 400 from a bad path parameter
    let (s, headers, body) = raw(
        &app,
        reqwest::Method::PUT,
        "/api/admin/stations/x/tariff",
        Some(&admin),
        Some(json!({"tariffId": null})),
    )
    .await;
    assert_eq!(s, 400, "{body}");
    assert_security_headers("bad path", &headers, false);
    // A JSON error from a handler (bad JSON body) and a throttled login carry them too.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/customer/login", app.http))
        .header("content-type", "application/json")
        .body("{bad json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    assert_security_headers("bad json", resp.headers(), false);
    // The event stream.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/user/events", app.http))
        .bearer_auth(&c.token)
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status().as_u16(), 200);
    assert_security_headers("/api/user/events", resp.headers(), false);
    drop(resp);
    // Swagger UI has its own, looser style-src.
    for path in ["/swagger-ui/", "/swagger-ui/swagger-initializer.js"] {
        let (s, headers, _) = raw(&app, reqwest::Method::GET, path, None, None).await;
        assert_eq!(s, 200, "{path}");
        assert_security_headers(path, &headers, true);
    }
}
dual!(security_headers);

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Every answer carries a Permissions-Policy that denies the browser features the panels do not
/// use; API answers (a login's token above all) are never stored; the panels' text files say
/// their charset.
async fn cache_permissions_and_charset_headers(app: TestApp) {
    let c = app.customer("cache@example.com", 0.0).await;
    let admin = app.admin().await;
    let mut answers = Vec::new();
    for (path, email, password) in [
        ("/api/admin/login", ADMIN_EMAIL, ADMIN_PASSWORD),
        ("/api/customer/login", "cache@example.com", "password"),
    ] {
        let (s, headers, body) = login(&app, path, email, password).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert!(body["token"].is_string(), "{path}: {body}");
        answers.push((path.to_string(), headers));
        // a refused login too
        let (s, headers, _) = login(&app, path, email, "wrong password").await;
        assert_eq!(s, 401, "{path}");
        answers.push((format!("{path} (refused)"), headers));
    }
    for (path, token) in [
        ("/api/user/profile", Some(c.token.as_str())),
        ("/api/user/wallet", Some(c.token.as_str())),
        ("/api/admin/chargers", Some(admin.as_str())),
        ("/api/admin/customers", Some(admin.as_str())),
        ("/api/user/profile", None),
        ("/api/openapi.json", None),
        ("/healthz", None),
        ("/metrics", None),
    ] {
        let (s, headers, body) = raw(&app, reqwest::Method::GET, path, token, None).await;
        assert!(s == 200 || s == 401, "{path}: {s} {body}");
        answers.push((path.to_string(), headers));
    }
    for (path, headers) in &answers {
        assert_eq!(
            header(headers, "cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    let (s, headers, _) = raw(
        &app,
        reqwest::Method::POST,
        "/api/user/events/ticket",
        Some(&c.token),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        header(&headers, "cache-control").as_deref(),
        Some("no-store")
    );

    // Panel files may be cached but are revalidated (their own Cache-Control is kept).
    for path in [
        "/",
        "/admin.html",
        "/admin.js",
        "/admin/core.js",
        "/app.css",
    ] {
        let (s, headers, _) = raw(&app, reqwest::Method::GET, path, None, None).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(
            header(&headers, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
    }

    // Permissions-Policy everywhere: panels, API, errors, Swagger UI.
    for (path, token) in [
        ("/", None),
        ("/user-panel.html", None),
        ("/admin/chargers.js", None),
        ("/api/user/profile", Some(c.token.as_str())),
        ("/api/admin/stations", Some(c.token.as_str())),
        ("/no-such-file.html", None),
        ("/swagger-ui/", None),
    ] {
        let (_, headers, _) = raw(&app, reqwest::Method::GET, path, token, None).await;
        let policy = header(&headers, "permissions-policy")
            .unwrap_or_else(|| panic!("{path}: no Permissions-Policy"));
        for feature in [
            "camera=()",
            "microphone=()",
            "geolocation=()",
            "payment=()",
            "usb=()",
        ] {
            assert!(
                policy.contains(feature),
                "{path}: {feature} not in {policy}"
            );
        }
    }

    // Content-Type with a charset for text.
    for (path, want) in [
        ("/", "text/html; charset=utf-8"),
        ("/admin.html", "text/html; charset=utf-8"),
        ("/user-panel.html", "text/html; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/api.js", "javascript; charset=utf-8"),
        ("/admin.js", "javascript; charset=utf-8"),
        ("/admin/sessions.js", "javascript; charset=utf-8"),
        ("/user-panel.js", "javascript; charset=utf-8"),
        ("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
    ] {
        let (s, headers, _) = raw(&app, reqwest::Method::GET, path, None, None).await;
        assert_eq!(s, 200, "{path}");
        let ct = header(&headers, "content-type").unwrap_or_default();
        assert!(ct.ends_with(want), "{path}: {ct}");
    }
    let (_, headers, _) = raw(&app, reqwest::Method::GET, "/healthz", None, None).await;
    assert!(
        header(&headers, "content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
    );
}
dual!(cache_permissions_and_charset_headers);

/// The panels as served contain no inline script, event-handler attribute or style attribute (the
/// Content-Security-Policy would block them).
async fn panels_have_no_inline_code(app: TestApp) {
    for page in [
        "/",
        "/user-panel.html",
        "/admin.html",
        "/api.js",
        "/user-panel.js",
        "/admin.js",
        "/admin/core.js",
        "/admin/chargers.js",
        "/admin/commands.js",
        "/admin/sessions.js",
    ] {
        let (s, _, body) = raw(&app, reqwest::Method::GET, page, None, None).await;
        assert_eq!(s, 200, "{page}");
        let text = body.as_str().expect("text").to_lowercase();
        assert!(!text.contains("style=\""), "{page}: a style attribute");
        assert!(!text.contains("javascript:"), "{page}: a javascript: URL");
        for (i, _) in text.match_indices("<script") {
            let tag = &text[i..i + text[i..].find('>').expect("tag end")];
            assert!(tag.contains(" src="), "{page}: inline script {tag}");
        }
        for attr in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            " oninput=",
        ] {
            assert!(!text.contains(attr), "{page}: {attr}");
        }
    }
}
dual!(panels_have_no_inline_code);

#[tokio::test]
async fn short_jwt_secret_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: format!("sqlite://{}", dir.path().join("csms.db").display()),
        http_addr: "127.0.0.1:0".into(),
        ocpp_addr: "127.0.0.1:0".into(),
        jwt_secret: Some("too-short-secret-31-bytes-long!".into()),
        bcrypt_cost: 4,
        ..Settings::default()
    };
    assert_eq!(settings.jwt_secret.as_deref().map(str::len), Some(31));
    let err = match Application::build(settings).await {
        Ok(_) => panic!("a 31-byte CSMS_JWT_SECRET was accepted"),
        Err(e) => e,
    };
    assert!(
        matches!(err, csms::error::AppError::Config(_)),
        "not a configuration error: {err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("CSMS_JWT_SECRET") && msg.contains("at least 32 bytes"),
        "{msg}"
    );
}

/// A 32-byte secret is enough, and tokens work with it.
async fn jwt_secret_of_32_bytes_works(app: TestApp) {
    let c = app.customer("key@example.com", 0.0).await;
    let (s, _) = app.get("/api/user/profile", Some(&c.token)).await;
    assert_eq!(s, 200);
}
dual!(jwt_secret_of_32_bytes_works, |s| s.jwt_secret =
    Some("0123456789abcdef0123456789abcdef".into()));
