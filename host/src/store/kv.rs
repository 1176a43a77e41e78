//! One plugin's private key-value store: a sled tree of its own, with what
//! it holds counted so a quota can be enforced without scanning.

use std::sync::{Arc, Mutex};

use super::StoreError;

/// How much a plugin's store holds (or may hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvUsage {
    /// Keys.
    pub keys: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

/// Why a write was refused.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// It would take the store past its quota (nothing was written).
    #[error("{0}")]
    Quota(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One plugin's key-value namespace. Cheap to clone: clones share the
/// tree and the count.
#[derive(Clone)]
pub struct PluginKv {
    tree: sled::Tree,
    /// Also serializes writes, so a check and its write are one step.
    usage: Arc<Mutex<KvUsage>>,
}

impl PluginKv {
    /// The store in `tree`, its usage counted.
    pub(super) fn open(tree: sled::Tree) -> Result<PluginKv, StoreError> {
        let mut usage = KvUsage::default();
        for entry in tree.iter() {
            let (k, v) = entry?;
            usage.keys += 1;
            usage.bytes += (k.len() + v.len()) as u64;
        }
        Ok(PluginKv {
            tree,
            usage: Arc::new(Mutex::new(usage)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KvUsage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the store holds.
    pub fn usage(&self) -> KvUsage {
        *self.lock()
    }

    /// Reads a value.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    /// Writes a value unless the store would hold more than `quota`.
    pub fn set_within(&self, key: &str, value: &[u8], quota: KvUsage) -> Result<(), KvError> {
        let mut usage = self.lock();
        let old = self.tree.get(key).map_err(StoreError::from)?;
        let size = (key.len() + value.len()) as u64;
        let (keys, bytes) = match &old {
            Some(old) => (
                usage.keys,
                usage.bytes - (key.len() + old.len()) as u64 + size,
            ),
            None => (usage.keys + 1, usage.bytes + size),
        };
        if keys > quota.keys {
            return Err(KvError::Quota(format!(
                "key-value store full: {} keys, the limit is {}",
                usage.keys, quota.keys
            )));
        }
        if bytes > quota.bytes {
            return Err(KvError::Quota(format!(
                "key-value store full: this write makes {bytes} bytes, the limit is {}",
                quota.bytes
            )));
        }
        self.tree.insert(key, value).map_err(StoreError::from)?;
        *usage = KvUsage { keys, bytes };
        Ok(())
    }

    /// Writes a value, whatever the store holds.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let unlimited = KvUsage {
            keys: u64::MAX,
            bytes: u64::MAX,
        };
        self.set_within(key, value, unlimited).map_err(|e| match e {
            KvError::Store(e) => e,
            KvError::Quota(_) => unreachable!("no quota"),
        })
    }

    /// Deletes every key whose last `/`-separated part is `name` (a
    /// customer's handle on the plugin's channel: `replies/<session>`);
    /// returns how many.
    pub fn delete_named(&self, name: &str) -> Result<usize, StoreError> {
        let mut doomed = Vec::new();
        for entry in self.tree.iter().keys() {
            let key = entry?;
            let key = String::from_utf8_lossy(&key).into_owned();
            if key.rsplit('/').next() == Some(name) {
                doomed.push(key);
            }
        }
        for key in &doomed {
            self.delete(key)?;
        }
        Ok(doomed.len())
    }

    /// Deletes a key.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut usage = self.lock();
        if let Some(old) = self.tree.remove(key)? {
            usage.keys -= 1;
            usage.bytes -= (key.len() + old.len()) as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_counts_keys_and_bytes_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let kv = PluginKv::open(db.open_tree("kv/x").unwrap()).unwrap();
        let quota = KvUsage { keys: 2, bytes: 20 };
        kv.set_within("a", b"12345", quota).unwrap();
        kv.set_within("b", b"12345", quota).unwrap();
        assert_eq!(kv.usage(), KvUsage { keys: 2, bytes: 12 });
        // A third key is refused; overwriting one is not.
        assert!(matches!(
            kv.set_within("c", b"1", quota),
            Err(KvError::Quota(_))
        ));
        kv.set_within("a", b"1234567", quota).unwrap();
        assert_eq!(kv.usage(), KvUsage { keys: 2, bytes: 14 });
        assert!(matches!(
            kv.set_within("a", &[0; 30], quota),
            Err(KvError::Quota(_))
        ));
        assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"1234567"[..]));
        kv.delete("b").unwrap();
        kv.delete("b").unwrap();
        assert_eq!(kv.usage(), KvUsage { keys: 1, bytes: 8 });
        drop(kv);
        let again = PluginKv::open(db.open_tree("kv/x").unwrap()).unwrap();
        assert_eq!(again.usage(), KvUsage { keys: 1, bytes: 8 });
    }
}
