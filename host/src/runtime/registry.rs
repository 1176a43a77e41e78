//! The installed plugins: one slot per plugin name holding the version that
//! serves new calls (swapped atomically on reload) and its health.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use serde::Serialize;

use super::error::Fault;
use super::limits::Limits;
use super::manifest::{Manifest, PluginKind};
use super::sandbox::{PluginContext, State, Usage};
use crate::kind::Kind;
use crate::wit::channeling::ChannelInfo;
use crate::wit::types::Trust;
use crate::wit::{Contract, v0_1, v0_2, v0_3, v0_4};

/// The pre-linked component for one world of one contract version:
/// instantiating it is just allocating a slot and running initializers.
pub(crate) enum WorldPre {
    Channel(v0_4::channel::ChannelPre<State>),
    Bot(v0_4::bot::BotPre<State>),
    Crm(v0_4::crm::CrmPre<State>),
    Router(v0_4::router::RouterPre<State>),
    Automation(v0_4::automation::AutomationPre<State>),
    ChannelV0_3(v0_3::channel::ChannelPre<State>),
    BotV0_3(v0_3::bot::BotPre<State>),
    CrmV0_3(v0_3::crm::CrmPre<State>),
    RouterV0_3(v0_3::router::RouterPre<State>),
    ChannelV0_2(v0_2::channel::ChannelPre<State>),
    BotV0_2(v0_2::bot::BotPre<State>),
    CrmV0_2(v0_2::crm::CrmPre<State>),
    RouterV0_2(v0_2::router::RouterPre<State>),
    ChannelV0_1(v0_1::channel::ChannelPre<State>),
    BotV0_1(v0_1::bot::BotPre<State>),
    CrmV0_1(v0_1::crm::CrmPre<State>),
    RouterV0_1(v0_1::router::RouterPre<State>),
}

impl WorldPre {
    /// The world of `kind` in `contract` over a linked component; fails
    /// when the component does not export that world.
    pub fn new(
        kind: PluginKind,
        contract: Contract,
        pre: wasmtime::component::InstancePre<State>,
    ) -> wasmtime::Result<WorldPre> {
        use PluginKind::*;
        Ok(match (contract, kind) {
            (Contract::V0_4, Channel) => WorldPre::Channel(v0_4::channel::ChannelPre::new(pre)?),
            (Contract::V0_4, Bot) => WorldPre::Bot(v0_4::bot::BotPre::new(pre)?),
            (Contract::V0_4, Crm) => WorldPre::Crm(v0_4::crm::CrmPre::new(pre)?),
            (Contract::V0_4, Router) => WorldPre::Router(v0_4::router::RouterPre::new(pre)?),
            (Contract::V0_4, Automation) => {
                WorldPre::Automation(v0_4::automation::AutomationPre::new(pre)?)
            }
            (_, Automation) => wasmtime::bail!("automations need contract 0.4.1 or later"),
            (Contract::V0_3, Channel) => {
                WorldPre::ChannelV0_3(v0_3::channel::ChannelPre::new(pre)?)
            }
            (Contract::V0_3, Bot) => WorldPre::BotV0_3(v0_3::bot::BotPre::new(pre)?),
            (Contract::V0_3, Crm) => WorldPre::CrmV0_3(v0_3::crm::CrmPre::new(pre)?),
            (Contract::V0_3, Router) => WorldPre::RouterV0_3(v0_3::router::RouterPre::new(pre)?),
            (Contract::V0_2, Channel) => {
                WorldPre::ChannelV0_2(v0_2::channel::ChannelPre::new(pre)?)
            }
            (Contract::V0_2, Bot) => WorldPre::BotV0_2(v0_2::bot::BotPre::new(pre)?),
            (Contract::V0_2, Crm) => WorldPre::CrmV0_2(v0_2::crm::CrmPre::new(pre)?),
            (Contract::V0_2, Router) => WorldPre::RouterV0_2(v0_2::router::RouterPre::new(pre)?),
            (Contract::V0_1, Channel) => {
                WorldPre::ChannelV0_1(v0_1::channel::ChannelPre::new(pre)?)
            }
            (Contract::V0_1, Bot) => WorldPre::BotV0_1(v0_1::bot::BotPre::new(pre)?),
            (Contract::V0_1, Crm) => WorldPre::CrmV0_1(v0_1::crm::CrmPre::new(pre)?),
            (Contract::V0_1, Router) => WorldPre::RouterV0_1(v0_1::router::RouterPre::new(pre)?),
        })
    }
}

/// One loaded version of a plugin.
pub(crate) struct LoadedPlugin {
    pub manifest: Manifest,
    /// The contract version the component was built for.
    pub contract: Contract,
    pub ctx: Arc<PluginContext>,
    pub pre: WorldPre,
    /// What a channel plugin said about itself at load.
    pub channel_info: Option<ChannelInfo>,
    /// How the host trusts the identities a 0.1 channel reports (0.1 has
    /// no way to say).
    pub legacy_trust: Trust,
    /// Required config keys the admin has not set: the plugin is
    /// `unconfigured` and takes no calls until they are.
    pub missing_config: Vec<String>,
    pub wasm_sha256: String,
    /// Whether the bundle is trusted (`[plugins.signing]`).
    pub signature: crate::signing::Verdict,
    pub loaded_at: SystemTime,
    /// Live router instances kept between calls (routers run on every
    /// assignment; a fresh instance costs more than the decision). Dropped
    /// after any failed call and with this version on reload.
    pub warm_routers: Mutex<Vec<WarmRouter>>,
    /// The same for a router built for 0.3.
    pub warm_routers_v0_3: Mutex<Vec<WarmRouterV0_3>>,
    /// The same for a router built for 0.2.
    pub warm_routers_v0_2: Mutex<Vec<WarmRouterV0_2>>,
    /// The same for a router built for 0.1.
    pub warm_routers_v0_1: Mutex<Vec<WarmRouterV0_1>>,
}

/// A router instance and its store, ready for the next call.
pub(crate) type WarmRouter = (wasmtime::Store<State>, v0_4::router::Router);

/// A 0.3 router instance and its store.
pub(crate) type WarmRouterV0_3 = (wasmtime::Store<State>, v0_3::router::Router);

/// A 0.2 router instance and its store.
pub(crate) type WarmRouterV0_2 = (wasmtime::Store<State>, v0_2::router::Router);

/// A 0.1 router instance and its store.
pub(crate) type WarmRouterV0_1 = (wasmtime::Store<State>, v0_1::router::Router);

/// Warm router instances kept per loaded version.
pub(crate) const WARM_ROUTERS: usize = 4;

/// Health of a plugin, as the admin API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PluginStatus {
    /// Loaded and serving.
    Active,
    /// Serving, but its last calls failed.
    Failing,
    /// Too many consecutive failures: calls are refused until a reload.
    CircuitOpen,
    /// Not loaded (its bundle is broken and no earlier version serves).
    Failed,
    /// Loaded, but required config keys are not set (`missing_config`):
    /// it takes no calls and nothing is queued for it.
    Unconfigured,
    /// Turned off by the admin.
    Disabled,
}

/// What the admin API shows about a plugin.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginInfo {
    /// The plugin name.
    pub name: String,
    /// The serving version (or the broken bundle's, when none serves).
    pub version: Option<String>,
    /// The plugin kind.
    pub kind: Option<PluginKind>,
    /// The manifest's description.
    pub description: Option<String>,
    /// Health.
    pub status: PluginStatus,
    /// The latest load error (when a reload failed) or call error.
    pub error: Option<String>,
    /// Calls made since start.
    pub calls: u64,
    /// Failed calls since start.
    pub failures: u64,
    /// Failed calls in a row.
    pub consecutive_failures: u32,
    /// For channels, their channel kind.
    pub channel_kind: Option<&'static str>,
    /// The contract version the serving component was built for (older
    /// ones run through the adapters).
    pub api: Option<&'static str>,
    /// Set when that version is deprecated: until when it loads, and what
    /// to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<&'static str>,
    /// Required config keys not set yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_config: Vec<String>,
    /// The hosts (and ports) the plugin may reach: declared ∩ granted, its
    /// `config:` entries resolved.
    pub outbound_http: Vec<String>,
    /// What the serving version may consume.
    pub limits: Option<Limits>,
    /// What it uses of that.
    pub usage: Option<Usage>,
    /// SHA-256 of the serving `plugin.wasm`.
    pub wasm_sha256: Option<String>,
    /// Who signed the serving bundle, or why it is not trusted
    /// (`[plugins.signing]`).
    pub signature: Option<crate::signing::Verdict>,
    /// When the serving version was loaded (unix ms).
    pub loaded_at: Option<u64>,
    /// For channels, the bot that takes their new conversations
    /// (`[plugins.<name>] bot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot: Option<String>,
}

#[derive(Default)]
struct Errors {
    load: Option<String>,
    call: Option<String>,
    /// Version and kind of a bundle that failed to load, when its manifest
    /// parsed: shown while no version serves.
    failed_version: Option<(String, PluginKind)>,
}

/// A plugin name's slot.
pub(crate) struct PluginSlot {
    pub name: String,
    pub current: ArcSwapOption<LoadedPlugin>,
    calls: AtomicU64,
    failures: AtomicU64,
    consecutive: AtomicU32,
    circuit_open: AtomicBool,
    disabled: AtomicBool,
    errors: Mutex<Errors>,
}

impl PluginSlot {
    pub fn new(name: &str) -> Self {
        PluginSlot {
            name: name.to_string(),
            current: ArcSwapOption::empty(),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            circuit_open: AtomicBool::new(false),
            disabled: AtomicBool::new(false),
            errors: Mutex::new(Errors::default()),
        }
    }

    fn errors(&self) -> std::sync::MutexGuard<'_, Errors> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Acquire)
    }

    pub fn set_disabled(&self, disabled: bool) {
        self.disabled.store(disabled, Ordering::Release);
    }

    pub fn circuit_open(&self) -> bool {
        self.circuit_open.load(Ordering::Acquire)
    }

    pub fn load_error(&self) -> Option<String> {
        self.errors().load.clone()
    }

    /// Puts a new version in service: health starts over.
    pub fn install(&self, plugin: Arc<LoadedPlugin>) {
        self.current.store(Some(plugin));
        self.consecutive.store(0, Ordering::Release);
        self.circuit_open.store(false, Ordering::Release);
        let mut errors = self.errors();
        errors.load = None;
        errors.call = None;
        errors.failed_version = None;
    }

    /// Records a failed load; whatever version serves keeps serving.
    pub fn load_failed(&self, error: String, version: Option<(String, PluginKind)>) {
        let mut errors = self.errors();
        errors.load = Some(error);
        errors.failed_version = version;
    }

    pub fn record_success(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.consecutive.store(0, Ordering::Release);
    }

    /// Records a failed call; returns true when this failure opened the
    /// circuit.
    pub fn record_fault(&self, fault: &Fault, circuit_open_after: u32) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
        let consecutive = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        self.errors().call = Some(fault.to_string());
        consecutive >= circuit_open_after && !self.circuit_open.swap(true, Ordering::AcqRel)
    }

    /// Records a fault found in a call's output after the call itself was
    /// counted as a success.
    pub fn record_output_fault(&self, fault: &Fault, circuit_open_after: u32) -> bool {
        self.calls.fetch_sub(1, Ordering::Relaxed);
        self.record_fault(fault, circuit_open_after)
    }

    pub fn info(&self, failing_after: u32) -> PluginInfo {
        let current = self.current.load_full();
        let errors = self.errors();
        let consecutive = self.consecutive.load(Ordering::Acquire);
        let status = if self.is_disabled() {
            PluginStatus::Disabled
        } else if current.is_none() {
            PluginStatus::Failed
        } else if current
            .as_ref()
            .is_some_and(|p| !p.missing_config.is_empty())
        {
            PluginStatus::Unconfigured
        } else if self.circuit_open() {
            PluginStatus::CircuitOpen
        } else if consecutive >= failing_after {
            PluginStatus::Failing
        } else {
            PluginStatus::Active
        };
        let (version, kind, description) = match (&current, &errors.failed_version) {
            (Some(p), _) => (
                Some(p.manifest.version.clone()),
                Some(p.manifest.kind),
                Some(p.manifest.description.clone()),
            ),
            (None, Some((v, k))) => (Some(v.clone()), Some(*k), None),
            (None, None) => (None, None, None),
        };
        PluginInfo {
            name: self.name.clone(),
            version,
            kind,
            description,
            status,
            error: errors.load.clone().or_else(|| errors.call.clone()),
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            consecutive_failures: consecutive,
            channel_kind: current
                .as_ref()
                .and_then(|p| p.channel_info.as_ref())
                .map(|i| Kind::from_wit(i.kind).as_str()),
            api: current.as_ref().map(|p| p.contract.as_str()),
            deprecated: current.as_ref().and_then(|p| p.contract.deprecation()),
            missing_config: current
                .as_ref()
                .map(|p| p.missing_config.clone())
                .unwrap_or_default(),
            limits: current.as_ref().map(|p| p.ctx.limits),
            usage: current.as_ref().map(|p| p.ctx.usage()),
            outbound_http: current
                .as_ref()
                .map(|p| {
                    p.ctx
                        .caps
                        .outbound_http
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            wasm_sha256: current.as_ref().map(|p| p.wasm_sha256.clone()),
            signature: current.as_ref().map(|p| p.signature.clone()),
            loaded_at: current.as_ref().map(|p| {
                p.loaded_at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
            }),
            bot: None,
        }
    }
}
