//! The waiting tasks, indexed so that a dispatch round and the timers cost
//! what they act on rather than the length of the queue.
//!
//! One ordered set per channel kind (priority, then age): a round that finds
//! nobody free for a kind passes over that kind's tasks without visiting
//! them, which matters when a queue is backed up and every event starts a
//! round. Beside it, the waiting tasks that may still escalate, by age, so
//! the escalation timer looks only at the oldest.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use super::model::{Kind, Task};

/// A waiting task's place: higher priority first, then older first; the id
/// makes keys unique.
pub(super) type Key = (Reverse<u32>, u64, String);

/// The pending tasks in dispatch order.
#[derive(Debug, Default)]
pub(super) struct Queue {
    by_kind: [BTreeSet<Key>; Kind::ALL.len()],
    /// Waiting tasks with required skills not yet escalated, by creation
    /// time.
    escalations: BTreeSet<(u64, String)>,
}

fn slot(kind: Kind) -> usize {
    kind as usize
}

fn key(task: &Task) -> Key {
    (
        Reverse(task.priority),
        task.waiting_since(),
        task.id.clone(),
    )
}

impl Queue {
    /// Puts a pending task in its place. Call again after changing its
    /// priority, skills or escalation (having removed it first).
    pub fn insert(&mut self, task: &Task) {
        self.by_kind[slot(task.channel_kind)].insert(key(task));
        if !task.escalated && !task.skills.is_empty() {
            self.escalations
                .insert((task.waiting_since(), task.id.clone()));
        }
    }

    /// Takes a task out (it was reserved or canceled, or is about to
    /// change). Returns whether it was queued.
    pub fn remove(&mut self, task: &Task) -> bool {
        self.escalations
            .remove(&(task.waiting_since(), task.id.clone()));
        self.by_kind[slot(task.channel_kind)].remove(&key(task))
    }

    /// Every waiting task's id, in dispatch order across kinds.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        let mut heads: Vec<_> = self.by_kind.iter().map(|s| s.iter().peekable()).collect();
        std::iter::from_fn(move || {
            let next = heads
                .iter_mut()
                .enumerate()
                .filter_map(|(i, it)| it.peek().map(|k| (*k, i)))
                .min()?;
            heads[next.1].next().map(|(_, _, id)| id.as_str())
        })
    }

    /// The first task after `cursor` (from the start when `None`) in
    /// dispatch order, among the kinds not in `skip`.
    pub fn next_after(&self, cursor: Option<&Key>, skip: &HashSet<Kind>) -> Option<&Key> {
        Kind::ALL
            .iter()
            .filter(|k| !skip.contains(k))
            .filter_map(|k| {
                let set = &self.by_kind[slot(*k)];
                match cursor {
                    None => set.first(),
                    Some(c) => set.range((Bound::Excluded(c), Bound::Unbounded)).next(),
                }
            })
            .min()
    }

    /// The creation time of the oldest task that may still escalate.
    pub fn oldest_escalation(&self) -> Option<u64> {
        self.escalations.first().map(|(at, _)| *at)
    }

    /// The tasks that may escalate, created at or before `created_by`.
    pub fn escalations_due(&self, created_by: u64) -> impl Iterator<Item = &str> {
        // Every (created_by, id) sorts before (created_by + 1, "").
        self.escalations
            .range(..(created_by + 1, String::new()))
            .map(|(_, id)| id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::model::{Skill, TaskState};

    fn task(id: &str, kind: Kind, priority: u32, created_at: u64, skills: bool) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": id,
            "conversation_id": "con",
            "customer_id": "cus",
            "channel": "test",
            "channel_kind": kind,
            "priority": priority,
            "created_at": created_at,
            "state": TaskState::Pending,
            "skills": [],
            "prioritized": true,
            "escalated": false,
            "rejected_by": [],
            "abandoned": false,
        }))
        .expect("a minimal task");
        if skills {
            t.skills = vec![Skill {
                name: "billing".into(),
                min_level: 1,
            }];
        }
        t
    }

    #[test]
    fn dispatch_order_is_priority_then_age_across_kinds() {
        let mut q = Queue::default();
        q.insert(&task("a", Kind::Chat, 0, 10, false));
        q.insert(&task("b", Kind::Email, 0, 5, false));
        q.insert(&task("c", Kind::Voice, 9, 20, false));
        q.insert(&task("d", Kind::Chat, 0, 1, false));
        assert_eq!(q.ids().collect::<Vec<_>>(), ["c", "d", "b", "a"]);

        let mut walked = Vec::new();
        let mut cursor: Option<Key> = None;
        while let Some(k) = q.next_after(cursor.as_ref(), &HashSet::new()) {
            walked.push(k.2.clone());
            cursor = Some(k.clone());
        }
        assert_eq!(walked, ["c", "d", "b", "a"]);
    }

    #[test]
    fn a_skipped_kind_is_not_visited() {
        let mut q = Queue::default();
        for i in 0..100 {
            q.insert(&task(&format!("chat-{i}"), Kind::Chat, 0, i, false));
        }
        q.insert(&task("mail", Kind::Email, 0, 50, false));
        let skip: HashSet<Kind> = [Kind::Chat].into_iter().collect();
        let first = q.next_after(None, &skip).expect("the email task");
        assert_eq!(first.2, "mail");
        assert!(q.next_after(Some(&first.clone()), &skip).is_none());
    }

    #[test]
    fn escalation_index_follows_the_queue() {
        let mut q = Queue::default();
        let with_skills = task("s", Kind::Chat, 0, 10, true);
        q.insert(&with_skills);
        q.insert(&task("n", Kind::Chat, 0, 5, false));
        assert_eq!(q.oldest_escalation(), Some(10));
        assert_eq!(q.escalations_due(9).count(), 0);
        assert_eq!(q.escalations_due(10).collect::<Vec<_>>(), ["s"]);

        // Escalated: out of the index, still queued.
        assert!(q.remove(&with_skills));
        let mut escalated = with_skills.clone();
        escalated.escalated = true;
        q.insert(&escalated);
        assert_eq!(q.oldest_escalation(), None);
        assert_eq!(q.ids().count(), 2);
        assert!(q.remove(&escalated));
        assert!(!q.remove(&escalated));
    }
}
