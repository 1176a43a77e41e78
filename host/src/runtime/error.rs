//! Errors at the runtime's boundary, always tagged with the plugin's name
//! (and version, once known) so an admin knows where to look.

use std::fmt;
use std::path::PathBuf;

use super::manifest::PluginKind;

/// A plugin bundle that could not be loaded. The previous version, if any,
/// keeps serving.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    /// The plugin (directory) name.
    pub plugin: String,
    /// The version from the manifest, once it parsed.
    pub version: Option<String>,
    /// The file at fault, if one is.
    pub file: Option<PathBuf>,
    /// What is wrong.
    pub message: String,
}

impl LoadError {
    pub(crate) fn new(plugin: &str, message: impl Into<String>) -> Self {
        LoadError {
            plugin: plugin.to_string(),
            version: None,
            file: None,
            message: message.into(),
        }
    }
    pub(crate) fn file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }
    pub(crate) fn version(mut self, version: &str) -> Self {
        self.version = Some(version.to_string());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin `{}`", self.plugin)?;
        if let Some(v) = &self.version {
            write!(f, " {v}")?;
        }
        if let Some(file) = &self.file {
            write!(f, ": {}", file.display())?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a plugin did wrong during one call. Each of these counts as a failure
/// of the plugin (towards `failing` and the circuit breaker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The call ran past its deadline and was cut off.
    Timeout {
        /// The deadline.
        ms: u64,
    },
    /// The plugin tried to grow its memory past its limit.
    MemoryLimit {
        /// The limit.
        mb: u32,
    },
    /// The plugin trapped (panicked, hit `unreachable`, ...).
    Trap(String),
    /// The plugin used a capability it was not granted.
    CapabilityDenied(String),
    /// The plugin went past one of its limits (key-value store, events,
    /// identities, output size).
    LimitExceeded(String),
    /// The plugin returned something the host cannot use.
    InvalidOutput(String),
    /// The plugin reported an `internal` error.
    Internal(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Timeout { ms } => write!(f, "deadline of {ms} ms exceeded"),
            Fault::MemoryLimit { mb } => write!(f, "memory limit of {mb} MiB exceeded"),
            Fault::Trap(msg) => write!(f, "trapped: {msg}"),
            Fault::CapabilityDenied(msg) => write!(f, "capability denied: {msg}"),
            Fault::LimitExceeded(msg) => write!(f, "limit exceeded: {msg}"),
            Fault::InvalidOutput(msg) => write!(f, "invalid output: {msg}"),
            Fault::Internal(msg) => write!(f, "internal error: {msg}"),
        }
    }
}

/// A plugin call that did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No plugin of that name is installed.
    #[error("no plugin named `{0}`")]
    NotFound(String),
    /// The plugin is of another kind.
    #[error("plugin `{plugin}` is a {actual} plugin, not a {expected} plugin")]
    WrongKind {
        /// The plugin.
        plugin: String,
        /// The kind the caller needs.
        expected: PluginKind,
        /// The plugin's kind.
        actual: PluginKind,
    },
    /// The admin disabled the plugin.
    #[error("plugin `{0}` is disabled")]
    Disabled(String),
    /// Required config keys are not set.
    #[error("plugin `{plugin}` is not configured: set {}", keys.iter().map(|k| format!("[plugins.{plugin}.config] {k}")).collect::<Vec<_>>().join(", "))]
    Unconfigured {
        /// The plugin.
        plugin: String,
        /// The keys to set.
        keys: Vec<String>,
    },
    /// The plugin failed to load and no earlier version is serving.
    #[error("plugin `{plugin}` is not loaded: {error}")]
    NotLoaded {
        /// The plugin.
        plugin: String,
        /// Its load error.
        error: String,
    },
    /// Too many consecutive failures: calls are refused until a reload.
    #[error(
        "plugin `{plugin}` {version}: circuit open after repeated failures (reload the plugin to close it)"
    )]
    CircuitOpen {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: String,
    },
    /// Every instance slot is in use; try again shortly.
    #[error("plugin `{plugin}` {version}: no free instance slot: {message}")]
    Busy {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: String,
        /// Detail.
        message: String,
    },
    /// The plugin misbehaved.
    #[error("plugin `{plugin}` {version}: {fault}")]
    Fault {
        /// The plugin.
        plugin: String,
        /// Its version.
        version: String,
        /// What it did.
        fault: Fault,
    },
}

impl CallError {
    /// The fault, when the plugin itself is to blame.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            CallError::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }
}

/// The runtime could not start (or start watching).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the engine configuration.
    #[error("creating the wasmtime engine: {0}")]
    Engine(String),
    /// The host functions could not be linked.
    #[error("linking the host functions: {0}")]
    Linker(String),
    /// The plugins directory cannot be watched.
    #[error("watching the plugins directory {}: {message}", dir.display())]
    Watch {
        /// The plugins directory.
        dir: PathBuf,
        /// Why.
        message: String,
    },
}
