//! The history's older events, folded into blocks, and reading the log
//! across blocks and single events.
//!
//! sled splits a leaf at 16 keys and keeps a record of every page in
//! memory whether cached or not, so its memory grows with the number of
//! keys, not bytes. At one key per event (five or so per contact) the
//! history alone made a host's memory grow by tens of MiB per 100,000
//! contacts. The newest events stay one key each — written in the change's
//! own batch, read by feeds at the end of the log — and the background
//! fold ([`History::fold`]) packs older ones [`BLOCK`] at a time into one
//! key, `histblk/<seq of its last event>`, in one atomic write.
//!
//! Every block's events come before every single event's: the fold takes
//! the oldest single events, retention removes the oldest events, and an
//! erasure rewrites events where they are. The fold, retention and
//! erasure run under the core's gate, so none of them writes from a
//! stale read of another.

use super::super::backend::{Backend, Batch};
use super::super::{StoreError, decode};
use super::{History, HistoryEvent, key, seq_of};

/// Where blocks live: `histblk/<seq of the last event, 16 hex digits>`.
pub const PREFIX: &str = "histblk/";
/// The seq of the last event retention removed, so numbering goes on after
/// a restart even if nothing is left.
pub const EXPIRED: &[u8] = b"histexpired";
/// Events per block: 64 of ~400 bytes make a 25 KiB value, small enough
/// for sled to rewrite its leaf cheaply, and a key per 64 events.
pub const BLOCK: usize = 64;
/// The newest events left as single keys: what a feed reads as it follows
/// the log.
pub const HOT: u64 = 256;

/// The key of the block ending at event `last`.
pub fn block_key(last: u64) -> String {
    format!("{PREFIX}{last:016x}")
}

impl History {
    /// Folds the oldest [`BLOCK`] single events into a block, when more
    /// than [`HOT`] would stay single; returns how many it folded. The
    /// caller holds the core's gate.
    pub(in crate::store) fn fold(&self, backend: &dyn Backend) -> Result<usize, StoreError> {
        let oldest = backend.scan_after(super::PREFIX.as_bytes(), None, BLOCK)?;
        if oldest.len() < BLOCK {
            return Ok(0);
        }
        let first = seq_of(&oldest[0].0, super::PREFIX).unwrap_or(0);
        if self.last().saturating_sub(first) < BLOCK as u64 + HOT {
            return Ok(0);
        }
        let mut events = Vec::with_capacity(BLOCK);
        let mut batch = Batch::new();
        for (k, v) in &oldest {
            let event: HistoryEvent = decode(k, v)?;
            batch.delete(k.clone());
            events.push(event);
        }
        let last = events.last().map_or(0, |e| e.seq);
        batch.put_json(block_key(last), &events);
        let _writing = self.folds.write().unwrap_or_else(|e| e.into_inner());
        backend.apply(batch)?;
        Ok(events.len())
    }

    /// At most `limit` events after `after`, in order: from blocks, then
    /// single events.
    pub(in crate::store) fn after(
        &self,
        backend: &dyn Backend,
        after: u64,
        limit: usize,
    ) -> Result<Vec<HistoryEvent>, StoreError> {
        let _reading = self.folds.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let mut cursor = block_key(after).into_bytes();
        'blocks: while out.len() < limit {
            let page = backend.scan_after(PREFIX.as_bytes(), Some(&cursor), 4)?;
            if page.is_empty() {
                break;
            }
            for (k, v) in page {
                for event in decode::<Vec<HistoryEvent>>(&k, &v)? {
                    if event.seq > after {
                        out.push(event);
                        if out.len() == limit {
                            break 'blocks;
                        }
                    }
                }
                cursor = k;
            }
        }
        if out.len() < limit {
            let from = out.last().map_or(after, |e| e.seq);
            let singles = backend.scan_after(
                super::PREFIX.as_bytes(),
                Some(key(from).as_bytes()),
                limit - out.len(),
            )?;
            for (k, v) in singles {
                out.push(decode(&k, &v)?);
            }
        }
        Ok(out)
    }

    /// Event `seq`, wherever it is. A fold moves events from single keys
    /// into a block in one write, so looking in that order finds it.
    pub(in crate::store) fn event(
        &self,
        backend: &dyn Backend,
        seq: u64,
    ) -> Result<Option<HistoryEvent>, StoreError> {
        if let Some(v) = backend.get(key(seq).as_bytes())? {
            return decode(key(seq).as_bytes(), &v).map(Some);
        }
        let cursor = block_key(seq.saturating_sub(1));
        let Some((k, v)) = backend
            .scan_after(PREFIX.as_bytes(), Some(cursor.as_bytes()), 1)?
            .pop()
        else {
            return Ok(None);
        };
        Ok(decode::<Vec<HistoryEvent>>(&k, &v)?
            .into_iter()
            .find(|e| e.seq == seq))
    }

    /// A seq after which the log holds every event recorded at or after
    /// `at`: a binary search on the events' times (see
    /// [`Store::history_seq_before`](crate::store::Store::history_seq_before)).
    pub(in crate::store) fn seq_before(
        &self,
        backend: &dyn Backend,
        at: u64,
    ) -> Result<u64, StoreError> {
        let Some(first) = self.after(backend, 0, 1)?.first().map(|e| e.seq) else {
            return Ok(0);
        };
        // Invariant: every event up to `lo` is before `at`; `hi` is not.
        let (mut lo, mut hi) = (first - 1, self.last() + 1);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let before = match self.event(backend, mid)? {
                Some(e) => e.at < at,
                None => true,
            };
            if before {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Erasure: in `batch`, the events of `customers` lose the customer id,
    /// in their blocks or single keys. Reads the whole log: erasures are
    /// rare. The caller holds the core's gate.
    pub(in crate::store) fn scrub(
        &self,
        backend: &dyn Backend,
        batch: &mut Batch,
        customers: &[String],
    ) -> Result<u64, StoreError> {
        let theirs = |e: &HistoryEvent| {
            e.customer_id
                .as_ref()
                .is_some_and(|c| customers.contains(c))
        };
        let mut scrubbed = 0;
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = backend.scan_after(PREFIX.as_bytes(), cursor.as_deref(), 16)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            cursor = Some(last.clone());
            for (k, v) in page {
                let mut events: Vec<HistoryEvent> = decode(&k, &v)?;
                let mut changed = false;
                for event in events.iter_mut().filter(|e| theirs(e)) {
                    event.customer_id = None;
                    changed = true;
                    scrubbed += 1;
                }
                if changed {
                    batch.put_json(k, &events);
                }
            }
        }
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = backend.scan_after(super::PREFIX.as_bytes(), cursor.as_deref(), 1_000)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            cursor = Some(last.clone());
            for (k, v) in page {
                let mut event: HistoryEvent = decode(&k, &v)?;
                if theirs(&event) {
                    event.customer_id = None;
                    batch.put_json(k, &event);
                    scrubbed += 1;
                }
            }
        }
        Ok(scrubbed)
    }

    /// Removes in `batch` at most about `max` of the oldest events that
    /// happened before `before` (unix ms), whole blocks or part of one;
    /// returns how many. The caller holds the core's gate.
    pub(in crate::store) fn expire(
        &self,
        backend: &dyn Backend,
        batch: &mut Batch,
        before: u64,
        max: usize,
    ) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        let mut last_removed = None;
        let mut done = false;
        let mut cursor: Option<Vec<u8>> = None;
        while !done && (removed as usize) < max {
            let page = backend.scan_after(PREFIX.as_bytes(), cursor.as_deref(), 16)?;
            let Some((last, _)) = page.last() else {
                break;
            };
            cursor = Some(last.clone());
            for (k, v) in page {
                let events: Vec<HistoryEvent> = decode(&k, &v)?;
                let old = events.iter().take_while(|e| e.at < before).count();
                if old > 0 {
                    last_removed = Some(events[old - 1].seq);
                    removed += old as u64;
                }
                if old == events.len() {
                    batch.delete(k);
                } else {
                    if old > 0 {
                        batch.put_json(k, &events[old..]);
                    }
                    done = true;
                    break;
                }
                if removed as usize >= max {
                    break;
                }
            }
        }
        if !done {
            let room = max.saturating_sub(removed as usize);
            for (k, v) in backend.scan_after(super::PREFIX.as_bytes(), None, room)? {
                let event: HistoryEvent = decode(&k, &v)?;
                if event.at >= before {
                    break;
                }
                batch.delete(k);
                last_removed = Some(event.seq);
                removed += 1;
            }
        }
        if let Some(seq) = last_removed {
            batch.put(EXPIRED.to_vec(), seq.to_string().into_bytes());
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::Store;
    use super::*;

    /// `n` events, a minute apart, customer `c<seq % 3>`.
    fn store_with(n: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 0..n {
            let mut batch = Batch::new();
            let mut event = HistoryEvent::new("tick", i * 60_000);
            event.customer_id = Some(format!("c{}", (i + 1) % 3));
            batch.record(event);
            store.write(batch).unwrap();
        }
        (dir, store)
    }

    fn fold_all(store: &Store) -> usize {
        let mut folded = 0;
        loop {
            match store.fold_history().unwrap() {
                0 => return folded,
                n => folded += n,
            }
        }
    }

    fn keys_under(store: &Store, prefix: &str) -> usize {
        store.scan_keys(prefix).unwrap().len()
    }

    #[test]
    fn folded_events_read_as_one_log_in_a_key_per_block() {
        let (_dir, store) = store_with(1_000);
        let before = store.history_after(0, 2_000).unwrap();
        let folded = fold_all(&store);
        // All but the newest HOT (and a part block) are folded.
        assert!(folded >= 1_000 - HOT as usize - BLOCK, "{folded}");
        assert_eq!(folded % BLOCK, 0);
        assert!(keys_under(&store, super::super::PREFIX) < HOT as usize + BLOCK);
        assert_eq!(keys_under(&store, PREFIX), folded / BLOCK);
        // Every page of the log, from anywhere, as before.
        assert_eq!(store.history_after(0, 2_000).unwrap(), before);
        for (after, limit) in [(0, 1), (5, 70), (63, 64), (64, 1), (700, 300), (999, 5)] {
            let page = store.history_after(after, limit).unwrap();
            let want: Vec<_> = before
                .iter()
                .filter(|e| e.seq > after)
                .take(limit)
                .cloned()
                .collect();
            assert_eq!(page, want, "after {after}, {limit}");
        }
        assert_eq!(
            store.history_seq_before(500 * 60_000 + 60_000).unwrap(),
            500
        );
        // Numbering goes on after a restart.
        drop(store);
        let store = Store::open(_dir.path()).unwrap();
        let mut batch = Batch::new();
        batch.record(HistoryEvent::new("later", 1));
        store.write(batch).unwrap();
        assert_eq!(store.history_after(1_000, 1).unwrap()[0].seq, 1_001);
    }

    #[test]
    fn erasure_and_retention_reach_into_blocks() {
        let (dir, store) = store_with(1_000);
        fold_all(&store);
        let mut batch = Batch::new();
        let scrubbed = store.scrub_history(&mut batch, &["c1".into()]).unwrap();
        store.write(batch).unwrap();
        assert_eq!(scrubbed, 334);
        let all = store.history_after(0, 2_000).unwrap();
        assert_eq!(all.len(), 1_000);
        assert!(all.iter().all(|e| e.customer_id.as_deref() != Some("c1")));
        assert_eq!(all.iter().filter(|e| e.customer_id.is_none()).count(), 334);
        // Expiring part way into a block keeps the rest of it.
        let mut batch = Batch::new();
        let removed = store
            .expire_history(&mut batch, 100 * 60_000, 10_000)
            .unwrap();
        store.write(batch).unwrap();
        assert_eq!(removed, 100);
        assert_eq!(store.history_after(0, 1).unwrap()[0].seq, 101);
        assert_eq!(store.history_after(0, 2_000).unwrap().len(), 900);
        // A bounded pass stops at its bound.
        let mut batch = Batch::new();
        assert_eq!(
            store.expire_history(&mut batch, 700 * 60_000, 150).unwrap(),
            156,
            "whole blocks: 28 to finish the second, then two of 64"
        );
        store.write(batch).unwrap();
        // Everything gone, numbering still goes on after a restart.
        let mut batch = Batch::new();
        store.expire_history(&mut batch, u64::MAX, 10_000).unwrap();
        store.write(batch).unwrap();
        assert!(store.history_after(0, 10).unwrap().is_empty());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.history_last(), 1_000);
    }
}
