//! Durable storage in sled: one database under `<data_dir>/db`.

use std::path::Path;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(#[from] sled::Error);

/// The host's database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

/// Largest key a plugin may store.
pub const MAX_KV_KEY: usize = 512;
/// Largest value a plugin may store.
pub const MAX_KV_VALUE: usize = 1024 * 1024;

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(200))
            .open()?;
        Ok(Store { db })
    }

    /// A plugin's private key-value namespace.
    pub fn plugin_kv(&self, plugin: &str) -> Result<PluginKv, StoreError> {
        Ok(PluginKv {
            tree: self.db.open_tree(format!("kv/{plugin}"))?,
        })
    }

    /// Whether the admin enabled (`Some(true)`) or disabled (`Some(false)`)
    /// a plugin through the API; `None` when never toggled.
    pub fn plugin_enabled_override(&self, plugin: &str) -> Result<Option<bool>, StoreError> {
        let tree = self.db.open_tree("plugin-enabled")?;
        Ok(tree.get(plugin)?.map(|v| v.as_ref() == b"1"))
    }

    /// Remembers an admin's enable/disable across restarts.
    pub fn set_plugin_enabled_override(
        &self,
        plugin: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let tree = self.db.open_tree("plugin-enabled")?;
        tree.insert(plugin, if enabled { b"1" } else { b"0" })?;
        tree.flush()?;
        Ok(())
    }

    /// Forces everything written so far to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// One plugin's key-value namespace.
#[derive(Clone)]
pub struct PluginKv {
    tree: sled::Tree,
}

impl PluginKv {
    /// Reads a value.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }
    /// Writes a value.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.tree.insert(key, value)?;
        Ok(())
    }
    /// Deletes a key.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.tree.remove(key)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopens_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let kv = store.plugin_kv("x").unwrap();
        kv.set("k", b"v").unwrap();
        store.flush().unwrap();
        drop(kv);
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.plugin_kv("x").unwrap().get("k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
}
