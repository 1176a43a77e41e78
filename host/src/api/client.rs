//! Who is calling, as far as the network says: the peer address, or —
//! only when the peer is a reverse proxy the admin trusts
//! (`http.trusted_proxies`) — the client address it forwarded. And a small
//! per-address counter for rate limits.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// The client's address: the peer, or the rightmost address a trusted
/// proxy forwarded that is not itself a trusted proxy. `None` when the
/// server did not record the peer (in-process tests).
pub fn client_ip(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// Headers only a reverse proxy may set: passed on from a trusted proxy,
/// dropped from anyone else (so a client cannot claim another host name or
/// address).
pub const FORWARDING_HEADERS: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Whether the peer is one of the trusted reverse proxies.
pub fn from_trusted_proxy(extensions: &Extensions, trusted: &[IpAddr]) -> bool {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| trusted.contains(&addr.ip()))
}

/// Counts events per client address in fixed windows.
pub struct Throttle {
    limit: u32,
    window_ms: u64,
    seen: Mutex<HashMap<IpAddr, (u64, u32)>>,
}

/// Addresses tracked at most; past it, finished windows are forgotten.
const TRACKED: usize = 100_000;

impl Throttle {
    /// At most `limit` events per address per `window_ms`.
    pub fn new(limit: u32, window_ms: u64) -> Throttle {
        Throttle {
            limit,
            window_ms,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an event of `ip` at `now`; returns how long until it may try
    /// again (ms) when it is over the limit.
    pub fn hit(&self, ip: IpAddr, now: u64) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= TRACKED {
            let window = self.window_ms;
            seen.retain(|_, (start, _)| now.saturating_sub(*start) < window);
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.saturating_sub(entry.0) >= self.window_ms {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        (entry.1 > self.limit).then(|| (entry.0 + self.window_ms).saturating_sub(now).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_the_limit_then_says_when_to_come_back() {
        let t = Throttle::new(3, 60_000);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert_eq!((0..3).filter_map(|i| t.hit(a, 1_000 + i)).count(), 0);
        assert_eq!(t.hit(a, 2_000), Some(59_000));
        assert_eq!(t.hit(b, 2_000), None, "another address is not slowed");
        assert_eq!(t.hit(a, 61_000), None, "a new window");
    }

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let request = |peer: &str, forwarded: Option<&str>| {
            let mut builder = axum::http::Request::builder();
            if let Some(f) = forwarded {
                builder = builder.header("x-forwarded-for", f);
            }
            let (mut parts, ()) = builder.body(()).unwrap().into_parts();
            parts
                .extensions
                .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1)));
            parts
        };
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let spoofed = request("203.0.113.5", Some("1.2.3.4"));
        let ip = |p: &axum::http::request::Parts, trusted: &[IpAddr]| {
            client_ip(&p.extensions, &p.headers, trusted)
        };
        assert_eq!(ip(&spoofed, &[proxy]), "203.0.113.5".parse().ok());
        let proxied = request("10.0.0.9", Some("1.2.3.4, 198.51.100.7"));
        assert_eq!(ip(&proxied, &[proxy]), "198.51.100.7".parse().ok());
        assert_eq!(ip(&proxied, &[]), "10.0.0.9".parse().ok());
    }
}
