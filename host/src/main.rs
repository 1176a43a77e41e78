//! The `switchboard` command.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use switchboard::config::Config;
use switchboard::runtime::{self, PluginStatus};
use switchboard::server::Server;
use switchboard::store::Store;

mod signing_cli;

/// Omnichannel contact center host with WebAssembly plugins.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host (the default).
    Serve(ServeArgs),
    /// List the plugin bundles in a plugins directory and whether each loads.
    Plugins {
        /// The plugins directory to check.
        #[arg(long, env = "SWITCHBOARD_PLUGINS_DIR")]
        plugins_dir: Option<PathBuf>,
        /// Config file (grants and limits apply to the check).
        #[arg(long, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Signing keys for plugin bundles.
    #[command(subcommand)]
    Keys(signing_cli::KeysCommand),
    /// Work on one plugin bundle: its digest, its signature.
    #[command(subcommand)]
    Plugin(signing_cli::PluginCommand),
    /// Recompute the all-time task totals `/api/stats` shows from the
    /// archived tasks (run it with the host stopped; reports need no
    /// rebuild: they are read from the event history).
    RebuildStats {
        /// Config file (its data directory and SLA targets).
        #[arg(long, env = "SWITCHBOARD_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory [default: the config's].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone, Default)]
struct ServeArgs {
    /// Config file (TOML).
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Data directory [default: ./switchboard-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Plugins directory [default: <data-dir>/plugins].
    #[arg(long)]
    plugins_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Override any config key: `--set runtime.default_timeout_ms=500`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

impl ServeArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut sets = Vec::new();
        if let Some(listen) = &self.listen {
            sets.push(format!("listen={listen:?}"));
        }
        if let Some(dir) = &self.data_dir {
            sets.push(format!("data_dir={:?}", dir.display().to_string()));
        }
        if let Some(dir) = &self.plugins_dir {
            sets.push(format!("plugins_dir={:?}", dir.display().to_string()));
        }
        if let Some(path) = &self.tls_cert {
            sets.push(format!("http.tls_cert={:?}", path.display().to_string()));
        }
        if let Some(path) = &self.tls_key {
            sets.push(format!("http.tls_key={:?}", path.display().to_string()));
        }
        sets.extend(self.sets.iter().cloned());
        Ok(Config::load(
            self.config.as_deref(),
            std::env::vars(),
            &sets,
        )?)
    }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            None => serve(cli.serve).await,
            Some(Command::Serve(args)) => serve(args).await,
            Some(Command::Plugins {
                plugins_dir,
                config,
            }) => list_plugins(plugins_dir, config).await,
            Some(Command::RebuildStats { config, data_dir }) => rebuild_stats(config, data_dir),
            Some(Command::Keys(command)) => {
                signing_cli::keys(command).map(|()| std::process::ExitCode::SUCCESS)
            }
            Some(Command::Plugin(command)) => {
                signing_cli::plugin(command).map(|()| std::process::ExitCode::SUCCESS)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let config = args.load()?;
    let server = Server::start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn rebuild_stats(
    config_path: Option<PathBuf>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<std::process::ExitCode> {
    let config = Config::load(config_path.as_deref(), std::env::vars(), &[])?;
    let dir = data_dir.unwrap_or(config.data_dir).join("db");
    let store = Store::open(&dir)
        .with_context(|| format!("opening {} (is the host still running?)", dir.display()))?;
    let counted = switchboard::routing::rebuild_totals(&store, &config.routing.sla_ms)
        .context("rebuilding the totals")?;
    println!(
        "rebuilt the totals of {counted} finished tasks in {}",
        dir.display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

async fn list_plugins(
    plugins_dir: Option<PathBuf>,
    config_path: Option<PathBuf>,
) -> anyhow::Result<std::process::ExitCode> {
    let config = Config::load(config_path.as_deref(), std::env::vars(), &[])?;
    let dir = plugins_dir.unwrap_or_else(|| config.plugins_dir());
    let names = runtime::bundle_names(&dir)
        .with_context(|| format!("reading plugins directory {}", dir.display()))?;
    let scratch = std::env::temp_dir().join(format!("switchboard-check-{}", std::process::id()));
    let store = Store::open(&scratch).context("opening a scratch database")?;
    let config = Arc::new(config);
    let mut broken = 0;
    println!("{:<24} {:<10} {:<8} STATUS", "NAME", "VERSION", "KIND");
    for name in &names {
        match runtime::check_bundle(config.clone(), &dir, name, store.clone()).await {
            Ok(info) => {
                let status = match info.status {
                    PluginStatus::Disabled => "disabled in config".to_string(),
                    _ => "ok".to_string(),
                };
                println!(
                    "{:<24} {:<10} {:<8} {status}",
                    name,
                    info.version.unwrap_or_default(),
                    info.kind.map(|k| k.to_string()).unwrap_or_default(),
                );
            }
            Err(e) => {
                broken += 1;
                println!(
                    "{:<24} {:<10} {:<8} error: {e}",
                    name,
                    e.version.clone().unwrap_or_default(),
                    "?"
                );
            }
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&scratch);
    if names.is_empty() {
        println!("(no plugin bundles in {})", dir.display());
    }
    Ok(if broken == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    })
}
