//! The plugin runtime: loads plugin bundles, runs each call in a sandboxed
//! instance, keeps plugins healthy (failing / circuit breaker), and
//! hot-swaps new versions without failing a call.
//!
//! | file | what it holds |
//! |---|---|
//! | `load.rs` | the one place that loads and unloads plugins: read, validate, compile, link, install |
//! | `admin.rs` | what is installed and how healthy; reload, enable, disable |
//! | `install.rs` | uploads: validated exactly as a load, then written and loaded |
//! | `call.rs` | the one call path every export goes through: look up, instantiate, run under limits, settle health |
//! | `exports.rs` | the typed calls, one per plugin export, and the checks of their output |
//! | `output.rs` | what one call may hand back: events, identities, bytes |
//! | `watcher.rs` | hot reload: watches the plugins directory |
//! | `registry.rs` | one slot per plugin: the serving version and its health |
//! | `sandbox.rs` | the linker, the per-call store, its limits and egress policy |
//! | `host_api.rs` | the `host` functions a plugin imports (0.2, and 0.1 through the adapter) |
//! | `engine.rs` | the wasmtime engine, its allocator, and the compile cache |
//! | `manifest.rs`, `capabilities.rs` | `plugin.toml` and declared ∩ granted capabilities |
//! | `limits.rs` | what one plugin may consume: memory, time, its store, the log, its output |
//! | `error.rs` | load and call errors, and the faults charged to a plugin |

mod admin;
mod automation_calls;
mod call;
pub mod capabilities;
pub mod engine;
pub mod error;
mod exports;
mod host_api;
mod install;
mod limits;
mod load;
pub mod manifest;
mod output;
mod registry;
mod sandbox;
mod watcher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::attachments::Files;
use crate::config::Config;
use crate::store::Store;

pub use admin::ReloadError;
pub use capabilities::Capabilities;
pub use error::{CallError, Fault, LoadError, RuntimeError};
pub use install::InstallError;
pub use limits::Limits;
pub use load::{bundle_names, check_bundle};
pub use manifest::{Manifest, ManifestError, PluginKind};
pub use registry::{PluginInfo, PluginStatus};
pub use sandbox::{CustomerDirectory, Floor, NoCustomers, Usage};
pub use watcher::WatchHandle;

use registry::PluginSlot;
use sandbox::State;

/// Everything the runtime needs from the rest of the host.
pub struct RuntimeOptions {
    /// Host configuration (runtime tuning and per-plugin admin settings).
    pub config: Arc<Config>,
    /// Where the plugin bundles live.
    pub plugins_dir: PathBuf,
    /// Where compiled components are cached.
    pub cache_dir: PathBuf,
    /// The database (plugin key-value stores, admin toggles).
    pub store: Store,
    /// Customer look-ups for plugins granted `customers = "read"`.
    pub customers: Arc<dyn CustomerDirectory>,
    /// Files agents send, for channels' `attachment-data` (none: every
    /// such call fails).
    pub files: Option<Arc<Files>>,
}

/// Runtime-wide figures.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RuntimeStats {
    /// How instances get their memory.
    pub allocator: engine::Allocator,
    /// Components compiled since start.
    pub compiled: u64,
    /// Components loaded from the compile cache since start.
    pub cache_hits: u64,
    /// Installed plugins.
    pub plugins: usize,
}

/// The plugin runtime. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    allocator: engine::Allocator,
    linker: Linker<State>,
    cache: engine::CompileCache,
    config: Arc<Config>,
    plugins_dir: PathBuf,
    store: Store,
    customers: Arc<dyn CustomerDirectory>,
    files: Option<Arc<Files>>,
    floor: sandbox::FloorSlot,
    slots: ArcSwap<BTreeMap<String, Arc<PluginSlot>>>,
    /// Serializes loads and unloads; calls never take it.
    load_lock: tokio::sync::Mutex<()>,
}

impl Runtime {
    /// Creates the engine, linker and compile cache, and starts the epoch
    /// ticker. Loads nothing: call [`Runtime::load_all`].
    pub fn new(options: RuntimeOptions) -> Result<Runtime, RuntimeError> {
        let (engine, allocator) = engine::build_engine(&options.config.runtime)?;
        tracing::info!(?allocator, "plugin engine ready");
        engine::start_epoch_ticker(&engine);
        let linker = sandbox::linker(&engine)?;
        let cache = engine::CompileCache::new(&options.cache_dir, &engine);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                allocator,
                linker,
                cache,
                config: options.config,
                plugins_dir: options.plugins_dir,
                store: options.store,
                customers: options.customers,
                files: options.files,
                floor: Arc::default(),
                slots: ArcSwap::from_pointee(BTreeMap::new()),
                load_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> &Path {
        &self.inner.plugins_dir
    }

    /// Runtime-wide figures.
    pub fn stats(&self) -> RuntimeStats {
        RuntimeStats {
            allocator: self.inner.allocator,
            compiled: self.inner.cache.compiled(),
            cache_hits: self.inner.cache.hits(),
            plugins: self.inner.slots.load().len(),
        }
    }

    fn slot(&self, name: &str) -> Option<Arc<PluginSlot>> {
        self.inner.slots.load().get(name).cloned()
    }
}

impl Runtime {
    /// Tells plugins' `agents-available` who could take work: set once, by
    /// the core, when routing exists (plugins load before it).
    pub fn set_floor(&self, floor: Arc<dyn Floor>) {
        let _ = self.inner.floor.set(floor);
    }
}
