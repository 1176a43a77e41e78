//! `[http]`: what the HTTP server lets anyone on the network do — its
//! connections, timeouts and rate limits — and whom it trusts to say who
//! a client is.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[http]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Host` are
    /// believed. Empty (default): none are; a client is its peer address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Failed sign-ins (unknown tokens) a client address may make per
    /// minute; past it, invalid tokens get 429 with `Retry-After` (valid
    /// ones keep working).
    pub auth_failures_per_minute: u32,
    /// When set, `GET /metrics` needs `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// The address providers and customers reach this host at (e.g.
    /// `https://cc.example.com`): links to files agents send start with
    /// it. Unset, they are paths, which channels that send files by link
    /// (WhatsApp, MMS) cannot use.
    pub public_url: Option<String>,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per client address.
    pub max_connections_per_client: usize,
    /// How long a client may take to send a request's headers — and how
    /// long an idle keep-alive connection stays open.
    pub header_timeout_ms: u64,
    /// How long a client may take to send a request's body.
    pub body_timeout_ms: u64,
    /// Webhook long-polls waiting at once, in all.
    pub max_long_polls: usize,
    /// … per client address.
    pub max_long_polls_per_client: usize,
    /// … per session (what the plugin waits on, e.g. one web chat).
    pub max_long_polls_per_session: usize,
    /// The longest a webhook long-poll is held, whatever the plugin asks
    /// (behind a proxy, keep it under the proxy's read timeout).
    pub max_long_poll_ms: u64,
    /// PEM certificate chain: with `tls_key`, the host serves HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            trusted_proxies: Vec::new(),
            auth_failures_per_minute: 10,
            metrics_token: None,
            public_url: None,
            max_connections: 10_000,
            max_connections_per_client: 256,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_long_polls: 5_000,
            max_long_polls_per_client: 50,
            max_long_polls_per_session: 2,
            max_long_poll_ms: 30_000,
            tls_cert: None,
            tls_key: None,
        }
    }
}
