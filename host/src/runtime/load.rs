//! Loading: the one place that loads and unloads plugins. A bundle is
//! read, validated (manifest, component, world, imports, capabilities),
//! compiled (or taken from the compile cache) and linked off the call path,
//! then swapped in with one atomic store; calls in flight finish on the
//! version they started with. A bundle that does not load never
//! half-loads: the previous version keeps serving and the error is shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::config::{Config, IdentityTrust, SigningPolicy};
use crate::signing::{self, BundleDigest, SIGNATURE_FILE, Verdict};
use crate::store::Store;
use crate::wit::Contract;
use crate::wit::adapt::Adapt;
use crate::wit::types::Trust;

use super::call::{RunError, error_chain, first_line, run};
use super::limits::Limits;
use super::registry::{LoadedPlugin, WorldPre};
use super::sandbox::PluginContext;
use super::{
    Capabilities, LoadError, Manifest, NoCustomers, PluginInfo, PluginKind, Runtime, RuntimeOptions,
};

/// Largest `plugin.wasm` accepted.
const MAX_WASM_BYTES: u64 = 64 * 1024 * 1024;

impl Runtime {
    /// Loads every bundle in the plugins directory. Broken bundles are
    /// recorded (status `failed`), never fatal.
    pub async fn load_all(&self) {
        for name in self.bundle_names() {
            self.sync(&name).await;
        }
    }

    /// Names of the plugin directories present on disk.
    fn bundle_names(&self) -> Vec<String> {
        bundle_names(&self.inner.plugins_dir).unwrap_or_default()
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

    /// Removes a plugin whose directory is gone.
    pub(super) async fn unload(&self, name: &str) {
        let _guard = self.inner.load_lock.lock().await;
        let mut map = BTreeMap::clone(&self.inner.slots.load());
        if map.remove(name).is_some() {
            self.inner.slots.store(Arc::new(map));
            tracing::info!(plugin = name, "plugin unloaded (its directory is gone)");
        }
    }

    /// Whether the plugin is on: the admin's last toggle, else the config.
    fn enabled(&self, name: &str) -> bool {
        match self.inner.store.plugin_enabled_override(name) {
            Ok(Some(enabled)) => enabled,
            _ => self.inner.config.plugin(name).enabled,
        }
    }

    /// Loads (or reloads) a plugin and swaps it in. Calls in flight finish on
    /// the version they started with.
    pub(super) async fn load(&self, name: &str) -> Result<(), LoadError> {
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

    /// Validates a bundle in `dir` and prepares everything its calls need:
    /// capabilities, limits, config, the compiled and linked component.
    pub(super) async fn prepare(
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
        // Before anything is compiled: whether to trust it at all.
        let signature = self
            .check_signature(name, dir, &manifest, &wasm)
            .await
            .map_err(err)?;
        let settings = self.inner.config.plugin(name);
        let config_file = || PathBuf::from(format!("switchboard.toml [plugins.{name}]"));
        let mut config = BTreeMap::new();
        for (key, value) in manifest.config.iter().chain(settings.config.iter()) {
            config.insert(key.clone(), config_value(value));
        }
        let caps = Capabilities::effective(&manifest.capabilities, &settings.grants, &config)
            .map_err(|m| err(m.to_string()).file(config_file()))?;
        let missing_config: Vec<String> = manifest
            .required_config
            .iter()
            .filter(|key| config.get(*key).is_none_or(|v| v.trim().is_empty()))
            .cloned()
            .collect();
        let limits = Limits::effective(
            &manifest.limits,
            &settings.limits,
            &self.inner.config.runtime,
        );
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
        // The contract the component was built for: its own imports say
        // (a component that calls no host function imports none; its
        // manifest says then), and they must agree with its manifest.
        let declared = manifest.contract();
        let contract = match Contract::of_imports(
            component
                .component_type()
                .imports(&self.inner.engine)
                .map(|(name, _)| name),
        ) {
            Some(built) if built != declared => {
                return Err(err(format!(
                    "the component imports {built} but plugin.toml says `api = \"{}\"`: rebuild it against the SDK for {declared}, or set `api = \"{}\"`",
                    manifest.api,
                    built.as_str(),
                ))
                .file(&wasm_path));
            }
            Some(built) => built,
            None => declared,
        };
        let instance_pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            err(format!(
                "imports something this host does not provide: {}",
                error_chain(&e)
            ))
            .file(&wasm_path)
        })?;
        let world = |e: wasmtime::Error| {
            err(format!(
                "does not implement the `{}` world of {contract}: {}",
                manifest.kind,
                error_chain(&e)
            ))
            .file(&wasm_path)
        };
        let pre = WorldPre::new(manifest.kind, contract, instance_pre).map_err(world)?;
        if let Some(why) = contract.deprecation() {
            tracing::warn!(plugin = name, version = %manifest.version, "{why}");
        }
        let legacy_trust = legacy_trust(name, settings.trust_identities);
        let ctx = Arc::new(PluginContext {
            name: name.to_string(),
            version: manifest.version.clone(),
            caps,
            config,
            kv,
            customers: self.inner.customers.clone(),
            // Only channels deliver files.
            files: match manifest.kind {
                PluginKind::Channel => self.inner.files.clone(),
                _ => None,
            },
            floor: self.inner.floor.clone(),
            channel_kind: std::sync::OnceLock::new(),
            memory_mb: limits.memory_mb,
            timeout: Duration::from_millis(limits.timeout_ms),
            limits,
            logs_dropped: AtomicU64::new(0),
        });
        let mut plugin = LoadedPlugin {
            manifest,
            contract,
            ctx,
            pre,
            channel_info: None,
            legacy_trust,
            missing_config,
            wasm_sha256,
            signature,
            loaded_at: SystemTime::now(),
            warm_routers: Mutex::new(Vec::new()),
            warm_routers_v0_3: Mutex::new(Vec::new()),
            warm_routers_v0_2: Mutex::new(Vec::new()),
            warm_routers_v0_1: Mutex::new(Vec::new()),
        };
        let (engine, ctx) = (&self.inner.engine, &plugin.ctx);
        let described = match &plugin.pre {
            WorldPre::Channel(pre) => Some(
                run(engine, ctx, async |store| {
                    pre.instantiate_async(&mut *store)
                        .await?
                        .call_describe(&mut *store)
                        .await
                })
                .await,
            ),
            WorldPre::ChannelV0_3(pre) => Some(
                run(engine, ctx, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    Ok(instance.call_describe(&mut *store).await?.adapt())
                })
                .await,
            ),
            WorldPre::ChannelV0_2(pre) => Some(
                run(engine, ctx, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let info: crate::wit::v0_3::channeling::ChannelInfo =
                        instance.call_describe(&mut *store).await?.adapt();
                    Ok(info.adapt())
                })
                .await,
            ),
            WorldPre::ChannelV0_1(pre) => Some(
                run(engine, ctx, async |store| {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    let info: crate::wit::v0_2::channeling::ChannelInfo =
                        instance.call_describe(&mut *store).await?.adapt();
                    let info: crate::wit::v0_3::channeling::ChannelInfo = info.adapt();
                    Ok(info.adapt())
                })
                .await,
            ),
            _ => None,
        };
        if let Some(described) = described {
            let info = described.map_err(|e| match e {
                RunError::Fault(f) => err(format!("describe() failed: {f}")),
                RunError::Busy(m) => err(format!("describe() could not run: {m}")),
            })?;
            let _ = plugin
                .ctx
                .channel_kind
                .set(crate::kind::Kind::from_wit(info.kind));
            plugin.channel_info = Some(info);
        }
        Ok(plugin)
    }
}

/// The channels whose provider signs every webhook the first-party plugin
/// checks: built for 0.1, their identities are what the provider attested.
const SIGNED_CHANNELS: [&str; 4] = ["whatsapp", "sms", "voice", "email"];

/// How the host trusts identities a 0.1 channel reports (0.1 cannot say):
/// as the admin set (`[plugins.<name>] trust_identities`), else verified for
/// the first-party signed channels and claimed for any other.
fn legacy_trust(name: &str, admin: Option<IdentityTrust>) -> Trust {
    match admin {
        Some(IdentityTrust::Verified) => Trust::Verified,
        Some(IdentityTrust::Claimed) => Trust::Claimed,
        None if SIGNED_CHANNELS.contains(&name) => Trust::Verified,
        None => Trust::Claimed,
    }
}

async fn read_manifest(name: &str, dir: &Path) -> Result<Manifest, LoadError> {
    let path = dir.join("plugin.toml");
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| LoadError::new(name, format!("cannot read: {e}")).file(&path))?;
    Manifest::parse(name, &text).map_err(|m| LoadError::new(name, m.to_string()).file(&path))
}

impl Runtime {
    /// Verifies a bundle's signature under `[plugins.signing]`: the
    /// verdict when it may load, the reason when the policy refuses it.
    async fn check_signature(
        &self,
        name: &str,
        dir: &Path,
        manifest: &Manifest,
        wasm: &[u8],
    ) -> Result<Verdict, String> {
        let config = &self.inner.config.plugins.signing;
        if config.policy == SigningPolicy::Off {
            return Ok(Verdict::NotChecked);
        }
        let manifest_bytes = tokio::fs::read(dir.join("plugin.toml"))
            .await
            .map_err(|e| format!("cannot read plugin.toml: {e}"))?;
        let signature = match tokio::fs::read_to_string(dir.join(SIGNATURE_FILE)).await {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {SIGNATURE_FILE}: {e}")),
        };
        let digest = BundleDigest::of(
            name,
            &manifest.version,
            &manifest.kind.to_string(),
            &manifest.api,
            &manifest_bytes,
            wasm,
        );
        let first_party = crate::bundled::is_first_party(&manifest_bytes, wasm);
        let today = chrono::DateTime::from_timestamp_millis(crate::clock::now_ms() as i64)
            .unwrap_or_default()
            .date_naive();
        let verdict = signing::verify(config, &digest, signature.as_deref(), first_party, today);
        let Some(problem) = verdict.problem() else {
            return Ok(verdict);
        };
        if config.policy == SigningPolicy::Require {
            metrics::counter!("switchboard_plugin_signature_refusals_total", "plugin" => name.to_string())
                .increment(1);
            return Err(format!(
                "refused by [plugins.signing] policy \"require\": {problem}"
            ));
        }
        tracing::warn!(plugin = name, version = %manifest.version, "loading an untrusted bundle ([plugins.signing] policy \"warn\"): {problem}");
        Ok(verdict)
    }
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

/// The bundles in a plugins directory: its subdirectories but hidden ones
/// (editors' and uploaders' temporary files), by name.
pub fn bundle_names(plugins_dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(plugins_dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// A plugin config value as a string: strings as they are, everything else
/// as JSON.
fn config_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
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
        files: None,
    })
    .map_err(|e| LoadError::new(name, e.to_string()))?;
    rt.load(name).await?;
    rt.plugin(name)
        .ok_or_else(|| LoadError::new(name, "not found"))
}
