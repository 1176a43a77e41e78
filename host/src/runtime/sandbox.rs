//! What one plugin call runs inside: the store state, the host imports with
//! their capability checks, the outbound HTTP policy and the memory limiter.
//!
//! A fresh [`State`] is built for every call, so nothing leaks between calls
//! and there is nothing to clean up after a trap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::store::{PluginKv, StoreError};

use super::RuntimeError;
use super::capabilities::Capabilities;
use super::limits::Limits;
use crate::wit::host;
use crate::wit::types::{Customer, Identity, TimelineEntry};

use super::host_api::HostState;

/// Read access to customers for plugins granted `customers = "read"`.
/// Implemented by the contact-center core; the runtime only calls it.
pub trait CustomerDirectory: Send + Sync {
    /// The customer owning `identity`.
    fn by_identity(&self, identity: &Identity) -> Result<Option<Customer>, StoreError>;
    /// The customer's latest `limit` timeline entries, oldest first.
    fn timeline(&self, customer_id: &str, limit: u32) -> Result<Vec<TimelineEntry>, StoreError>;
    /// Whether the customer owning `identity` has an open conversation on
    /// `channel`'s `thread` (what a channel may ask of its own threads,
    /// without `customers = "read"`).
    fn thread_open(
        &self,
        channel: &str,
        identity: &Identity,
        thread: &str,
    ) -> Result<bool, StoreError>;
    /// The task of that open conversation while it waits for an agent.
    fn waiting_task(
        &self,
        _channel: &str,
        _identity: &Identity,
        _thread: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// Who could take work now, for plugins telling customers whether anyone
/// is there. Implemented by the routing core once it exists (plugins load
/// before it), so the runtime holds it in a [`FloorSlot`].
pub trait Floor: Send + Sync {
    /// Agents available with free capacity for `kind`.
    fn agents_available(&self, kind: crate::kind::Kind) -> u32;
    /// Where waiting task `task` stands: its place among the waiting tasks
    /// of its kind and the estimated wait (ms); `None` when not waiting.
    fn queue_place(&self, task: &str) -> Option<(u32, Option<u64>)>;
    /// Whether `channel` (of `kind`) is open by its business hours now,
    /// when that changes next (unix ms) and that time in the calendar's
    /// own zone.
    fn business_hours(
        &self,
        channel: &str,
        kind: crate::kind::Kind,
    ) -> (bool, Option<u64>, Option<String>);
}

/// Where the [`Floor`] is put once the core is built.
pub type FloorSlot = Arc<std::sync::OnceLock<Arc<dyn Floor>>>;

/// A directory with no customers, for hosts (and tests) without a core.
pub struct NoCustomers;

impl CustomerDirectory for NoCustomers {
    fn by_identity(&self, _: &Identity) -> Result<Option<Customer>, StoreError> {
        Ok(None)
    }
    fn timeline(&self, _: &str, _: u32) -> Result<Vec<TimelineEntry>, StoreError> {
        Ok(Vec::new())
    }
    fn thread_open(&self, _: &str, _: &Identity, _: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// Everything about a loaded plugin version that its calls need; shared by
/// all of that version's calls.
pub(crate) struct PluginContext {
    pub name: String,
    pub version: String,
    pub caps: Capabilities,
    pub config: BTreeMap<String, String>,
    pub kv: Option<PluginKv>,
    pub customers: Arc<dyn CustomerDirectory>,
    /// Files agents send; channels only.
    pub files: Option<Arc<crate::attachments::Files>>,
    /// Who could take work now (empty until the core is built).
    pub floor: FloorSlot,
    /// A channel's kind, once `describe` said it (for its business hours).
    pub channel_kind: std::sync::OnceLock<crate::kind::Kind>,
    pub memory_mb: u32,
    pub timeout: Duration,
    /// Everything this plugin may consume.
    pub limits: Limits,
    /// Log lines dropped over the limits since this version loaded.
    pub logs_dropped: AtomicU64,
}

impl PluginContext {
    /// What the plugin uses of what it may use.
    pub fn usage(&self) -> Usage {
        let kv = self.kv.as_ref().map(PluginKv::usage).unwrap_or_default();
        Usage {
            kv_keys: kv.keys,
            kv_bytes: kv.bytes,
            logs_dropped: self.logs_dropped.load(Ordering::Relaxed),
        }
    }
}

/// A plugin's use of its limits, as the admin API shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// Keys in its key-value store.
    pub kv_keys: u64,
    /// Bytes of keys and values in its key-value store.
    pub kv_bytes: u64,
    /// Log lines dropped over the limits.
    pub logs_dropped: u64,
}

/// The `T` of every plugin `Store<T>`.
pub(crate) struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    outbound: OutboundPolicy,
    host: HostState,
    limiter: MemoryLimiter,
    stderr: MemoryOutputPipe,
    deadline: Instant,
    timed_out: bool,
}

/// What a finished call left behind, for classifying its outcome.
pub(crate) struct CallTrace {
    pub timed_out: bool,
    pub memory_exceeded: bool,
    pub violation: Option<String>,
    /// A limit the call went past (its key-value store's).
    pub over_limit: Option<String>,
}

/// Largest stderr output kept from one call (for trap messages).
const STDERR_CAPTURE: usize = 4096;

impl State {
    fn new(ctx: Arc<PluginContext>, deadline: Instant) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // No preopens, no environment, no arguments, no sockets: the only way
        // out is the host interface and the checked `wasi:http` handler.
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        State {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: OutboundPolicy {
                ctx: ctx.clone(),
                denied: None,
            },
            limiter: MemoryLimiter {
                max_bytes: ctx.memory_mb as usize * 1024 * 1024,
                exceeded: false,
            },
            host: HostState::new(ctx),
            stderr,
            deadline,
            timed_out: false,
        }
    }

    /// A store for one call of the plugin, with its memory limit and deadline.
    pub fn store(engine: &wasmtime::Engine, ctx: &Arc<PluginContext>) -> Store<State> {
        let deadline = Instant::now() + ctx.timeout;
        let mut store = Store::new(engine, State::new(ctx.clone(), deadline));
        store.limiter(|s| &mut s.limiter);
        // Yield to the executor on every epoch tick so a busy plugin never
        // holds a tokio worker for more than a tick, and trap at the deadline.
        store.epoch_deadline_callback(|mut cx| {
            let state = cx.data_mut();
            if Instant::now() >= state.deadline {
                state.timed_out = true;
                return Err(wasmtime::format_err!("deadline exceeded"));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Prepares a warm instance's state for its next call: a new deadline,
    /// a fresh log budget, no recorded violation.
    pub fn rearm(&mut self, timeout: Duration) {
        self.deadline = Instant::now() + timeout;
        self.timed_out = false;
        self.host.rearm();
        self.outbound.denied = None;
    }

    /// When the call must be finished.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// What the call left behind.
    pub fn trace(&self) -> CallTrace {
        CallTrace {
            timed_out: self.timed_out,
            memory_exceeded: self.limiter.exceeded,
            violation: self
                .host
                .violation()
                .clone()
                .or_else(|| self.outbound.denied.clone()),
            over_limit: self.host.over_limit().clone(),
        }
    }

    /// Whether the plugin has written nothing to stderr. Warm instances
    /// that did are not reused: the capture buffer is bounded and would fill.
    pub fn stderr_is_empty(&self) -> bool {
        self.stderr.contents().is_empty()
    }

    /// What the plugin wrote to stderr (read only when a call failed: it
    /// holds the guest's panic message).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The linker every plugin is instantiated against: WASI 0.2 (with nothing
/// granted), `wasi:http` (checked per request), and the Switchboard host API.
pub(crate) fn linker(engine: &wasmtime::Engine) -> Result<Linker<State>, RuntimeError> {
    let error = |e: wasmtime::Error| RuntimeError::Linker(format!("{e:#}"));
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(error)?;
    host::add_to_linker::<State, HasSelf<HostState>>(&mut linker, |s| &mut s.host)
        .map_err(error)?;
    // Components built for 0.3, 0.2 or 0.1 import their version's `host`
    // interface: the same host, through the adapters.
    crate::wit::v0_3::host::add_to_linker::<State, HasSelf<HostState>>(&mut linker, |s| {
        &mut s.host
    })
    .map_err(error)?;
    crate::wit::v0_2::host::add_to_linker::<State, HasSelf<HostState>>(&mut linker, |s| {
        &mut s.host
    })
    .map_err(error)?;
    crate::wit::v0_1::host::add_to_linker::<State, HasSelf<HostState>>(&mut linker, |s| {
        &mut s.host
    })
    .map_err(error)?;
    Ok(linker)
}

/// The memory limit. Growing past it traps at once (rather than letting the
/// allocator fail), so the error says what happened.
struct MemoryLimiter {
    max_bytes: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB exceeded",
                self.max_bytes / (1024 * 1024)
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        32
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        8
    }
}

/// Checks every outbound request against the granted hosts.
struct OutboundPolicy {
    ctx: Arc<PluginContext>,
    denied: Option<String>,
}

type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    IoFuture,
                )>,
            > + Send,
    > {
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let allowed = uri
            .host()
            .is_some_and(|host| self.ctx.caps.allows_http(host, uri.port_u16(), https));
        if !allowed {
            let target = uri.authority().map_or("<no host>", |a| a.as_str());
            let message = format!("outbound HTTP to `{target}` is not granted");
            tracing::warn!(plugin = %self.ctx.name, version = %self.ctx.version, "{message}; request not sent");
            self.denied.get_or_insert(message);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let mut options = options.unwrap_or_default();
        options
            .connect_timeout
            .get_or_insert(Duration::from_secs(5));
        options.first_byte_timeout.get_or_insert(self.ctx.timeout);
        options
            .between_bytes_timeout
            .get_or_insert(self.ctx.timeout);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as IoFuture,
            ))
        })
    }
}
