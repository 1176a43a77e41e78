//! The HTTP listener, in front of the API: it admits connections within
//! limits — in all and per client address — gives every request's headers
//! (and every idle keep-alive connection) a deadline, tells the API who the
//! peer is, and on shutdown stops accepting while requests in flight
//! finish. One client holding thousands of idle or half-sent connections
//! gets its share and no more; `/healthz` and the admin API keep answering
//! everyone else.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::api::BodyDeadline;
use crate::config::HttpConfig;

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// Open connections, in all and per client address.
#[derive(Default)]
struct Counts {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; counted until dropped.
struct Admitted {
    counts: Arc<Mutex<Counts>>,
    client: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(n) = counts.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

/// Admits a connection from `client` if the limits allow it.
fn admit(counts: &Arc<Mutex<Counts>>, client: IpAddr, config: &HttpConfig) -> Option<Admitted> {
    let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
    let mine = c.by_client.get(&client).copied().unwrap_or(0);
    if c.total >= config.max_connections || mine >= config.max_connections_per_client {
        return None;
    }
    c.total += 1;
    *c.by_client.entry(client).or_default() += 1;
    Some(Admitted {
        counts: counts.clone(),
        client,
    })
}

/// File descriptors kept for everything but client connections: the
/// database, plugin files, outbound HTTP, the watcher.
const FD_RESERVE: u64 = 512;

/// Raises the process's open-file limit to its hard limit (a server that
/// holds connections needs more than the usual soft 1024) and returns how
/// many connections fit under it, at most `wanted`.
pub fn connection_budget(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return wanted;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        // rlim_t is not u64 on every unix.
        #[allow(clippy::unnecessary_cast)]
        let open_files = limit.rlim_cur as u64;
        let fit = open_files.saturating_sub(FD_RESERVE).max(64);
        if (wanted as u64) > fit {
            tracing::warn!(
                wanted,
                open_files,
                "http.max_connections is more than the open-file limit allows; using {fit}"
            );
        }
        wanted.min(usize::try_from(fit).unwrap_or(usize::MAX))
    }
    #[cfg(not(unix))]
    wanted
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown`
/// resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<HttpConfig>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut config = (*config).clone();
    config.max_connections = connection_budget(config.max_connections);
    let counts = Arc::new(Mutex::new(Counts::default()));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: keep serving the others.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over a limit: closed at once, before reading a byte.
        let Some(admitted) = admit(&counts, peer.ip(), &config) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(client = %peer.ip(), refused, "connection limit reached; refusing connections");
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let body_timeout = Duration::from_millis(config.body_timeout_ms);
        let header_timeout = Duration::from_millis(config.header_timeout_ms);
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: axum::http::Request<Incoming>| {
                request
                    .extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(peer));
                request
                    .extensions_mut()
                    .insert(BodyDeadline(tokio::time::Instant::now() + body_timeout));
                app.clone().oneshot(request.map(axum::body::Body::new))
            },
        ));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            let served = match tls {
                None => {
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
                Some(tls) => {
                    // The handshake gets the same deadline as headers.
                    let stream =
                        match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(client = %peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => return,
                        };
                    let connection = http.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(client = %peer, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_in_all_and_per_client() {
        let config = HttpConfig {
            max_connections: 3,
            max_connections_per_client: 2,
            ..HttpConfig::default()
        };
        let counts = Arc::new(Mutex::new(Counts::default()));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = admit(&counts, a, &config).unwrap();
        let _a2 = admit(&counts, a, &config).unwrap();
        assert!(admit(&counts, a, &config).is_none(), "per client");
        let _b1 = admit(&counts, b, &config).unwrap();
        assert!(admit(&counts, b, &config).is_none(), "in all");
        drop(a1);
        assert!(
            admit(&counts, b, &config).is_some(),
            "a closed one frees its place"
        );
    }
}
