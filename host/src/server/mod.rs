//! Wiring: data directory, admin token, plugins, runtime and HTTP server
//! (`listener.rs`: connections within limits, with timeouts).

mod listener;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::api::{self, AppState};
use crate::attachments::Files;
use crate::bundled;
use crate::config::Config;
use crate::conversations::Conversations;
use crate::core::{Core, Directory};
use crate::customers::{Customers, IdentityError};
use crate::events::Events;
use crate::runtime::{Runtime, RuntimeError, RuntimeOptions, WatchHandle};
use crate::store::{Store, StoreError};

/// A running host.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its plugin runtime.
    pub runtime: Runtime,
    /// The admin token in effect.
    pub admin_token: String,
    /// Customers, conversations, routing and outbox.
    pub core: Arc<Core>,
    store: Store,
    workers: Vec<tokio::task::JoinHandle<()>>,
    app_lifetime: std::sync::Weak<()>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    watch: Option<WatchHandle>,
}

/// Where the generated admin token is kept.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Why the host did not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file or directory of the host's could not be used.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What the host was doing.
        what: &'static str,
        /// With which file or directory.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database could not be opened, loaded or flushed.
    #[error("{what}: {source}")]
    Store {
        /// What the host was doing.
        what: String,
        /// Why it failed.
        source: StoreError,
    },
    /// `[hours]` is wrong.
    #[error(transparent)]
    Hours(#[from] crate::hours::HoursError),
    /// `customers.default_region` is not a region.
    #[error("customers.default_region: {0}")]
    Region(#[from] IdentityError),
    /// The plugin runtime did not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// No randomness for a generated admin token.
    #[error("no randomness for the admin token: {0}")]
    Random(String),
    /// The attachment directory or its link key cannot be used.
    #[error("attachment storage: {0}")]
    Files(String),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The listen address cannot be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    /// The HTTP server's task panicked or was cancelled.
    #[error("server task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.to_path_buf();
    move |source| ServerError::Io { what, path, source }
}

fn store_error(what: String) -> impl FnOnce(StoreError) -> ServerError {
    move |source| ServerError::Store { what, source }
}

impl Server {
    /// Opens the data directory, seeds and loads the plugins, and starts
    /// serving HTTP on `config.listen`.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let config = Arc::new(config);
        // Checked before anything is opened: a wrong calendar changes nothing.
        let hours = crate::hours::Hours::new(&config.hours)?;
        private_dir(&config.data_dir)
            .map_err(io_error("creating data directory", &config.data_dir))?;
        let tls = tls::acceptor(
            config.http.tls_cert.as_deref(),
            config.http.tls_key.as_deref(),
        )?;
        let store = Store::open_with(
            &config.data_dir.join("db"),
            config.durability,
            config.store_cache_mb,
        )
        .map_err(store_error(format!(
            "opening the database in {}",
            config.data_dir.display()
        )))?;
        let customers = Arc::new(Customers::new(store.clone(), &config.customers)?);
        let conversations = Arc::new(Conversations::new(store.clone()));
        let (admin_token, first_run) = admin_token(&config)?;

        let plugins_dir = config.plugins_dir();
        let seeded =
            bundled::seed(&plugins_dir).map_err(io_error("seeding plugins into", &plugins_dir))?;
        if !seeded.is_empty() {
            tracing::info!(dir = %plugins_dir.display(), plugins = ?seeded, "seeded first-party plugins");
        }
        let files_dir = config.data_dir.join("attachments");
        let files = Arc::new(
            Files::open(
                &files_dir,
                config.floor.max_attachment_bytes,
                config.http.public_url.as_deref(),
            )
            .map_err(|e| ServerError::Files(format!("{}: {e}", files_dir.display())))?,
        );
        let runtime = Runtime::new(RuntimeOptions {
            config: config.clone(),
            plugins_dir: plugins_dir.clone(),
            cache_dir: config.data_dir.join("cache").join("components"),
            store: store.clone(),
            customers: Arc::new(Directory {
                customers: customers.clone(),
                conversations: conversations.clone(),
            }),
            files: Some(files.clone()),
        })?;
        runtime.load_all().await;
        let core = Arc::new(
            Core::new(
                &config,
                store.clone(),
                customers,
                conversations,
                runtime.clone(),
                Events::new(),
                (files, hours),
            )
            .map_err(store_error("loading agents and tasks".into()))?,
        );
        let mut workers = core.start();
        let watch = if config.runtime.watch {
            Some(runtime.watch()?)
        } else {
            None
        };

        let http = Arc::new(config.http.clone());
        let state = AppState {
            core: core.clone(),
            metrics: api::metrics::handle(),
            admin_token_digest: Arc::new(Sha256::digest(admin_token.as_bytes()).into()),
            auth_failures: Arc::new(api::Throttle::new(
                config.http.auth_failures_per_minute,
                60_000,
            )),
            http: http.clone(),
            long_polls: Arc::default(),
            lifetime: Arc::new(()),
        };
        workers.push(tokio::spawn(state.long_polls.clone().follow(core.clone())));
        let app_lifetime = Arc::downgrade(&state.lifetime);
        let app = api::app(state, config.max_body_bytes);
        let listen_error = |source| ServerError::Listen {
            addr: config.listen,
            source,
        };
        let listener = bind(config.listen).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(listener::serve(listener, app, http, tls, async {
            let _ = rx.await;
        }));
        tracing::info!(%addr, "switchboard listening");
        let mut started =
            crate::audit::AuditEntry::new("host.start", "system", "system", crate::clock::now_ms());
        started.reason = format!(
            "version {}, listening on {addr}, plugins: {}",
            env!("CARGO_PKG_VERSION"),
            runtime
                .plugins()
                .iter()
                .map(|p| format!("{} {}", p.name, p.version.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        core.audit(started).await.map_err(|e| ServerError::Store {
            what: "writing the audit trail".into(),
            source: StoreError::Flush(e.to_string()),
        })?;
        print_welcome(addr, first_run, config.http.tls_cert.is_some());
        Ok(Server {
            addr,
            runtime,
            admin_token,
            core,
            store,
            workers,
            app_lifetime,
            shutdown: Some(tx),
            task,
            watch,
        })
    }

    /// Stops accepting connections, lets requests in flight finish, stops
    /// the watcher, flushes the database, and returns once nothing holds the
    /// data directory any more (so another host can open it).
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        self.core.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = (&mut self.task).await?;
        if let Some(watch) = self.watch.take() {
            watch.stop().await;
        }
        self.core.stop();
        for worker in self.workers.drain(..) {
            let _ = worker.await;
        }
        // axum returns once connections are closed, but a connection task may
        // still be dropping its copy of the app state.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.app_lifetime.strong_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        self.store
            .flush()
            .map_err(store_error("flushing the database".into()))?;
        served.map_err(ServerError::Serve)
    }
}

/// Where to open the UI, on stdout; on a first run (a new admin token) also
/// what to do next, so a new user is not left with a log line.
fn print_welcome(addr: std::net::SocketAddr, first_run: bool, tls: bool) {
    let host = if addr.ip().is_unspecified() {
        std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let base = format!("{}://{host}", if tls { "https" } else { "http" });
    println!("Switchboard is up. Open {base}/ in a browser.");
    if first_run {
        println!(
            "\nNext:\n  1. Sign in with the admin token above.\n  2. Admin → Agents: create an agent, then set its email and password.\n  3. Try the web chat: {base}/webhooks/webchat/demo\n  4. Connect a channel (WhatsApp, SMS, voice, email): see \"Channels\" in the README.\n"
        );
    }
}

/// The admin token: from the config (or `SWITCHBOARD_ADMIN_TOKEN`), else the
/// one stored in the data directory, else a new one — printed once and
/// stored (mode 0600) for next time. Says whether it was made now (a first
/// run).
fn admin_token(config: &Config) -> Result<(String, bool), ServerError> {
    if let Some(token) = config.admin_token.as_ref().filter(|t| !t.trim().is_empty()) {
        return Ok((token.trim().to_string(), false));
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok((token.trim().to_string(), false));
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Random(e.to_string()))?;
    let token = format!("sb_admin_{}", hex::encode(bytes));
    write_private(&path, &token).map_err(io_error("storing the admin token in", &path))?;
    println!(
        "Generated an admin token (shown once; stored in {}):\n\n    {token}\n",
        path.display()
    );
    Ok((token, true))
}

/// Creates the data directory readable by this user alone (0700), and
/// makes every file the process creates from now on so too (umask 077): it
/// holds message text, tokens' digests and the web chat signing key.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        // SAFETY: umask only sets the process's file mode mask.
        unsafe { libc::umask(0o077) };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // A directory from an earlier version may be wider open.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        narrow_files(dir)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Makes the files under `dir` (written by an earlier version, before the
/// umask) readable by this user alone.
#[cfg(unix)]
fn narrow_files(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o700))?;
            narrow_files(&entry.path())?;
        } else if kind.is_file() && entry.metadata()?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Listens on `addr` with room for a burst of connections before they are
/// accepted (tokio's default backlog of 1,024 drops the rest of a burst of
/// thousands of web chat reads; the kernel caps it at `somaxconn`).
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    const BACKLOG: u32 = 8_192;
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted host gets its port back at
    // once, while the old connections are still closing.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}
