//! Host configuration: `switchboard.toml`, overridden by `SWITCHBOARD_*`
//! environment variables and `--set key=value` flags.
//!
//! Every key can be overridden from the environment: the variable name is the
//! key path in upper case, prefixed with `SWITCHBOARD_`, with `__` between
//! table levels — `SWITCHBOARD_RUNTIME__DEFAULT_TIMEOUT_MS=500`,
//! `SWITCHBOARD_PLUGINS__WHATSAPP__CONFIG__APP_SECRET=…`. Values that parse as
//! TOML (numbers, booleans, arrays) are taken as such, anything else as a
//! string. `--set runtime.default_timeout_ms=500` does the same from the
//! command line and wins over the environment (see `load.rs`).

mod callbacks;
mod consent;
mod feeds;
mod floor;
mod hours;
mod http;
mod load;
mod redaction;
mod reports;
mod retention;
mod signing;
mod surveys;
mod templates;

pub use callbacks::CallbackConfig;
pub use consent::ConsentConfig;
pub use feeds::FeedsConfig;
pub use floor::FloorConfig;
pub use hours::{CalendarConfig, HoursConfig};
pub use http::HttpConfig;
pub use load::ConfigError;
pub use redaction::{Pattern, PatternRule, RedactionConfig};
pub use reports::ReportsConfig;
pub use retention::RetentionConfig;
pub use signing::{Plugins, SigningConfig, SigningPolicy, TrustedKey};
pub use surveys::SurveyConfig;
pub use templates::TemplateConfig;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole host configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Where the database, compile cache and admin token live.
    pub data_dir: PathBuf,
    /// Where plugin bundles live; `<data_dir>/plugins` when unset.
    pub plugins_dir: Option<PathBuf>,
    /// The admin bearer token. When unset, one is generated on first start,
    /// printed once and stored in `<data_dir>/admin-token`.
    pub admin_token: Option<String>,
    /// Largest request body accepted, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// What anyone on the network may do: connections, timeouts, limits.
    pub http: HttpConfig,
    /// The plugin runtime.
    pub runtime: RuntimeConfig,
    /// Per-plugin admin settings, by plugin name, and `[plugins.signing]`.
    pub plugins: Plugins,
    /// Identity resolution and merging.
    pub customers: CustomersConfig,
    /// The routing core: router, reservations, SLAs, capacity, escalation.
    pub routing: RoutingConfig,
    /// The agent floor: conversation labels.
    pub floor: FloorConfig,
    /// Delivery of agent and bot replies through channel plugins.
    pub outbox: OutboxConfig,
    /// Delivery of customer events to CRM plugins, and enrichment.
    pub crm: CrmConfig,
    /// What is masked in message text before it is stored.
    pub redaction: RedactionConfig,
    /// Opt-out and opt-in keywords on messaging channels.
    pub consent: ConsentConfig,
    /// How long message text and files are kept.
    pub retention: RetentionConfig,
    /// Business hours: when channels are open.
    pub hours: HoursConfig,
    /// Approved message templates per channel, by name.
    pub templates: BTreeMap<String, BTreeMap<String, TemplateConfig>>,
    /// Calling back callers who asked for it.
    pub callbacks: CallbackConfig,
    /// How outcomes are counted in reports.
    pub reports: ReportsConfig,
    /// Delivery of the event feed's outbound webhooks.
    pub feeds: FeedsConfig,
    /// Satisfaction surveys, by channel plugin.
    pub surveys: BTreeMap<String, SurveyConfig>,
    /// How acknowledged writes are made durable: `group_commit` (default) or
    /// `flush_each`.
    pub durability: crate::store::Durability,
    /// Memory the database may use to cache its pages, MiB. The host's
    /// memory under load is this plus live work, whatever the history's
    /// size on disk; the operating system caches the rest of the files.
    pub store_cache_mb: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./switchboard-data"),
            plugins_dir: None,
            admin_token: None,
            max_body_bytes: 1024 * 1024,
            http: HttpConfig::default(),
            runtime: RuntimeConfig::default(),
            floor: FloorConfig::default(),
            plugins: Plugins::default(),
            customers: CustomersConfig::default(),
            routing: RoutingConfig::default(),
            outbox: OutboxConfig::default(),
            crm: CrmConfig::default(),
            redaction: RedactionConfig::default(),
            consent: ConsentConfig::default(),
            retention: RetentionConfig::default(),
            hours: HoursConfig::default(),
            templates: BTreeMap::new(),
            callbacks: CallbackConfig::default(),
            reports: ReportsConfig::default(),
            feeds: FeedsConfig::default(),
            surveys: BTreeMap::new(),
            durability: crate::store::Durability::GroupCommit,
            store_cache_mb: crate::store::DEFAULT_CACHE_MB,
        }
    }
}

/// What to do when one event attests identities of two existing customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MergePolicy {
    /// Merge them into the older profile and audit the merge.
    #[default]
    Auto,
    /// Record a merge suggestion for an admin; keep both profiles.
    Suggest,
    /// Keep both profiles; record nothing.
    Off,
}

/// `[customers]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CustomersConfig {
    /// Region (ISO 3166 alpha-2) for phone numbers given without a country
    /// code, e.g. `US` turns `6505551234` into `+16505551234`.
    pub default_region: String,
    /// Merge policy.
    pub merge_policy: MergePolicy,
    /// How many identities one message may attest; the rest are ignored
    /// (a sender with more is suspect, not a reason to link more profiles).
    pub max_identities_per_event: usize,
}

impl Default for CustomersConfig {
    fn default() -> Self {
        CustomersConfig {
            default_region: "US".into(),
            max_identities_per_event: 10,
            merge_policy: MergePolicy::Auto,
        }
    }
}

/// A value per channel kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PerKind<T> {
    /// Voice calls.
    pub voice: T,
    /// Web chat.
    pub chat: T,
    /// WhatsApp, SMS.
    pub messaging: T,
    /// Email.
    pub email: T,
}

impl<T: Copy> PerKind<T> {
    /// The value for a channel kind named `voice`, `chat`, `messaging` or
    /// `email`.
    pub fn get(&self, kind: crate::kind::Kind) -> T {
        use crate::kind::Kind;
        match kind {
            Kind::Voice => self.voice,
            Kind::Chat => self.chat,
            Kind::Messaging => self.messaging,
            Kind::Email => self.email,
        }
    }
}

/// `[routing]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// The router plugin deciding assignments. If it is missing, fails or
    /// times out, the built-in longest-idle policy decides; `built-in` uses
    /// that policy without a plugin.
    pub router: String,
    /// How long an agent has to accept an offered task before it goes back
    /// to the queue and the agent is set `away`.
    pub reservation_timeout_ms: u64,
    /// After this long in the queue a task's required skills are dropped
    /// (escalation); 0 turns it off.
    pub escalate_after_ms: u64,
    /// Service-level target per channel kind: a task should be accepted
    /// within this many ms.
    pub sla_ms: PerKind<u64>,
    /// Default capacity per channel kind for agents that do not set one.
    pub default_capacity: PerKind<u32>,
    /// What a messaging, chat or email customer whose task waits behind
    /// others is told, per language (`en`, `de`…): `{position}` (her place
    /// among the waiting tasks of the kind) and `{wait}` (the estimate,
    /// `4 minutes`). Empty (the default): nothing is sent.
    pub queued_reply: BTreeMap<String, String>,
    /// The handle time wait estimates assume per channel kind until enough
    /// tasks of the kind have been completed to measure it.
    pub default_handle_ms: PerKind<u64>,
    /// Wrap-up time per channel kind: after `complete`, a task stays
    /// `wrapping` (holding the agent's capacity) this long; 0 completes at once.
    pub wrap_up_ms: PerKind<u64>,
    /// Base priority per channel kind (higher goes first).
    pub priority: PerKind<u32>,
    /// An agent on a voice task takes nothing else, and voice tasks go only
    /// to agents with no other work.
    pub voice_exclusive: bool,
    /// Skills every task from a channel plugin requires, by plugin name:
    /// `[routing.channel_skills.billing-line] billing = 3`.
    pub channel_skills: BTreeMap<String, BTreeMap<String, u8>>,
    /// Whether a task transferred to other skills keeps its place by its
    /// original age (`true`) or joins the queue as if new.
    pub transfer_keeps_age: bool,
    /// Extra priority a task transferred to other skills gets, unless the
    /// transfer names its own.
    pub transfer_priority: u32,
    /// The dispositions an agent may complete a task with; empty allows
    /// any (up to 64 characters).
    pub dispositions: Vec<String>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            router: "longest-idle".into(),
            reservation_timeout_ms: 30_000,
            escalate_after_ms: 120_000,
            sla_ms: PerKind {
                voice: 20_000,
                chat: 60_000,
                messaging: 300_000,
                email: 14_400_000,
            },
            default_capacity: PerKind {
                voice: 1,
                chat: 2,
                messaging: 3,
                email: 5,
            },
            queued_reply: BTreeMap::new(),
            default_handle_ms: PerKind {
                voice: 300_000,
                chat: 480_000,
                messaging: 600_000,
                email: 1_800_000,
            },
            wrap_up_ms: PerKind {
                voice: 0,
                chat: 0,
                messaging: 0,
                email: 0,
            },
            priority: PerKind {
                voice: 0,
                chat: 0,
                messaging: 0,
                email: 0,
            },
            voice_exclusive: true,
            channel_skills: BTreeMap::new(),
            transfer_keeps_age: true,
            transfer_priority: 0,
            dispositions: Vec::new(),
        }
    }
}

/// `[outbox]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Tries before a message is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_backoff_ms: u64,
    /// Longest delay between tries.
    pub max_backoff_ms: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 8,
            base_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
        }
    }
}

/// `[crm]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrmConfig {
    /// Tries before an event is dead-lettered (a CRM that stays down).
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_backoff_ms: u64,
    /// Longest delay between tries.
    pub max_backoff_ms: u64,
    /// Enrich a customer again when their `enriched_at` is older than this.
    pub enrich_ttl_ms: u64,
}

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            max_attempts: 10,
            base_backoff_ms: 1_000,
            max_backoff_ms: 60_000,
            enrich_ttl_ms: 24 * 60 * 60 * 1000,
        }
    }
}

/// Sandbox defaults and runtime tuning.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Memory limit for plugins whose manifest sets none.
    pub default_memory_mb: u32,
    /// Deadline per call for plugins whose manifest sets none.
    pub default_timeout_ms: u64,
    /// No plugin gets more memory than this, whatever its manifest says.
    pub max_memory_mb: u32,
    /// No plugin call may run longer than this.
    pub max_timeout_ms: u64,
    /// Use wasmtime's pooling allocator (faster instantiation; reserves
    /// virtual address space up front). Falls back to on-demand allocation if
    /// the pool cannot be created.
    pub pooling: bool,
    /// How many plugin instances may run at once (pool size).
    pub max_instances: u32,
    /// Watch the plugins directory and hot-reload changes.
    pub watch: bool,
    /// Quiet time after the last file change before a plugin is reloaded.
    pub reload_debounce_ms: u64,
    /// Consecutive failed calls after which a plugin is reported `failing`.
    pub failing_after: u32,
    /// Consecutive failed calls after which a plugin's circuit opens: calls
    /// are refused until the plugin is reloaded.
    pub circuit_open_after: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            default_memory_mb: 64,
            default_timeout_ms: 1_000,
            max_memory_mb: 512,
            max_timeout_ms: 30_000,
            pooling: true,
            max_instances: 1_000,
            watch: true,
            reload_debounce_ms: 200,
            failing_after: 3,
            circuit_open_after: 10,
        }
    }
}

/// The admin's settings for one plugin (`[plugins.<name>]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginSettings {
    /// Load the plugin at all.
    pub enabled: bool,
    /// Values overriding the manifest's `[config]` defaults.
    pub config: toml::Table,
    /// Narrows the capabilities the manifest declares. Keys left out keep the
    /// declared value; a plugin never gets more than it declares.
    pub grants: Grants,
    /// Lowers the manifest's limits.
    pub limits: LimitOverrides,
    /// For a channel: the bot plugin that takes each new conversation first
    /// (until it hands off or resolves).
    pub bot: Option<String>,
    /// For a channel built for contract 0.1 (which cannot say how it knows
    /// an identity): how the host trusts the identities it reports. Unset:
    /// verified for the first-party channels whose provider signs every
    /// webhook (whatsapp, sms, voice, email), claimed for any other.
    pub trust_identities: Option<IdentityTrust>,
}

/// How the host trusts the identities a channel reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityTrust {
    /// Authenticated by the provider: they link and merge profiles.
    Verified,
    /// Typed by the sender: the sender gets a profile of its own.
    Claimed,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            enabled: true,
            config: toml::Table::new(),
            grants: Grants::default(),
            limits: LimitOverrides::default(),
            bot: None,
            trust_identities: None,
        }
    }
}

/// Capabilities the admin grants. `None` means "as declared".
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// Hosts (`host` or `host:port`) the plugin may call.
    pub outbound_http: Option<Vec<String>>,
    /// Whether the plugin may use its key-value store.
    pub kv: Option<bool>,
    /// Whether the plugin may read customers.
    pub customers: Option<CustomerAccess>,
}

/// Access to the customer store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CustomerAccess {
    /// No access.
    #[default]
    None,
    /// Look-ups by identity and timelines.
    Read,
}

/// Limits the admin imposes; they can only lower the manifest's.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Memory limit in MiB.
    pub memory_mb: Option<u32>,
    /// Deadline per call in ms.
    pub timeout_ms: Option<u64>,
    /// Keys in its key-value store.
    pub kv_keys: Option<u64>,
    /// Bytes of keys and values in its key-value store.
    pub kv_bytes: Option<u64>,
    /// Log lines per call (the rest are dropped).
    pub log_lines: Option<u32>,
    /// Longest log line, bytes (longer ones are cut).
    pub log_line_bytes: Option<u32>,
    /// Events one webhook may report.
    pub events: Option<u32>,
    /// Identities one webhook may report.
    pub identities: Option<u32>,
    /// What one call may return, KiB.
    pub output_kb: Option<u32>,
}

impl Config {
    /// The plugins directory in effect.
    pub fn plugins_dir(&self) -> PathBuf {
        self.plugins_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("plugins"))
    }

    /// The admin's settings for a plugin. Environment variables cannot spell
    /// `-`, so `longest_idle` also matches the plugin `longest-idle`.
    pub fn plugin(&self, name: &str) -> PluginSettings {
        self.plugins
            .get(name)
            .or_else(|| self.plugins.get(&name.replace('-', "_")))
            .cloned()
            .unwrap_or_default()
    }
}
