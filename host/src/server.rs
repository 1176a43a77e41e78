//! Wiring: data directory, admin token, plugins, runtime and HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::api::{self, AppState};
use crate::bundled;
use crate::config::Config;
use crate::conversations::Conversations;
use crate::core::{Core, Directory};
use crate::customers::Customers;
use crate::events::Events;
use crate::runtime::{Runtime, RuntimeOptions, WatchHandle};
use crate::store::Store;

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

impl Server {
    /// Opens the data directory, seeds and loads the plugins, and starts
    /// serving HTTP on `config.listen`.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let config = Arc::new(config);
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let store = Store::open_with(&config.data_dir.join("db"), config.durability)
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
        let customers =
            Arc::new(Customers::new(store.clone(), &config.customers).map_err(anyhow::Error::msg)?);
        let conversations = Arc::new(Conversations::new(store.clone()));
        let admin_token = admin_token(&config)?;

        let plugins_dir = config.plugins_dir();
        let seeded = bundled::seed(&plugins_dir)
            .with_context(|| format!("seeding plugins into {}", plugins_dir.display()))?;
        if !seeded.is_empty() {
            tracing::info!(dir = %plugins_dir.display(), plugins = ?seeded, "seeded first-party plugins");
        }
        let runtime = Runtime::new(RuntimeOptions {
            config: config.clone(),
            plugins_dir: plugins_dir.clone(),
            cache_dir: config.data_dir.join("cache").join("components"),
            store: store.clone(),
            customers: Arc::new(Directory {
                customers: customers.clone(),
                conversations: conversations.clone(),
            }),
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
            )
            .context("loading agents and tasks")?,
        );
        let workers = core.start();
        let watch = if config.runtime.watch {
            Some(runtime.watch().context("watching the plugins directory")?)
        } else {
            None
        };

        let state = AppState {
            runtime: runtime.clone(),
            core: core.clone(),
            metrics: api::metrics::handle(),
            admin_token_digest: Arc::new(Sha256::digest(admin_token.as_bytes()).into()),
            lifetime: Arc::new(()),
        };
        let app_lifetime = Arc::downgrade(&state.lifetime);
        let app = api::app(state, config.max_body_bytes);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "switchboard listening");
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
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.core.events.close();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = (&mut self.task).await.context("server task")?;
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
        self.store.flush().context("flushing the database")?;
        served.context("serving HTTP")
    }
}

/// The admin token: from the config (or `SWITCHBOARD_ADMIN_TOKEN`), else the
/// one stored in the data directory, else a new one — printed once and
/// stored (mode 0600) for next time.
fn admin_token(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = config.admin_token.as_ref().filter(|t| !t.trim().is_empty()) {
        return Ok(token.trim().to_string());
    }
    let path = config.data_dir.join(ADMIN_TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path)
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_string());
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for the admin token: {e}"))?;
    let token = format!("sb_admin_{}", hex::encode(bytes));
    write_private(&path, &token)
        .with_context(|| format!("storing the admin token in {}", path.display()))?;
    println!(
        "Generated an admin token (shown once; stored in {}):\n\n    {token}\n",
        path.display()
    );
    Ok(token)
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
