//! Plugin administration: what is installed and how healthy it is, uploads
//! of new bundles, and the admin's reload / enable / disable. The runtime
//! does the work; this is the core's door to it for the API.

use crate::runtime::manifest::valid_name;
use crate::runtime::{PluginInfo, RuntimeStats};

use super::{Core, CoreError};

impl Core {
    /// Every installed plugin.
    pub fn plugins(&self) -> Vec<PluginInfo> {
        self.runtime.plugins()
    }

    /// One installed plugin.
    pub fn plugin(&self, name: &str) -> Option<PluginInfo> {
        valid_name(name)
            .then(|| self.runtime.plugin(name))
            .flatten()
    }

    /// Validates an uploaded bundle exactly as loading would, then installs
    /// and loads it; returns the plugin and whether it is new. Nothing is
    /// written when it does not validate.
    pub async fn install_plugin(
        &self,
        manifest: &str,
        wasm: &[u8],
        signature: Option<&str>,
    ) -> Result<(PluginInfo, bool), CoreError> {
        Ok(self.runtime.install(manifest, wasm, signature).await?)
    }

    /// Reloads a plugin from its directory now (a broken bundle leaves the
    /// previous version serving).
    pub async fn reload_plugin(&self, name: &str) -> Result<PluginInfo, CoreError> {
        checked(name)?;
        Ok(self.runtime.reload(name).await?)
    }

    /// Turns a plugin on (remembered across restarts) and loads it.
    pub async fn enable_plugin(&self, name: &str) -> Result<PluginInfo, CoreError> {
        checked(name)?;
        Ok(self.runtime.enable(name).await?)
    }

    /// Turns a plugin off (remembered across restarts).
    pub async fn disable_plugin(&self, name: &str) -> Result<PluginInfo, CoreError> {
        checked(name)?;
        Ok(self.runtime.disable(name).await?)
    }

    /// Compile cache and pool figures.
    pub fn runtime_stats(&self) -> RuntimeStats {
        self.runtime.stats()
    }
}

/// A plugin name as a path segment: only names a plugin can have (no `/`,
/// `..` or `%2F` probing the plugins directory's neighbours).
fn checked(name: &str) -> Result<(), CoreError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(CoreError::NotFound(format!("no plugin named `{name}`")))
    }
}
