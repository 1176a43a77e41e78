//! Durable storage in sled: one database under `<data_dir>/db`.
//!
//! The core's records (customers, conversations, messages, tasks, agents...)
//! live behind the narrow [`Backend`] trait; writes go in atomic batches and a
//! request is acknowledged only after [`Store::durable`] says its batch (and
//! everything applied before it) reached the disk — see [`commit`] for the
//! group commit that makes that cheap. Every key's format is in [`keys`];
//! the durable retry queue the core's stages share is [`queue`].

mod backend;
pub mod commit;
mod compact;
pub mod history;
pub mod keys;
mod kv;
pub mod queue;

use std::path::Path;
use std::sync::Arc;

pub use backend::{Backend, Batch, Op, SledBackend};
pub use commit::Durability;
use commit::GroupCommit;
pub use compact::request_compaction;
pub use history::HistoryEvent;
pub use kv::{KvError, KvUsage, PluginKv};
pub use queue::{Backoff, DurableQueue, Entry, Verdict};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// Making writes durable failed.
    #[error("flushing to disk failed: {0}")]
    Flush(String),
    /// A stored record does not decode.
    #[error("corrupt record {key}: {message}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// The decoder's message.
        message: String,
    },
}

/// The host's database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    backend: Arc<dyn Backend>,
    commit: Arc<GroupCommit>,
    /// Numbers the event history's records as batches are applied.
    history: Arc<history::History>,
    /// Each plugin's key-value store, opened once: every user (the
    /// plugin's versions across reloads, an erasure) shares its usage count.
    kvs: Arc<std::sync::Mutex<std::collections::HashMap<String, PluginKv>>>,
}

/// Largest key a plugin may store.
pub const MAX_KV_KEY: usize = 512;
/// Largest value a plugin may store.
pub const MAX_KV_VALUE: usize = 1024 * 1024;

/// The page cache a store gets unless configured (`store_cache_mb`), MiB.
/// sled's own default (1 GiB) would let a busy host's memory grow with
/// its history for weeks before leveling off.
pub const DEFAULT_CACHE_MB: u64 = 64;

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, Durability::GroupCommit, DEFAULT_CACHE_MB)
    }

    /// Opens the database with a chosen durability strategy and page cache
    /// (MiB).
    pub fn open_with(
        dir: &Path,
        durability: Durability,
        cache_mb: u64,
    ) -> Result<Self, StoreError> {
        // Only when an erasure asked for it.
        compact::compact_if_requested(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .flush_every_ms(Some(200))
            .open()?;
        let backend: Arc<dyn Backend> = Arc::new(SledBackend::new(db.clone())?);
        let commit = GroupCommit::start(backend.clone(), durability);
        let history = Arc::new(history::History::load(&*backend)?);
        Ok(Store {
            db,
            backend,
            commit,
            history,
            kvs: Arc::default(),
        })
    }

    /// Reads one record.
    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.backend.get(key.as_bytes())? {
            None => Ok(None),
            Some(bytes) => decode(key.as_bytes(), &bytes).map(Some),
        }
    }

    /// Reads a raw value.
    pub fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.backend.get(key.as_bytes())
    }

    /// A value stored as UTF-8 text (an index entry pointing at an id).
    pub fn get_string(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .backend
            .get(key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Every text value under `prefix`, with its key minus the prefix.
    pub fn scan_strings(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .backend
            .scan_prefix(prefix.as_bytes())?
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect())
    }

    /// Every record under `prefix`, in key order.
    pub fn scan_json<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.backend
            .scan_prefix(prefix.as_bytes())?
            .into_iter()
            .map(|(k, v)| decode(&k, &v))
            .collect()
    }

    /// At most `limit` records under `prefix` after the key `prefix` +
    /// `after` (from the first when `None`), with their keys minus the
    /// prefix, in key order.
    pub fn scan_json_after<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let after = after.map(|a| format!("{prefix}{a}"));
        self.backend
            .scan_after(
                prefix.as_bytes(),
                after.as_deref().map(str::as_bytes),
                limit,
            )?
            .into_iter()
            .map(|(k, v)| {
                let name = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                decode(&k, &v).map(|t| (name, t))
            })
            .collect()
    }

    /// Every key under `prefix`, in order, without the prefix.
    pub fn scan_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .backend
            .scan_prefix(prefix.as_bytes())?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            .collect())
    }

    /// Applies a batch atomically and returns its commit sequence number, to
    /// pass to [`Store::durable`] before acknowledging it.
    pub fn write(&self, batch: Batch) -> Result<u64, StoreError> {
        if batch.is_empty() {
            return Ok(self.commit.latest());
        }
        self.history.apply(&*self.backend, batch)?;
        Ok(self.commit.applied())
    }

    /// The seq of the newest event in the history (0: none yet).
    pub fn history_last(&self) -> u64 {
        self.history.last()
    }

    /// A seq after which the history holds every event recorded at or
    /// after `at` (unix ms): a binary search on the events' times, so a
    /// report of last week does not read last year. Events are numbered in
    /// the order their writes applied, which follows their times to within
    /// the time a write waits for the sequencer; the search allows a
    /// minute for that.
    pub fn history_seq_before(&self, at: u64) -> Result<u64, StoreError> {
        self.history
            .seq_before(&*self.backend, at.saturating_sub(60_000))
    }

    /// At most `limit` events of the history after `after` (0: from the
    /// first kept), in order.
    pub fn history_after(&self, after: u64, limit: usize) -> Result<Vec<HistoryEvent>, StoreError> {
        self.history.after(&*self.backend, after, limit)
    }

    /// Erasure: in `batch`, the history's events of `customers` lose the
    /// customer id (the counts stay right; nothing ties them to her).
    /// Reads the whole history: erasures are rare. The caller holds the
    /// core's gate until `batch` is written.
    pub fn scrub_history(
        &self,
        batch: &mut Batch,
        customers: &[String],
    ) -> Result<u64, StoreError> {
        self.history.scrub(&*self.backend, batch, customers)
    }

    /// Removes in `batch` about `max` of the oldest history events that
    /// happened before `before` (unix ms); returns how many. The caller
    /// holds the core's gate until `batch` is written.
    pub fn expire_history(
        &self,
        batch: &mut Batch,
        before: u64,
        max: usize,
    ) -> Result<u64, StoreError> {
        self.history.expire(&*self.backend, batch, before, max)
    }

    /// Folds the history's oldest single events into one block, when
    /// enough newer ones stay single; returns how many it folded (0: none
    /// to fold now). The caller holds the core's gate.
    pub fn fold_history(&self) -> Result<usize, StoreError> {
        self.history.fold(&*self.backend)
    }

    /// How many history events are single keys (not yet folded).
    pub fn history_unfolded(&self) -> Result<usize, StoreError> {
        Ok(self.backend.scan_prefix(history::PREFIX.as_bytes())?.len())
    }

    /// Waits until the batch numbered `seq`, and every batch before it, is on
    /// disk.
    pub async fn durable(&self, seq: u64) -> Result<(), StoreError> {
        self.commit.wait(seq).await
    }

    /// Waits until everything applied so far is on disk. Answers that depend
    /// on another request's writes (a redelivered webhook finding its first
    /// delivery) call this so they never acknowledge what could still be lost.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.commit.wait(self.commit.latest()).await
    }

    /// A new id, increasing across restarts.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        self.backend.next_id()
    }

    /// The key-value store of `plugin` if it ever had one (none is made).
    pub fn existing_plugin_kv(&self, plugin: &str) -> Result<Option<PluginKv>, StoreError> {
        let name = keys::plugin_kv_tree(plugin);
        let exists = self
            .db
            .tree_names()
            .iter()
            .any(|t| t.as_ref() == name.as_bytes());
        if exists {
            self.plugin_kv(plugin).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A plugin's private key-value namespace (its usage counted once,
    /// when first opened, then kept up to date by every user).
    pub fn plugin_kv(&self, plugin: &str) -> Result<PluginKv, StoreError> {
        let mut kvs = self.kvs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(kv) = kvs.get(plugin) {
            return Ok(kv.clone());
        }
        let kv = PluginKv::open(self.db.open_tree(keys::plugin_kv_tree(plugin))?)?;
        kvs.insert(plugin.to_string(), kv.clone());
        Ok(kv)
    }

    /// Whether the admin enabled (`Some(true)`) or disabled (`Some(false)`)
    /// a plugin through the API; `None` when never toggled.
    pub fn plugin_enabled_override(&self, plugin: &str) -> Result<Option<bool>, StoreError> {
        let tree = self.db.open_tree(keys::PLUGIN_ENABLED_TREE)?;
        Ok(tree.get(plugin)?.map(|v| v.as_ref() == b"1"))
    }

    /// Remembers an admin's enable/disable across restarts.
    pub fn set_plugin_enabled_override(
        &self,
        plugin: &str,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let tree = self.db.open_tree(keys::PLUGIN_ENABLED_TREE)?;
        tree.insert(plugin, if enabled { b"1" } else { b"0" })?;
        tree.flush()?;
        Ok(())
    }

    /// Forces everything written so far to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Stops the flusher thread (after a final flush by the caller).
    pub fn close(&self) {
        self.commit.stop();
    }
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn group_commit_acknowledges_after_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut waits = Vec::new();
        for i in 0..50u32 {
            let store = store.clone();
            waits.push(tokio::spawn(async move {
                let mut batch = Batch::new();
                batch.put_json(format!("x/{i:03}"), &i);
                let seq = store.write(batch).unwrap();
                store.durable(seq).await.unwrap();
            }));
        }
        for w in waits {
            w.await.unwrap();
        }
        let all: Vec<u32> = store.scan_json("x/").unwrap();
        assert_eq!(all, (0..50).collect::<Vec<_>>());
        store.close();
    }

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
