//! One durable work queue for every stage that hands work to a plugin and
//! must not lose it: the outbox (replies and call actions), CRM delivery and
//! bot turns.
//!
//! An entry is written in the same batch as the change that caused it, so
//! an acknowledged change always has its work queued. Entries are taken in
//! id order (ids increase across restarts). A failed try is retried after an
//! exponential backoff until the entry runs out of tries or the failure is
//! permanent; then it is dead-lettered, kept for an admin to read and
//! redrive. Entries of one *group* (e.g. one customer's CRM events) can be
//! kept in order: while one waits for a retry, the later ones wait too.

use std::collections::HashSet;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{Batch, Store, StoreError};
use crate::clock::now_ms;

/// Where a queue keeps its entries.
#[derive(Debug, Clone, Copy)]
pub struct QueueKeys {
    /// Prefix of entries waiting for (another) try.
    pub pending: &'static str,
    /// Prefix of dead-lettered entries.
    pub dead: &'static str,
}

/// How failed tries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Tries before an entry is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base_ms: u64,
    /// Longest delay between tries.
    pub max_ms: u64,
}

impl Backoff {
    /// The wait before the next try after `attempts` failed ones: `base_ms`,
    /// doubling per try, at most `max_ms`.
    pub fn delay_ms(&self, attempts: u32) -> u64 {
        self.base_ms
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(20))
            .min(self.max_ms)
    }
}

/// One queued item and its delivery record. The item's fields are
/// flattened into the entry, so the admin views show one flat record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry<T> {
    /// Orders the queue.
    pub id: String,
    /// What to do.
    #[serde(flatten)]
    pub item: T,
    /// Tries so far.
    #[serde(default)]
    pub attempts: u32,
    /// Unix ms of the next try (0: now).
    #[serde(default)]
    pub next_at: u64,
    /// Unix ms.
    #[serde(default)]
    pub created_at: u64,
    /// The last failure.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// What became of a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handled: the entry left the queue.
    Done,
    /// Tried again at this unix ms.
    RetryAt(u64),
    /// Out of tries, or the failure was permanent.
    Dead,
}

/// A durable queue of `T`. Cheap to clone.
pub struct DurableQueue<T> {
    store: Store,
    keys: QueueKeys,
    backoff: Backoff,
    wake: Arc<Notify>,
    _items: PhantomData<fn() -> T>,
}

impl<T> Clone for DurableQueue<T> {
    fn clone(&self) -> Self {
        DurableQueue {
            store: self.store.clone(),
            keys: self.keys,
            backoff: self.backoff,
            wake: self.wake.clone(),
            _items: PhantomData,
        }
    }
}

/// How long an idle worker sleeps before looking at its queue again (the
/// safety net for a wake-up lost to a store error).
const IDLE_MS: u64 = 5_000;

impl<T: Serialize + DeserializeOwned> DurableQueue<T> {
    /// The queue stored under `keys`, retried by `backoff`.
    pub fn new(store: Store, keys: QueueKeys, backoff: Backoff) -> Self {
        DurableQueue {
            store,
            keys,
            backoff,
            wake: Arc::new(Notify::new()),
            _items: PhantomData,
        }
    }

    fn pending_key(&self, id: &str) -> String {
        format!("{}{id}", self.keys.pending)
    }

    fn dead_key(&self, id: &str) -> String {
        format!("{}{id}", self.keys.dead)
    }

    /// Queues `item`, due now, in `batch` (written with the change that
    /// caused it). Wake the worker once the batch is written.
    pub fn push(&self, batch: &mut Batch, item: T) -> Result<Entry<T>, StoreError> {
        self.push_at(batch, item, 0)
    }

    /// Queues `item`, due at `at` (unix ms; 0: now), in `batch`.
    pub fn push_at(&self, batch: &mut Batch, item: T, at: u64) -> Result<Entry<T>, StoreError> {
        let entry = Entry {
            id: format!("{:016x}", self.store.next_id()?),
            item,
            attempts: 0,
            next_at: at,
            created_at: now_ms(),
            last_error: None,
        };
        batch.put_json(self.pending_key(&entry.id), &entry);
        Ok(entry)
    }

    /// Entries waiting for a try, in order.
    pub fn pending(&self) -> Result<Vec<Entry<T>>, StoreError> {
        self.store.scan_json(self.keys.pending)
    }

    /// Dead-lettered entries, in order.
    pub fn dead_letters(&self) -> Result<Vec<Entry<T>>, StoreError> {
        self.store.scan_json(self.keys.dead)
    }

    /// Rewrites a pending entry in `batch` (e.g. what it refers to moved).
    pub fn update(&self, batch: &mut Batch, entry: &Entry<T>) {
        batch.put_json(self.pending_key(&entry.id), entry);
    }

    /// Takes a handled (or pointless) entry out of the queue, in `batch`.
    pub fn remove(&self, batch: &mut Batch, entry: &Entry<T>) {
        batch.delete(self.pending_key(&entry.id));
    }

    /// Removes a dead-lettered entry in `batch` (retention).
    pub fn remove_dead(&self, batch: &mut Batch, entry: &Entry<T>) {
        batch.delete(self.dead_key(&entry.id));
    }

    /// Removes an entry that has nothing left to do and writes that now.
    pub fn discard(&self, entry: &Entry<T>) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        self.remove(&mut batch, entry);
        self.store.write(batch)?;
        Ok(())
    }

    /// Records a failed try of `entry` (its `attempts` already counting it)
    /// in `batch`: it is retried after the backoff when the failure is
    /// `retryable` and tries remain, dead-lettered otherwise.
    pub fn fail(
        &self,
        batch: &mut Batch,
        entry: &mut Entry<T>,
        error: String,
        retryable: bool,
    ) -> Verdict {
        entry.last_error = Some(error);
        if retryable && entry.attempts < self.backoff.max_attempts {
            entry.next_at = now_ms() + self.backoff.delay_ms(entry.attempts);
            self.update(batch, entry);
            Verdict::RetryAt(entry.next_at)
        } else {
            self.bury(batch, entry);
            Verdict::Dead
        }
    }

    /// Dead-letters `entry` in `batch`.
    pub fn bury(&self, batch: &mut Batch, entry: &Entry<T>) {
        batch.delete(self.pending_key(&entry.id));
        batch.put_json(self.dead_key(&entry.id), entry);
    }

    /// Moves every dead letter back to the queue with fresh tries; returns
    /// how many and the store sequence to wait for before answering.
    pub fn redrive(&self) -> Result<(usize, u64), StoreError> {
        let dead = self.dead_letters()?;
        let n = dead.len();
        let mut batch = Batch::new();
        for mut entry in dead {
            batch.delete(self.dead_key(&entry.id));
            entry.attempts = 0;
            entry.next_at = 0;
            self.update(&mut batch, &entry);
        }
        let seq = self.store.write(batch)?;
        self.wake();
        Ok((n, seq))
    }

    /// Wakes the worker (after writing a batch that pushed entries).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A pass over the entries waiting now, in order. Entries of a group
    /// (`group` answers `Some`) stay in order: once one waits for a retry,
    /// the later ones of its group wait too.
    pub fn round<G: Eq + Hash>(
        &self,
        group: fn(&T) -> Option<G>,
    ) -> Result<Round<T, G>, StoreError> {
        Ok(Round {
            entries: self.pending()?.into_iter(),
            group,
            waiting: HashSet::new(),
            current: None,
            next: None,
        })
    }

    /// Waits until the worker should look at the queue again — it was
    /// woken, the next entry (`next`, from its last round) is due, or a few
    /// seconds passed — and says whether to go on (false once `stopped`
    /// resolves). A failed round is logged and tried again in a second.
    pub async fn wait(
        &self,
        what: &str,
        next: Result<Option<u64>, StoreError>,
        stopped: impl Future<Output = ()>,
    ) -> bool {
        let next = next.unwrap_or_else(|e| {
            tracing::error!(error = %e, "{what} failed");
            Some(now_ms() + 1_000)
        });
        let sleep = next.map_or(IDLE_MS, |at| at.saturating_sub(now_ms()).clamp(1, IDLE_MS));
        tokio::select! {
            _ = self.wake.notified() => true,
            _ = tokio::time::sleep(Duration::from_millis(sleep)) => true,
            _ = stopped => false,
        }
    }
}

/// One pass over a queue: [`Round::next_due`] hands out the entries that
/// are due, in order; [`Round::settled`] says what became of each.
pub struct Round<T, G> {
    entries: std::vec::IntoIter<Entry<T>>,
    group: fn(&T) -> Option<G>,
    /// Groups whose earlier entry waits for a retry.
    waiting: HashSet<G>,
    /// The group of the entry handed out last.
    current: Option<G>,
    next: Option<u64>,
}

impl<T, G: Eq + Hash> Round<T, G> {
    /// The next entry that is due and not held back by its group.
    pub fn next_due(&mut self) -> Option<Entry<T>> {
        for entry in self.entries.by_ref() {
            let key = (self.group)(&entry.item);
            if key.as_ref().is_some_and(|k| self.waiting.contains(k)) {
                continue;
            }
            if entry.next_at > now_ms() {
                self.next = Some(self.next.map_or(entry.next_at, |n| n.min(entry.next_at)));
                self.waiting.extend(key);
                continue;
            }
            self.current = key;
            return Some(entry);
        }
        None
    }

    /// What became of the entry handed out last.
    pub fn settled(&mut self, verdict: Verdict) {
        let key = self.current.take();
        if let Verdict::RetryAt(at) = verdict {
            self.next = Some(self.next.map_or(at, |n| n.min(at)));
            self.waiting.extend(key);
        }
    }

    /// When the earliest entry left waiting is due.
    pub fn next_at(&self) -> Option<u64> {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Job {
        customer: String,
        n: u32,
    }

    const KEYS: QueueKeys = QueueKeys {
        pending: "jobq/",
        dead: "jobdead/",
    };

    fn queue(dir: &std::path::Path, max_attempts: u32) -> DurableQueue<Job> {
        // A closed store's flusher thread lets go of the directory's lock
        // a moment after `close`.
        let mut tries = 0;
        let store = loop {
            match Store::open(dir) {
                Ok(store) => break store,
                Err(_) if tries < 500 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("reopening: {e}"),
            }
        };
        DurableQueue::new(
            store,
            KEYS,
            Backoff {
                max_attempts,
                base_ms: 60_000,
                max_ms: 600_000,
            },
        )
    }

    fn push(q: &DurableQueue<Job>, customer: &str, n: u32) {
        let mut batch = Batch::new();
        q.push(
            &mut batch,
            Job {
                customer: customer.into(),
                n,
            },
        )
        .unwrap();
        q.store.write(batch).unwrap();
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            max_attempts: 10,
            base_ms: 1_000,
            max_ms: 5_000,
        };
        assert_eq!(
            (1..=5).map(|a| b.delay_ms(a)).collect::<Vec<_>>(),
            [1_000, 2_000, 4_000, 5_000, 5_000]
        );
        assert_eq!(b.delay_ms(u32::MAX), 5_000);
    }

    #[test]
    fn a_failed_entry_holds_back_its_group_only_and_dies_out_of_tries() {
        let dir = tempfile::tempdir().unwrap();
        let q = queue(dir.path(), 2);
        push(&q, "ann", 1);
        push(&q, "ann", 2);
        push(&q, "bob", 3);

        // ann's first job fails (retryable): her second waits, bob's runs.
        let mut seen = Vec::new();
        let mut round = q.round(|job: &Job| Some(job.customer.clone())).unwrap();
        while let Some(mut entry) = round.next_due() {
            seen.push(entry.item.n);
            let mut batch = Batch::new();
            entry.attempts += 1;
            let verdict = if entry.item.n == 1 {
                q.fail(&mut batch, &mut entry, "down".into(), true)
            } else {
                q.remove(&mut batch, &entry);
                Verdict::Done
            };
            q.store.write(batch).unwrap();
            round.settled(verdict);
        }
        assert_eq!(seen, [1, 3]);
        assert!(
            round.next_at().is_some_and(|at| at > now_ms()),
            "a retry is scheduled"
        );
        // The next round holds ann's second job back behind the retry.
        let mut later = q.round(|job: &Job| Some(job.customer.clone())).unwrap();
        assert!(later.next_due().is_none());
        let pending = q.pending().unwrap();
        assert_eq!(pending.iter().map(|e| e.item.n).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(pending[0].attempts, 1);
        assert_eq!(pending[0].last_error.as_deref(), Some("down"));

        // Its second failure is its last try: dead-lettered, then redriven.
        let mut first = pending[0].clone();
        first.attempts += 1;
        let mut batch = Batch::new();
        assert_eq!(
            q.fail(&mut batch, &mut first, "still down".into(), true),
            Verdict::Dead
        );
        q.store.write(batch).unwrap();
        assert_eq!(q.pending().unwrap().len(), 1);
        assert_eq!(q.dead_letters().unwrap()[0].item.n, 1);
        let (n, _) = q.redrive().unwrap();
        assert_eq!(n, 1);
        assert!(q.dead_letters().unwrap().is_empty());
        let again = q.pending().unwrap();
        assert_eq!(
            (again[0].item.n, again[0].attempts, again[0].next_at),
            (1, 0, 0)
        );
    }

    #[test]
    fn a_permanent_failure_is_dead_at_once_and_entries_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let q = queue(dir.path(), 5);
            push(&q, "ann", 1);
            push(&q, "ann", 2);
            let mut entry = q.pending().unwrap().remove(0);
            entry.attempts += 1;
            let mut batch = Batch::new();
            assert_eq!(
                q.fail(&mut batch, &mut entry, "rejected".into(), false),
                Verdict::Dead
            );
            q.store.write(batch).unwrap();
            q.store.flush().unwrap();
            q.store.close();
        }
        let q = queue(dir.path(), 5);
        assert_eq!(q.pending().unwrap()[0].item.n, 2);
        assert_eq!(
            q.dead_letters().unwrap()[0].last_error.as_deref(),
            Some("rejected")
        );
    }

    #[test]
    fn entries_are_flat_records() {
        let entry = Entry {
            id: "01".into(),
            item: Job {
                customer: "ann".into(),
                n: 1,
            },
            attempts: 0,
            next_at: 0,
            created_at: 5,
            last_error: None,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["customer"], "ann");
        // Records written before a field existed still read.
        let old: Entry<Job> =
            serde_json::from_value(serde_json::json!({"id": "02", "customer": "bob", "n": 2}))
                .unwrap();
        assert_eq!((old.item.n, old.attempts), (2, 0));
    }
}
