//! HTTP-side protections: security headers on every response, and the client address that the
//! login throttle counts against.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};

use crate::error::AppError;
use crate::state::AppState;

/// The web panels and the API: scripts, styles and everything else only from this origin (no inline
/// script, no inline style attribute), images also as `data:` (the panels' icons), nothing may frame
/// them.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Swagger UI (vendored, under `/swagger-ui/`) sets inline styles from its scripts and uses `data:`
/// images in its stylesheet; its scripts are files of its own, so only `style-src` is looser.
pub const SWAGGER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Browser features neither panel uses, denied to them and to anything they might load.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), geolocation=(), \
     gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), serial=(), usb=()";

/// Answers that must never be stored by a browser or a proxy: the API (a login's token above all,
/// wallets, sessions) and the health and metrics answers.
fn is_uncacheable(path: &str) -> bool {
    path.starts_with("/api/") || path == "/healthz" || path == "/metrics"
}

fn is_swagger(path: &str) -> bool {
    path == "/swagger-ui" || path.starts_with("/swagger-ui/")
}

/// Adds the security headers to every response, errors and event streams included (a header the
/// handler set itself is kept), and `Cache-Control: no-store` to API answers. Handler and extractor
/// errors reach this layer as responses already (actix turns them into responses at the route), so
/// they get the headers too.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let csp = if is_swagger(req.path()) {
        SWAGGER_CSP
    } else {
        CSP
    };
    let uncacheable = is_uncacheable(req.path());
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
    ] {
        set_default(h, name, value);
    }
    if uncacheable {
        set_default(h, header::CACHE_CONTROL, "no-store");
    }
    Ok(res)
}

fn set_default(h: &mut actix_web::http::header::HeaderMap, name: HeaderName, value: &'static str) {
    if !h.contains_key(&name) {
        h.insert(name, HeaderValue::from_static(value));
    }
}

/// The client's address: the peer, or, when the peer is a trusted reverse proxy
/// (`CSMS_TRUSTED_PROXIES`), the right-most X-Forwarded-For entry that is not a trusted proxy.
/// `None` only when the connection has no peer address (never for a TCP listener).
pub struct ClientAddr(pub Option<IpAddr>);

impl FromRequest for ClientAddr {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted: &[IpAddr] = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.derived.trusted_proxies.as_slice())
            .unwrap_or(&[]);
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("X-Forwarded-For")
            .filter_map(|v| v.to_str().ok())
            .collect();
        ready(Ok(ClientAddr(client_ip(
            req.peer_addr().map(|a| a.ip()),
            &forwarded,
            trusted,
        ))))
    }
}

/// See [`ClientAddr`]. `forwarded` holds the X-Forwarded-For header values in order; entries that
/// are not IP addresses end the walk (the peer's own claim is then the best we have).
pub fn client_ip(peer: Option<IpAddr>, forwarded: &[&str], trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut client = peer;
    for entry in forwarded.iter().rev().flat_map(|v| v.rsplit(',')) {
        let Ok(ip) = entry.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let peer = Some(ip("203.0.113.9"));
        assert_eq!(client_ip(peer, &["1.2.3.4"], &[]), peer);
        assert_eq!(client_ip(peer, &["1.2.3.4"], &[ip("10.0.0.1")]), peer);
        assert_eq!(client_ip(None, &["1.2.3.4"], &[]), None);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_counts() {
        let proxy = ip("10.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        // a client-supplied (spoofed) left part is never reached
        assert_eq!(
            client_ip(Some(proxy), &["6.6.6.6, 198.51.100.4, 10.0.0.2"], &trusted),
            Some(ip("198.51.100.4"))
        );
        // several header lines are one list
        assert_eq!(
            client_ip(Some(proxy), &["6.6.6.6", "198.51.100.4"], &trusted),
            Some(ip("198.51.100.4"))
        );
        // nothing forwarded: the proxy itself
        assert_eq!(client_ip(Some(proxy), &[], &trusted), Some(proxy));
        // garbage stops the walk at the last address that was believed
        assert_eq!(
            client_ip(Some(proxy), &["198.51.100.4, unknown"], &trusted),
            Some(proxy)
        );
        // IPv4-mapped peers match IPv4 proxies
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &["198.51.100.4"], &trusted),
            Some(ip("198.51.100.4"))
        );
    }

    /// `rule` holds for the paths marked true and not for the others.
    fn sorts(rule: fn(&str) -> bool, paths: &[(&str, bool)]) {
        for &(path, expected) in paths {
            assert_eq!(rule(path), expected, "{path}");
        }
    }

    #[test]
    fn uncacheable_paths() {
        sorts(
            is_uncacheable,
            &[
                ("/api/admin/login", true),
                ("/api/user/wallet", true),
                ("/healthz", true),
                ("/admin.html", false),
                ("/apix", false),
            ],
        );
    }

    #[test]
    fn swagger_paths() {
        sorts(
            is_swagger,
            &[
                ("/swagger-ui/", true),
                ("/swagger-ui/index.css", true),
                ("/swagger-ui", true),
                ("/swagger-uix", false),
                ("/user-panel.html", false),
            ],
        );
    }
}
