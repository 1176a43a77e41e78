//! What is installed and how healthy it is, and the admin's reload,
//! enable and disable (enable/disable are remembered across restarts).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::wit::channeling::ChannelInfo;

use super::registry::PluginSlot;
use super::{LoadError, PluginInfo, PluginKind, Runtime};

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

impl Runtime {
    /// All installed plugins.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.inner
            .slots
            .load()
            .values()
            .map(|s| self.info(s))
            .collect()
    }

    /// The plugins of `kind` that are loaded, enabled and configured, by
    /// name (what takes calls and events): cheap
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
                        .is_some_and(|p| p.manifest.kind == kind && p.missing_config.is_empty())
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

    /// The serving version of `name`, told apart from the next one by when
    /// it loaded, and whether it may read customers (`customers = "read"`
    /// declared and granted).
    pub fn serving(&self, name: &str) -> Option<(SystemTime, bool)> {
        let plugin = self.slot(name)?.current.load_full()?;
        Some((
            plugin.loaded_at,
            plugin.ctx.caps.customers == crate::config::CustomerAccess::Read,
        ))
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

    pub(super) fn insert_slot(&self, name: &str) -> Arc<PluginSlot> {
        let slot = Arc::new(PluginSlot::new(name));
        let mut map = BTreeMap::clone(&self.inner.slots.load());
        map.insert(name.to_string(), slot.clone());
        self.inner.slots.store(Arc::new(map));
        slot
    }
}
