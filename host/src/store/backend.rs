//! The narrow interface the core needs from a database, and its sled
//! implementation. A second backend only has to implement [`Backend`].

use super::StoreError;

/// One write in an atomic batch.
#[derive(Debug, Clone)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Vec<u8>),
}

/// Writes applied all together or not at all.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub(crate) ops: Vec<Op>,
    /// History records of the change, numbered when the batch is applied.
    pub(crate) history: Vec<super::history::HistoryEvent>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(key.into(), value.into()));
    }
    /// Sets `key` to the JSON encoding of `value`.
    pub fn put_json<T: serde::Serialize + ?Sized>(&mut self, key: impl Into<Vec<u8>>, value: &T) {
        let bytes = serde_json::to_vec(value).expect("core records always serialize");
        self.put(key, bytes);
    }
    /// Removes `key`.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(key.into()));
    }
    /// Appends `event` to the event history, in the same write.
    pub fn record(&mut self, event: super::history::HistoryEvent) {
        self.history.push(event);
    }
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.history.is_empty()
    }
}

/// Key-value pairs in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key-value store with atomic batches and an explicit flush.
pub trait Backend: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every key starting with `prefix`, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError>;
    /// At most `limit` entries under `prefix` whose keys sort after
    /// `after` (from the first when `None`), in key order: a page of a
    /// sweep that must not read everything at once.
    fn scan_after(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        Ok(self
            .scan_prefix(prefix)?
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .take(limit)
            .collect())
    }
    /// The last key under `prefix`, if any.
    fn last_under(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.scan_prefix(prefix)?.pop().map(|(k, _)| k))
    }
    /// Applies a batch atomically (not yet durable).
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;
    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// A new id, unique and increasing across restarts.
    fn next_id(&self) -> Result<u64, StoreError>;
}

/// The core's records in one sled tree.
pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
    /// Where ids continue from after a rewrite ([`super::compact`]).
    id_base: u64,
}

impl SledBackend {
    /// Uses the tree `core` of `db`.
    pub fn new(db: sled::Db) -> Result<Self, StoreError> {
        let tree = db.open_tree("core")?;
        let id_base = super::compact::id_base(&tree)?;
        Ok(SledBackend { db, tree, id_base })
    }
}

impl Backend for SledBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    }

    fn last_under(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .scan_prefix(prefix)
            .next_back()
            .transpose()?
            .map(|(k, _)| k.to_vec()))
    }

    fn scan_after(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        self.tree
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.starts_with(prefix)))
            .take(limit)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(Into::into))
            .collect()
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut sled_batch = sled::Batch::default();
        for op in batch.ops {
            match op {
                Op::Put(k, v) => sled_batch.insert(k, v),
                Op::Delete(k) => sled_batch.remove(k),
            }
        }
        self.tree.apply_batch(sled_batch)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.id_base + self.db.generate_id()?)
    }
}
