//! The first-party plugin bundles, embedded at build time, and seeding them
//! into a fresh plugins directory.

use std::io;
use std::path::Path;

/// One embedded plugin bundle.
#[derive(Debug, Clone, Copy)]
pub struct Bundle {
    /// The plugin (directory) name.
    pub name: &'static str,
    /// `plugin.toml`.
    pub manifest: &'static str,
    /// `plugin.wasm`.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundles.rs"));

/// Writes the embedded bundles into `plugins_dir` when it is absent or empty,
/// and returns the names written (none when the directory already had
/// content: an admin's plugins directory is never touched).
pub fn seed(plugins_dir: &Path) -> io::Result<Vec<&'static str>> {
    if plugins_dir.exists() && std::fs::read_dir(plugins_dir)?.next().is_some() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(plugins_dir)?;
    for bundle in BUNDLES {
        let dir = plugins_dir.join(bundle.name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("plugin.toml"), bundle.manifest)?;
        std::fs::write(dir.join("plugin.wasm"), bundle.wasm)?;
    }
    Ok(BUNDLES.iter().map(|b| b.name).collect())
}

/// Whether these are the files of a bundle embedded in this binary: the
/// first-party bundles are trusted by their digests, unsigned.
pub fn is_first_party(manifest: &[u8], wasm: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    static DIGESTS: std::sync::OnceLock<Vec<([u8; 32], [u8; 32])>> = std::sync::OnceLock::new();
    let digests = DIGESTS.get_or_init(|| {
        BUNDLES
            .iter()
            .map(|b| {
                (
                    Sha256::digest(b.manifest).into(),
                    Sha256::digest(b.wasm).into(),
                )
            })
            .collect()
    });
    let pair: ([u8; 32], [u8; 32]) = (Sha256::digest(manifest).into(), Sha256::digest(wasm).into());
    digests.contains(&pair)
}
