//! The one wasmtime `Engine`: component model, epoch interruption driven by a
//! ticker thread, the pooling allocator, and the on-disk compile cache.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::RuntimeConfig;

use super::RuntimeError;

/// How often the epoch advances. Every running plugin yields to the async
/// executor once per tick and is cut off at the first tick past its deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Allocator {
    /// Preallocated slots; after a call only the pages it dirtied are reset
    /// in place (Linux `PAGEMAP_SCAN`, 6.7+), so the next call in the slot
    /// takes no page faults.
    PoolingPagemap,
    /// Preallocated slots, reset with `madvise`.
    Pooling,
    /// Memory mapped per instance.
    OnDemand,
}

/// The deepest stack a plugin's code may use, bytes (every plugin alike:
/// one engine runs them all).
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// Builds the engine. With `pooling`, instance slots, memories and fiber
/// stacks are preallocated and memory images are copy-on-write, which makes a
/// fresh instance per call cheap; `PAGEMAP_SCAN` is used where the kernel has
/// it. Falls back step by step when the OS refuses.
pub fn build_engine(cfg: &RuntimeConfig) -> Result<(Engine, Allocator), RuntimeError> {
    if cfg.pooling {
        // Measured on a 2-core Linux 6.18 machine (tests/benches/runtime.rs):
        // a fresh-instance no-op call costs ~7 us with PAGEMAP_SCAN and 1 MiB
        // kept resident, ~20 us with madvise resets (256 KiB kept), ~22 us
        // keeping nothing, ~50 us without pooling. Without the ioctl a large
        // resident window would be memset in full after every call, so the
        // window only grows when the ioctl is there.
        let attempts = [
            (
                Allocator::PoolingPagemap,
                wasmtime::Enabled::Yes,
                1024 * 1024,
            ),
            (Allocator::Pooling, wasmtime::Enabled::No, 256 * 1024),
        ];
        for (mode, pagemap, keep_resident) in attempts {
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool_config(
                cfg,
                pagemap,
                keep_resident,
            )));
            match Engine::new(&config) {
                Ok(engine) => return Ok((engine, mode)),
                Err(e) => {
                    tracing::debug!(?mode, error = %e, "allocator unavailable, trying the next")
                }
            }
        }
        tracing::warn!("pooling allocator unavailable, falling back to on-demand allocation");
    }
    let engine = Engine::new(&base_config()).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
    Ok((engine, Allocator::OnDemand))
}

fn pool_config(
    cfg: &RuntimeConfig,
    pagemap: wasmtime::Enabled,
    keep_resident: usize,
) -> PoolingAllocationConfig {
    let n = cfg.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::new();
    // A Rust wasip2 component holds 2-3 core instances, one memory and a few
    // tables; leave headroom for components built by other toolchains.
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(4))
        .total_memories(n.saturating_mul(2))
        .total_tables(n.saturating_mul(4))
        .total_stacks(n)
        .max_memory_size(cfg.max_memory_mb as usize * 1024 * 1024)
        .pagemap_scan(pagemap)
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(64 * 1024);
    pool
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        // A plugin that recurses without end traps at this depth (a fault
        // of that call); the async stack it runs on (2 MiB) keeps room
        // above it for the host functions it calls.
        .max_wasm_stack(MAX_WASM_STACK)
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed);
    // `perf record` can name plugin functions only with a map of the JIT
    // code; off by default because it writes a file per process to /tmp.
    if std::env::var_os("SWITCHBOARD_PERF_MAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a dedicated thread,
/// until the engine is dropped.
pub fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("switchboard-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// Compiled components on disk, keyed by the wasm's SHA-256 and the engine's
/// compatibility hash, so a restart (or a reload of a version seen before)
/// does not recompile.
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
    compiled: AtomicU64,
    hits: AtomicU64,
}

/// How many compiled artifacts to keep; older ones are deleted.
const CACHE_KEEP: usize = 256;

impl CompileCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: &Path, engine: &Engine) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            dir: dir.to_path_buf(),
            engine_key: format!("{:016x}", hasher.finish()),
            compiled: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    /// How many components were compiled since start.
    pub fn compiled(&self) -> u64 {
        self.compiled.load(Ordering::Relaxed)
    }

    /// How many components were loaded from the cache since start.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The component for `wasm`: from the cache when present and valid,
    /// otherwise compiled (blocking: call from a blocking thread) and stored.
    pub fn load(&self, engine: &Engine, wasm: &[u8]) -> Result<Component, wasmtime::Error> {
        let digest = hex::encode(Sha256::digest(wasm));
        let path = self.dir.join(format!("{digest}-{}.cwasm", self.engine_key));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` from this
            // same engine configuration (its name carries the engine's
            // compatibility hash) into the host's own data directory, and
            // wasmtime re-checks the header and engine settings on load.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    touch(&path);
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable compile cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let component = Component::new(engine, wasm)?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), error = %e, "cannot write compile cache entry");
        }
        Ok(component)
    }

    fn store(&self, path: &Path, component: &Component) -> Result<(), String> {
        let io = |e: std::io::Error| e.to_string();
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
        // Write then rename, so a crash never leaves a torn artifact behind.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        self.prune();
        Ok(())
    }

    fn prune(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if files.len() <= CACHE_KEEP {
            return;
        }
        files.sort();
        for (_, path) in &files[..files.len() - CACHE_KEEP] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Marks a cache entry as recently used, so pruning keeps it.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}
