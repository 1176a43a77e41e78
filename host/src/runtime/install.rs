//! Installing an uploaded plugin bundle: validated exactly as a load would
//! (manifest, component, world, imports, capabilities) before anything is
//! written, then placed in the plugins directory and loaded like any other.

use std::path::Path;

use crate::signing::SIGNATURE_FILE;

use super::manifest::Manifest;
use super::{LoadError, PluginInfo, Runtime};

/// Why an uploaded bundle was not installed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The bundle does not load (bad manifest, not a component, wrong
    /// world, missing imports...).
    #[error(transparent)]
    Invalid(LoadError),
    /// The plugins directory could not be written.
    #[error("writing the bundle: {0}")]
    Io(String),
}

impl Runtime {
    /// Validates a bundle and installs it as `<plugins dir>/<name>/` (the
    /// name comes from the manifest), replacing an existing version; returns
    /// the loaded plugin and whether it is new. A bundle that does not
    /// validate changes nothing on disk and leaves the running version
    /// serving.
    pub async fn install(
        &self,
        manifest_text: &str,
        wasm: &[u8],
        signature: Option<&str>,
    ) -> Result<(PluginInfo, bool), InstallError> {
        let name = toml::from_str::<toml::Table>(manifest_text)
            .ok()
            .and_then(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .ok_or_else(|| {
                InstallError::Invalid(LoadError::new(
                    "(upload)",
                    "plugin.toml must be TOML with a `name`",
                ))
            })?;
        let manifest = Manifest::parse(&name, manifest_text)
            .map_err(|m| InstallError::Invalid(LoadError::new(&name, m.to_string())))?;

        // Compile and link from a staging directory outside the plugins
        // directory (which the watcher would pick up half-written). The
        // compile lands in the cache, so the real load below is a hit.
        let staging = std::env::temp_dir().join(format!(
            "switchboard-upload-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let staged = async {
            tokio::fs::create_dir_all(&staging)
                .await
                .map_err(|e| InstallError::Io(e.to_string()))?;
            write_bundle(&staging, manifest_text, wasm, signature)
                .await
                .map_err(|e| InstallError::Io(e.to_string()))?;
            self.prepare(&name, &staging, manifest)
                .await
                .map(drop)
                // The staging path means nothing to the uploader.
                .map_err(|e| InstallError::Invalid(e.file("plugin.wasm")))
        }
        .await;
        let _ = tokio::fs::remove_dir_all(&staging).await;
        staged?;

        let dir = self.inner.plugins_dir.join(&name);
        let created = !dir.exists();
        write_bundle(&dir, manifest_text, wasm, signature)
            .await
            .map_err(|e| InstallError::Io(format!("{}: {e}", dir.display())))?;
        tracing::info!(plugin = %name, created, "plugin bundle installed");
        // Load now rather than after the watcher's debounce, so the caller
        // sees the result; a disabled plugin stays disabled.
        let _ = self.reload(&name).await;
        let info = self.plugin(&name).ok_or_else(|| {
            InstallError::Io(format!("plugin `{name}` vanished while installing"))
        })?;
        Ok((info, created))
    }
}

/// Writes the files under temporary names and renames them into place, so
/// a reader never sees a half-written file. The signature goes first (or
/// an old one goes), so that no moment pairs new files with an old
/// signature that a reload could trust.
async fn write_bundle(
    dir: &Path,
    manifest: &str,
    wasm: &[u8],
    signature: Option<&str>,
) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let sig_path = dir.join(SIGNATURE_FILE);
    match signature {
        Some(text) => {
            let partial = dir.join(format!(".{SIGNATURE_FILE}.upload"));
            tokio::fs::write(&partial, text).await?;
            tokio::fs::rename(&partial, &sig_path).await?;
        }
        None => match tokio::fs::remove_file(&sig_path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        },
    }
    for (file, bytes) in [("plugin.wasm", wasm), ("plugin.toml", manifest.as_bytes())] {
        let partial = dir.join(format!(".{file}.upload"));
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, dir.join(file)).await?;
    }
    Ok(())
}
