//! HTTP-side protections: the client address that the login throttle counts against.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::error::AppError;
use crate::state::AppState;

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
}
