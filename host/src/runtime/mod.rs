//! The plugin runtime: loads plugin bundles, runs each call in a fresh
//! sandboxed instance, keeps plugins healthy (failing / circuit breaker), and
//! hot-swaps new versions without failing a call.
//!
//! It is the one place that loads and unloads plugins (`load`, `unload`);
//! the rest of the host calls plugins through the narrow typed functions at
//! the bottom of this file.

pub mod bindings;
pub mod capabilities;
pub mod engine;
pub mod error;
mod install;
pub mod manifest;
mod registry;
mod sandbox;
mod watcher;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::config::Config;
use crate::store::Store;

pub use capabilities::Capabilities;
pub use error::{CallError, Fault, LoadError};
pub use install::InstallError;
pub use manifest::{API_VERSION, Manifest, PluginKind};
pub use registry::{PluginInfo, PluginStatus, channel_kind_name};
pub use sandbox::{CustomerDirectory, NoCustomers};

use bindings::botting::{BotAction, BotContext};
use bindings::channeling::{ChannelInfo, Delivery, DeliveryError, OutboundAction, WebhookOutcome};
use bindings::crm_sync::CrmEvent;
use bindings::routing::{Candidates, Decision, RouteTask};
use bindings::types::{Customer, ErrorKind, HttpRequest, InboundMessage, PluginError};
use registry::{LoadedPlugin, PluginSlot, WARM_ROUTERS, WorldPre};
use sandbox::{PluginContext, State};

/// Largest `plugin.wasm` accepted.
const MAX_WASM_BYTES: u64 = 64 * 1024 * 1024;

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
}

/// Runtime-wide figures.
#[derive(Debug, Clone, serde::Serialize)]
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
    slots: ArcSwap<BTreeMap<String, Arc<PluginSlot>>>,
    /// Serializes loads and unloads; calls never take it.
    load_lock: tokio::sync::Mutex<()>,
}

/// Why a call did not run to a result, before it is charged to the plugin.
enum RunError {
    Fault(Fault),
    Busy(String),
}

impl Runtime {
    /// Creates the engine, linker and compile cache, and starts the epoch
    /// ticker. Loads nothing: call [`Runtime::load_all`].
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Runtime> {
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
                slots: ArcSwap::from_pointee(BTreeMap::new()),
                load_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> &Path {
        &self.inner.plugins_dir
    }

    /// Loads every bundle in the plugins directory. Broken bundles are
    /// recorded (status `failed`), never fatal.
    pub async fn load_all(&self) {
        for name in self.bundle_names() {
            self.sync(&name).await;
        }
    }

    /// Names of the plugin directories present on disk.
    fn bundle_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.inner.plugins_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    }

    /// Starts watching the plugins directory: changed bundles are reloaded
    /// (after the debounce), new ones loaded, removed ones unloaded.
    pub fn watch(&self) -> anyhow::Result<WatchHandle> {
        let debounce = Duration::from_millis(self.inner.config.runtime.reload_debounce_ms);
        watcher::spawn(self.clone(), debounce).map(|task| WatchHandle { task: Some(task) })
    }

    /// Brings one plugin in line with its directory: loads or reloads it if
    /// present (unless disabled), unloads it if gone.
    pub(crate) async fn sync(&self, name: &str) {
        if !self.inner.plugins_dir.join(name).is_dir() {
            self.unload(name).await;
            return;
        }
        if let Err(e) = self.load(name).await {
            tracing::warn!(plugin = name, error = %e, "plugin failed to load");
        }
    }

    /// All installed plugins.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.inner
            .slots
            .load()
            .values()
            .map(|s| self.info(s))
            .collect()
    }

    /// The plugins of `kind` that are loaded and enabled, by name: cheap
    /// enough for the request path (no admin view is built).
    pub fn loaded_of_kind(&self, kind: PluginKind) -> Vec<String> {
        self.inner
            .slots
            .load()
            .values()
            .filter(|s| {
                !s.is_disabled()
                    && s.current
                        .load()
                        .as_ref()
                        .is_some_and(|p| p.manifest.kind == kind)
            })
            .map(|s| s.name.clone())
            .collect()
    }

    /// One installed plugin.
    pub fn plugin(&self, name: &str) -> Option<PluginInfo> {
        self.slot(name).map(|s| self.info(&s))
    }

    fn info(&self, slot: &PluginSlot) -> PluginInfo {
        let mut info = slot.info(self.inner.config.runtime.failing_after);
        if info.kind == Some(PluginKind::Channel) {
            info.bot = self.inner.config.plugin(&slot.name).bot;
        }
        info
    }

    /// What a channel plugin said about itself at load.
    pub fn channel_info(&self, name: &str) -> Option<ChannelInfo> {
        let plugin = self.slot(name)?.current.load_full()?;
        plugin.channel_info.clone()
    }

    /// Names of the installed plugins of a kind that can take calls.
    pub fn active_of_kind(&self, kind: PluginKind) -> Vec<String> {
        self.inner
            .slots
            .load()
            .values()
            .filter(|s| !s.is_disabled())
            .filter(|s| {
                s.current
                    .load()
                    .as_ref()
                    .is_some_and(|p| p.manifest.kind == kind)
            })
            .map(|s| s.name.clone())
            .collect()
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

    /// Reloads a plugin from its directory now. On failure the previous
    /// version keeps serving and the error is recorded.
    pub async fn reload(&self, name: &str) -> Result<PluginInfo, ReloadError> {
        if !self.inner.plugins_dir.join(name).is_dir() {
            if self.slot(name).is_some() {
                self.unload(name).await;
            }
            return Err(ReloadError::NotFound(name.to_string()));
        }
        if self.slot(name).is_some_and(|s| s.is_disabled()) {
            return Err(ReloadError::Disabled(name.to_string()));
        }
        self.load(name).await.map_err(ReloadError::Load)?;
        self.plugin(name)
            .ok_or_else(|| ReloadError::NotFound(name.to_string()))
    }

    /// Turns a plugin on (remembered across restarts) and loads it.
    pub async fn enable(&self, name: &str) -> Result<PluginInfo, ReloadError> {
        if !self.inner.plugins_dir.join(name).is_dir() && self.slot(name).is_none() {
            return Err(ReloadError::NotFound(name.to_string()));
        }
        self.inner
            .store
            .set_plugin_enabled_override(name, true)
            .map_err(|e| ReloadError::Storage(e.to_string()))?;
        if let Some(slot) = self.slot(name) {
            slot.set_disabled(false);
        }
        // A failed load still leaves the plugin enabled (status `failed`).
        let _ = self.load(name).await;
        self.plugin(name)
            .ok_or_else(|| ReloadError::NotFound(name.to_string()))
    }

    /// Turns a plugin off (remembered across restarts): its calls are refused.
    pub async fn disable(&self, name: &str) -> Result<PluginInfo, ReloadError> {
        let _guard = self.inner.load_lock.lock().await;
        let slot = match self.slot(name) {
            Some(slot) => slot,
            None if self.inner.plugins_dir.join(name).is_dir() => self.insert_slot(name),
            None => return Err(ReloadError::NotFound(name.to_string())),
        };
        self.inner
            .store
            .set_plugin_enabled_override(name, false)
            .map_err(|e| ReloadError::Storage(e.to_string()))?;
        slot.set_disabled(true);
        tracing::info!(plugin = name, "plugin disabled");
        Ok(slot.info(self.inner.config.runtime.failing_after))
    }

    fn insert_slot(&self, name: &str) -> Arc<PluginSlot> {
        let slot = Arc::new(PluginSlot::new(name));
        let mut map = BTreeMap::clone(&self.inner.slots.load());
        map.insert(name.to_string(), slot.clone());
        self.inner.slots.store(Arc::new(map));
        slot
    }

    async fn unload(&self, name: &str) {
        let _guard = self.inner.load_lock.lock().await;
        let mut map = BTreeMap::clone(&self.inner.slots.load());
        if map.remove(name).is_some() {
            self.inner.slots.store(Arc::new(map));
            tracing::info!(plugin = name, "plugin unloaded (its directory is gone)");
        }
    }

    fn enabled(&self, name: &str) -> bool {
        match self.inner.store.plugin_enabled_override(name) {
            Ok(Some(enabled)) => enabled,
            _ => self.inner.config.plugin(name).enabled,
        }
    }

    /// Loads (or reloads) a plugin and swaps it in. Calls in flight finish on
    /// the version they started with.
    async fn load(&self, name: &str) -> Result<(), LoadError> {
        let _guard = self.inner.load_lock.lock().await;
        let slot = self.slot(name).unwrap_or_else(|| self.insert_slot(name));
        if !self.enabled(name) {
            slot.set_disabled(true);
            return Ok(());
        }
        slot.set_disabled(false);
        let started = std::time::Instant::now();
        match self.build(name).await {
            Ok(plugin) => {
                tracing::info!(
                    plugin = name,
                    version = %plugin.manifest.version,
                    kind = %plugin.manifest.kind,
                    ms = started.elapsed().as_millis() as u64,
                    "plugin loaded"
                );
                slot.install(Arc::new(plugin));
                Ok(())
            }
            Err((e, version)) => {
                slot.load_failed(e.to_string(), version);
                Err(e)
            }
        }
    }

    /// Validates and prepares a bundle without installing it.
    async fn build(
        &self,
        name: &str,
    ) -> Result<LoadedPlugin, (LoadError, Option<(String, PluginKind)>)> {
        let dir = self.inner.plugins_dir.join(name);
        let manifest = read_manifest(name, &dir).await.map_err(|e| (e, None))?;
        let tag = Some((manifest.version.clone(), manifest.kind));
        self.prepare(name, &dir, manifest)
            .await
            .map_err(|e| (e, tag))
    }

    async fn prepare(
        &self,
        name: &str,
        dir: &Path,
        manifest: Manifest,
    ) -> Result<LoadedPlugin, LoadError> {
        let version = manifest.version.clone();
        let err = |message: String| LoadError::new(name, message).version(&version);
        let wasm_path = dir.join("plugin.wasm");
        let wasm = read_wasm(&wasm_path)
            .await
            .map_err(|m| err(m).file(&wasm_path))?;
        let wasm_sha256 = hex::encode(Sha256::digest(&wasm));
        let settings = self.inner.config.plugin(name);
        let config_file = || PathBuf::from(format!("switchboard.toml [plugins.{name}]"));
        let caps = Capabilities::effective(&manifest.capabilities, &settings.grants)
            .map_err(|m| err(m).file(config_file()))?;
        let rt = &self.inner.config.runtime;
        let memory_mb = [
            manifest.limits.memory_mb.unwrap_or(rt.default_memory_mb),
            settings.limits.memory_mb.unwrap_or(u32::MAX),
            rt.max_memory_mb,
        ]
        .into_iter()
        .min()
        .unwrap_or(rt.default_memory_mb)
        .max(1);
        let timeout_ms = [
            manifest.limits.timeout_ms.unwrap_or(rt.default_timeout_ms),
            settings.limits.timeout_ms.unwrap_or(u64::MAX),
            rt.max_timeout_ms,
        ]
        .into_iter()
        .min()
        .unwrap_or(rt.default_timeout_ms)
        .max(1);
        let mut config = BTreeMap::new();
        for (key, value) in manifest.config.iter().chain(settings.config.iter()) {
            config.insert(key.clone(), config_value(value));
        }
        let kv = if caps.kv {
            Some(
                self.inner
                    .store
                    .plugin_kv(name)
                    .map_err(|e| err(e.to_string()))?,
            )
        } else {
            None
        };

        let engine = self.inner.engine.clone();
        let inner = self.inner.clone();
        let component = tokio::task::spawn_blocking(move || inner.cache.load(&engine, &wasm))
            .await
            .map_err(|e| err(format!("compilation aborted: {e}")))?
            .map_err(|e| {
                err(format!("not a valid component: {}", first_line(&e))).file(&wasm_path)
            })?;
        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            err(format!(
                "imports something this host does not provide: {}",
                error_chain(&e)
            ))
            .file(&wasm_path)
        })?;
        let world = |e: wasmtime::Error| {
            err(format!(
                "does not implement the `{}` world of switchboard:plugin@{API_VERSION}: {}",
                manifest.kind,
                error_chain(&e)
            ))
            .file(&wasm_path)
        };
        let pre = match manifest.kind {
            PluginKind::Channel => {
                WorldPre::Channel(bindings::channel::ChannelPre::new(instance_pre).map_err(world)?)
            }
            PluginKind::Bot => {
                WorldPre::Bot(bindings::bot::BotPre::new(instance_pre).map_err(world)?)
            }
            PluginKind::Crm => {
                WorldPre::Crm(bindings::crm::CrmPre::new(instance_pre).map_err(world)?)
            }
            PluginKind::Router => {
                WorldPre::Router(bindings::router::RouterPre::new(instance_pre).map_err(world)?)
            }
        };
        let ctx = Arc::new(PluginContext {
            name: name.to_string(),
            version: manifest.version.clone(),
            caps,
            config,
            kv,
            customers: self.inner.customers.clone(),
            memory_mb,
            timeout: Duration::from_millis(timeout_ms),
        });
        let mut plugin = LoadedPlugin {
            manifest,
            ctx,
            pre,
            channel_info: None,
            wasm_sha256,
            loaded_at: SystemTime::now(),
            warm_routers: std::sync::Mutex::new(Vec::new()),
        };
        if let WorldPre::Channel(pre) = &plugin.pre {
            let info = run(&self.inner.engine, &plugin.ctx, async |store| {
                pre.instantiate_async(&mut *store)
                    .await?
                    .call_describe(&mut *store)
                    .await
            })
            .await
            .map_err(|e| match e {
                RunError::Fault(f) => err(format!("describe() failed: {f}")),
                RunError::Busy(m) => err(format!("describe() could not run: {m}")),
            })?;
            plugin.channel_info = Some(info);
        }
        Ok(plugin)
    }

    /// Looks up a plugin that can take a call of `kind`.
    fn begin(
        &self,
        name: &str,
        kind: PluginKind,
    ) -> Result<(Arc<PluginSlot>, Arc<LoadedPlugin>), CallError> {
        let slot = self
            .slot(name)
            .ok_or_else(|| CallError::NotFound(name.to_string()))?;
        if slot.is_disabled() {
            return Err(CallError::Disabled(name.to_string()));
        }
        let plugin = slot
            .current
            .load_full()
            .ok_or_else(|| CallError::NotLoaded {
                plugin: name.to_string(),
                error: slot.load_error().unwrap_or_else(|| "not loaded".into()),
            })?;
        if plugin.manifest.kind != kind {
            return Err(CallError::WrongKind {
                plugin: name.to_string(),
                expected: kind,
                actual: plugin.manifest.kind,
            });
        }
        if slot.circuit_open() {
            return Err(CallError::CircuitOpen {
                plugin: name.to_string(),
                version: plugin.manifest.version.clone(),
            });
        }
        Ok((slot, plugin))
    }

    /// Charges a call's outcome to the plugin's health.
    fn settle<T>(
        &self,
        slot: &PluginSlot,
        plugin: &LoadedPlugin,
        outcome: Result<T, RunError>,
    ) -> Result<T, CallError> {
        match outcome {
            Ok(value) => {
                slot.record_success();
                Ok(value)
            }
            Err(RunError::Busy(message)) => Err(CallError::Busy {
                plugin: slot.name.clone(),
                version: plugin.manifest.version.clone(),
                message,
            }),
            Err(RunError::Fault(fault)) => Err(self.fault(slot, plugin, fault, false)),
        }
    }

    fn fault(
        &self,
        slot: &PluginSlot,
        plugin: &LoadedPlugin,
        fault: Fault,
        after_success: bool,
    ) -> CallError {
        let threshold = self.inner.config.runtime.circuit_open_after;
        let opened = if after_success {
            slot.record_output_fault(&fault, threshold)
        } else {
            slot.record_fault(&fault, threshold)
        };
        tracing::warn!(plugin = %slot.name, version = %plugin.manifest.version, %fault, "plugin call failed");
        if opened {
            tracing::error!(plugin = %slot.name, version = %plugin.manifest.version, "circuit opened after {threshold} consecutive failures; calls refused until reload");
        }
        CallError::Fault {
            plugin: slot.name.clone(),
            version: plugin.manifest.version.clone(),
            fault,
        }
    }

    /// A plugin-reported error of kind `internal` is a fault of the plugin.
    fn check_reported<T>(
        &self,
        slot: &PluginSlot,
        plugin: &LoadedPlugin,
        result: &Result<T, PluginError>,
    ) {
        if let Err(e) = result
            && e.kind == ErrorKind::Internal
        {
            self.fault(slot, plugin, Fault::Internal(e.message.clone()), true);
        }
    }

    // ---- typed calls, one per export ------------------------------------

    /// `router.select`. An `assign` naming an agent that is not a candidate
    /// is a fault.
    pub async fn route_select(
        &self,
        name: &str,
        task: &RouteTask,
        candidates: &Candidates,
    ) -> Result<Decision, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Router)?;
        let WorldPre::Router(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = self
            .warm_router_call(&plugin, pre, async |router, store| {
                router.call_select(store, task, candidates).await
            })
            .instrument(tracing::debug_span!("plugin.select", plugin = name, task = %task.id))
            .await;
        let decision = self.settle(&slot, &plugin, outcome)?;
        if let Decision::Assign(agent) = decision
            && !candidates.agents.contains(&agent)
        {
            return Err(self.fault(
                &slot,
                &plugin,
                Fault::InvalidOutput(format!("assigned agent {agent}, which is not a candidate")),
                true,
            ));
        }
        Ok(decision)
    }

    /// Runs a router call in a warm instance when one is free (routers run
    /// on every assignment, and a decision costs less than instantiating).
    /// Only an instance whose call succeeded goes back to the pool, so
    /// nothing survives a trap, a timeout or a memory fault.
    async fn warm_router_call<T>(
        &self,
        plugin: &LoadedPlugin,
        pre: &bindings::router::RouterPre<State>,
        call: impl AsyncFnOnce(
            &bindings::router::Router,
            &mut wasmtime::Store<State>,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, RunError> {
        let warm = plugin
            .warm_routers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let (mut store, router) = match warm {
            Some((mut store, router)) => {
                store.data_mut().rearm(plugin.ctx.timeout);
                store.set_epoch_deadline(1);
                (store, Some(router))
            }
            None => (State::store(&self.inner.engine, &plugin.ctx), None),
        };
        let mut instance = None;
        let outcome = run_in(&mut store, &plugin.ctx, async |store| {
            let router = match router {
                Some(r) => r,
                None => pre.instantiate_async(&mut *store).await?,
            };
            let value = call(&router, &mut *store).await?;
            instance = Some(router);
            Ok(value)
        })
        .await;
        if outcome.is_ok()
            && store.data().stderr_is_empty()
            && let Some(router) = instance
        {
            let mut pool = plugin
                .warm_routers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if pool.len() < WARM_ROUTERS {
                pool.push((store, router));
            }
        }
        outcome
    }

    /// `router.prioritize`.
    pub async fn route_prioritize(&self, name: &str, task: &RouteTask) -> Result<u32, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Router)?;
        let WorldPre::Router(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = self
            .warm_router_call(&plugin, pre, async |router, store| {
                router.call_prioritize(store, task).await
            })
            .instrument(tracing::debug_span!("plugin.prioritize", plugin = name, task = %task.id))
            .await;
        self.settle(&slot, &plugin, outcome)
    }

    /// `channel.handle-webhook`. A response status outside 100..=599 is a
    /// fault.
    pub async fn channel_webhook(
        &self,
        name: &str,
        request: &HttpRequest,
    ) -> Result<Result<WebhookOutcome, PluginError>, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Channel)?;
        let WorldPre::Channel(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = run(&self.inner.engine, &plugin.ctx, async |store| {
            pre.instantiate_async(&mut *store)
                .await?
                .call_handle_webhook(&mut *store, request)
                .await
        })
        .instrument(tracing::debug_span!("plugin.webhook", plugin = name))
        .await;
        let result = self.settle(&slot, &plugin, outcome)?;
        if let Ok(outcome) = &result {
            let status = outcome.response.status;
            if !(100..=599).contains(&status) {
                return Err(self.fault(
                    &slot,
                    &plugin,
                    Fault::InvalidOutput(format!("HTTP status {status} is not valid")),
                    true,
                ));
            }
        }
        self.check_reported(&slot, &plugin, &result);
        Ok(result)
    }

    /// `channel.deliver`.
    pub async fn channel_deliver(
        &self,
        name: &str,
        action: &OutboundAction,
    ) -> Result<Result<Delivery, DeliveryError>, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Channel)?;
        let WorldPre::Channel(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = run(&self.inner.engine, &plugin.ctx, async |store| {
            pre.instantiate_async(&mut *store)
                .await?
                .call_deliver(&mut *store, action)
                .await
        })
        .instrument(tracing::debug_span!("plugin.deliver", plugin = name))
        .await;
        self.settle(&slot, &plugin, outcome)
    }

    /// `bot.on-message`.
    pub async fn bot_message(
        &self,
        name: &str,
        context: &BotContext,
        message: &InboundMessage,
    ) -> Result<BotAction, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Bot)?;
        let WorldPre::Bot(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = run(&self.inner.engine, &plugin.ctx, async |store| {
            pre.instantiate_async(&mut *store).await?.call_on_message(&mut *store, context, message).await
        })
        .instrument(tracing::debug_span!("plugin.on_message", plugin = name, conversation = %context.conversation_id))
        .await;
        self.settle(&slot, &plugin, outcome)
    }

    /// `crm.on-event`.
    pub async fn crm_event(
        &self,
        name: &str,
        event: &CrmEvent,
    ) -> Result<Result<(), PluginError>, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Crm)?;
        let WorldPre::Crm(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = run(&self.inner.engine, &plugin.ctx, async |store| {
            pre.instantiate_async(&mut *store)
                .await?
                .call_on_event(&mut *store, event)
                .await
        })
        .instrument(tracing::debug_span!("plugin.on_event", plugin = name))
        .await;
        let result = self.settle(&slot, &plugin, outcome)?;
        self.check_reported(&slot, &plugin, &result);
        Ok(result)
    }

    /// `crm.enrich`.
    pub async fn crm_enrich(
        &self,
        name: &str,
        customer: &Customer,
    ) -> Result<Result<Vec<(String, String)>, PluginError>, CallError> {
        let (slot, plugin) = self.begin(name, PluginKind::Crm)?;
        let WorldPre::Crm(pre) = &plugin.pre else {
            unreachable!("kind checked")
        };
        let outcome = run(&self.inner.engine, &plugin.ctx, async |store| {
            pre.instantiate_async(&mut *store)
                .await?
                .call_enrich(&mut *store, customer)
                .await
        })
        .instrument(tracing::debug_span!("plugin.enrich", plugin = name, customer = %customer.id))
        .await;
        let result = self.settle(&slot, &plugin, outcome)?;
        self.check_reported(&slot, &plugin, &result);
        Ok(result)
    }
}

/// Why an admin reload / enable / disable did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// No such plugin directory.
    #[error("no plugin named `{0}`")]
    NotFound(String),
    /// The plugin is disabled; enable it first.
    #[error("plugin `{0}` is disabled")]
    Disabled(String),
    /// The bundle does not load; the previous version keeps serving.
    #[error(transparent)]
    Load(LoadError),
    /// The admin toggle could not be saved.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Runs one call in a fresh store with the plugin's limits and deadline, and
/// classifies how it ended.
async fn run<T>(
    engine: &Engine,
    ctx: &Arc<PluginContext>,
    call: impl AsyncFnOnce(&mut wasmtime::Store<State>) -> wasmtime::Result<T>,
) -> Result<T, RunError> {
    let mut store = State::store(engine, ctx);
    run_in(&mut store, ctx, call).await
}

/// Runs a call in `store` (fresh, or a warm router's re-armed one) under the
/// plugin's deadline and classifies how it ended.
async fn run_in<T>(
    store: &mut wasmtime::Store<State>,
    ctx: &Arc<PluginContext>,
    call: impl AsyncFnOnce(&mut wasmtime::Store<State>) -> wasmtime::Result<T>,
) -> Result<T, RunError> {
    let deadline = store.data().deadline();
    let result = tokio::time::timeout_at(deadline.into(), call(store)).await;
    let trace = store.data().trace();
    if let Some(violation) = trace.violation {
        return Err(RunError::Fault(Fault::CapabilityDenied(violation)));
    }
    let result = match result {
        Err(_elapsed) => {
            return Err(RunError::Fault(Fault::Timeout {
                ms: ctx.timeout.as_millis() as u64,
            }));
        }
        Ok(result) => result,
    };
    match result {
        Ok(value) => Ok(value),
        Err(_) if trace.timed_out => Err(RunError::Fault(Fault::Timeout {
            ms: ctx.timeout.as_millis() as u64,
        })),
        Err(_) if trace.memory_exceeded => {
            Err(RunError::Fault(Fault::MemoryLimit { mb: ctx.memory_mb }))
        }
        Err(e) => {
            let chain = error_chain(&e);
            if chain.contains("concurrent") && chain.contains("limit") {
                return Err(RunError::Busy(chain));
            }
            let mut message = match e.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => trap.to_string(),
                None => first_line(&e),
            };
            if let Some(panic) = panic_message(&store.data().stderr_text()) {
                message = format!("{message} ({panic})");
            }
            Err(RunError::Fault(Fault::Trap(message)))
        }
    }
}

/// The guest's panic message from its stderr: `panicked at <place>:` and the
/// message lines after it, without the thread name and backtrace note.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
    let first = lines.next()?;
    let place = &first[first.find("panicked at")?..];
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    Some(format!("{place} {}", message.join(" ")).trim().to_string())
}

async fn read_manifest(name: &str, dir: &Path) -> Result<Manifest, LoadError> {
    let path = dir.join("plugin.toml");
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| LoadError::new(name, format!("cannot read: {e}")).file(&path))?;
    Manifest::parse(name, &text).map_err(|m| LoadError::new(name, m).file(&path))
}

/// Reads `plugin.wasm` and checks it is a component before compiling it, so
/// the common mistakes get a precise message.
async fn read_wasm(path: &Path) -> Result<Vec<u8>, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_WASM_BYTES {
        return Err(format!(
            "larger than {} MiB",
            MAX_WASM_BYTES / (1024 * 1024)
        ));
    }
    let wasm = tokio::fs::read(path)
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err("not a WebAssembly file".into());
    }
    // Bytes 4..8: version and layer. Components are layer 1; core modules 0.
    if wasm[6..8] == [0, 0] {
        return Err(
            "a core WebAssembly module, not a component: build the plugin for the wasm32-wasip2 target"
                .into(),
        );
    }
    Ok(wasm)
}

/// A plugin config value as a string: strings as they are, everything else
/// as JSON.
fn config_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

fn error_chain(e: &wasmtime::Error) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Keeps the plugins directory watcher alive; dropping it stops watching.
pub struct WatchHandle {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WatchHandle {
    /// Stops watching and waits until the watcher (and the runtime handle it
    /// holds) is gone.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Checks a bundle directory without a running host (for
/// `switchboard plugins`): parses, compiles and links it.
pub async fn check_bundle(
    config: Arc<Config>,
    plugins_dir: &Path,
    name: &str,
    store: Store,
) -> Result<PluginInfo, LoadError> {
    let rt = Runtime::new(RuntimeOptions {
        config,
        plugins_dir: plugins_dir.to_path_buf(),
        cache_dir: std::env::temp_dir().join("switchboard-check-cache"),
        store,
        customers: Arc::new(NoCustomers),
    })
    .map_err(|e| LoadError::new(name, format!("{e:#}")))?;
    rt.load(name).await?;
    rt.plugin(name)
        .ok_or_else(|| LoadError::new(name, "not found"))
}
