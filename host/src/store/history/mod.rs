//! The event history: every change that matters for reporting, appended to
//! an ordered log (`hist/<seq>`) in the same write as the change itself.
//!
//! Records ride on the [`Batch`](super::Batch) that makes the change; the
//! store numbers them while it applies the batch, under one lock, so the
//! log's order is the order in which changes became visible: a reader that
//! has seen `seq` never later finds a smaller one appear (what an outbound
//! feed, or a report rebuilt from the history, relies on).
//!
//! Older events are folded into blocks ([`blocks`]) so that the history's
//! cost in memory does not grow with its length; readers see one ordered
//! log either way.

mod blocks;

use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::backend::{Backend, Batch};

/// Where the history lives: `hist/<seq as 16 hex digits>`.
pub const PREFIX: &str = "hist/";

/// One change, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEvent {
    /// Its place in the history, from 1, increasing.
    pub seq: u64,
    /// When it happened (unix ms).
    pub at: u64,
    /// What happened, e.g. `task.created`, `task.accepted`,
    /// `agent.status`, `message.in`.
    pub kind: String,
    /// The task it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The conversation it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The customer it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The agent it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The channel plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// What reports need of the change: a task's state, priority,
    /// disposition, whether abandoned; an agent's status; a message's
    /// author. Never a customer's words.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl HistoryEvent {
    /// An event of `kind` at `at`, about nothing yet.
    pub fn new(kind: &str, at: u64) -> HistoryEvent {
        HistoryEvent {
            seq: 0,
            at,
            kind: kind.to_string(),
            task_id: None,
            conversation_id: None,
            customer_id: None,
            agent_id: None,
            channel: None,
            data: serde_json::Value::Null,
        }
    }
}

/// The key of history record `seq`.
pub fn key(seq: u64) -> String {
    format!("{PREFIX}{seq:016x}")
}

/// The seq at the end of a history key (`hist/<seq>`, `histblk/<seq>`).
fn seq_of(key: &[u8], prefix: &str) -> Option<u64> {
    let hex = std::str::from_utf8(key.get(prefix.len()..)?).ok()?;
    u64::from_str_radix(hex, 16).ok()
}

/// Numbers the history records of batches as they are applied, and keeps
/// readers of the log from seeing it half folded.
pub(super) struct History {
    /// The last number given.
    last: Mutex<u64>,
    /// Held for writing while events move into a block, for reading while
    /// a reader walks blocks and then single events.
    folds: RwLock<()>,
}

impl History {
    /// Continues after the last record in `backend` (or the last one
    /// retention removed, when none is left).
    pub(super) fn load(backend: &dyn Backend) -> Result<History, StoreError> {
        let single = backend
            .last_under(PREFIX.as_bytes())?
            .and_then(|k| seq_of(&k, PREFIX));
        let block = backend
            .last_under(blocks::PREFIX.as_bytes())?
            .and_then(|k| seq_of(&k, blocks::PREFIX));
        let expired = backend
            .get(blocks::EXPIRED)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok());
        let last = [single, block, expired].into_iter().flatten().max();
        Ok(History {
            last: Mutex::new(last.unwrap_or(0)),
            folds: RwLock::new(()),
        })
    }

    /// The number of the last record applied.
    pub(super) fn last(&self) -> u64 {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `batch` to `backend`, its history records numbered and
    /// written with it, under the sequencer's lock (so numbers follow the
    /// order of application).
    pub(super) fn apply(&self, backend: &dyn Backend, mut batch: Batch) -> Result<(), StoreError> {
        if batch.history.is_empty() {
            return backend.apply(batch);
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut seq = *last;
        for mut event in std::mem::take(&mut batch.history) {
            seq += 1;
            event.seq = seq;
            batch.put_json(key(seq), &event);
        }
        backend.apply(batch)?;
        *last = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[test]
    fn records_are_numbered_in_the_order_their_batches_apply() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..50u64 {
                        let mut batch = Batch::new();
                        // The change and its record, in one write.
                        batch.put_json(format!("x/{w}/{i:03}"), &i);
                        let mut event = HistoryEvent::new("test", i);
                        event.agent_id = Some(format!("{w}"));
                        batch.record(event);
                        store.write(batch).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let all = store.history_after(0, 1_000).unwrap();
        let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=400).collect::<Vec<_>>(), "no gaps, no repeats");
        // Each writer's records in its own order.
        for w in 0..8 {
            let mine: Vec<u64> = all
                .iter()
                .filter(|e| e.agent_id.as_deref() == Some(&*w.to_string()))
                .map(|e| e.at)
                .collect();
            assert_eq!(mine, (0..50).collect::<Vec<_>>());
        }
        // Reopened, numbering goes on.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let mut batch = Batch::new();
        batch.record(HistoryEvent::new("later", 1));
        store.write(batch).unwrap();
        assert_eq!(store.history_after(400, 10).unwrap()[0].seq, 401);
    }

    #[test]
    fn a_report_starts_reading_at_the_events_of_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.history_seq_before(5).unwrap(), 0, "no history");
        // An event a minute, for 100 minutes.
        for minute in 0..100u64 {
            let mut batch = Batch::new();
            batch.record(HistoryEvent::new("tick", minute * 60_000));
            store.write(batch).unwrap();
        }
        // Events 1-100 at minutes 0-99; a minute's slack before the time.
        assert_eq!(store.history_seq_before(50 * 60_000).unwrap(), 49);
        assert_eq!(store.history_after(49, 1).unwrap()[0].at, 49 * 60_000);
        assert_eq!(store.history_seq_before(0).unwrap(), 0);
        assert_eq!(store.history_seq_before(u64::MAX).unwrap(), 100);
        // With the oldest expired, the search starts at the first kept.
        let mut batch = Batch::new();
        store
            .expire_history(&mut batch, 10 * 60_000, 1_000)
            .unwrap();
        store.write(batch).unwrap();
        assert_eq!(store.history_seq_before(0).unwrap(), 10);
        assert_eq!(store.history_seq_before(50 * 60_000).unwrap(), 49);
    }
}
