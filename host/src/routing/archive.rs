//! Finished tasks leave memory. A completed or canceled task moves from
//! `task/` to `taskdone/` in the write that finishes it, with the indexes
//! the host still asks of finished work (a customer's tasks, the
//! conversations an agent worked on) and the all-time totals `/api/stats`
//! shows. The routing state then holds live work only, and start-up reads
//! only live tasks: neither grows with history. Reports read the event
//! history, not these.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::config::PerKind;
use crate::customers::Merge;
use crate::kind::Kind;
use crate::store::{Batch, Store, StoreError, keys};

use super::model::{Task, TaskState};
use super::wait::RECENT;
use super::{Routing, RoutingError};

/// All-time figures of one channel kind's finished tasks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct KindTotals {
    /// Completed.
    pub handled: u64,
    /// Sum of handle times (accepted to end) of completed tasks, ms.
    pub handle_ms: u64,
    /// Completed tasks with a handle time.
    pub handle_n: u64,
    /// Canceled because the customer gave up.
    pub abandoned: u64,
    /// Answered, or abandoned after the SLA target: the SLA's denominator.
    pub sla_total: u64,
    /// Accepted by an agent.
    pub answered: u64,
    /// Accepted within the SLA target.
    pub answered_within_sla: u64,
    /// Transfers.
    pub transfers: u64,
    /// The last [`RECENT`] completions (end, handle time ms), newest last:
    /// what the wait estimate drains the queue by.
    pub recent: VecDeque<(u64, u64)>,
}

/// The totals of every kind, persisted at `stats/totals`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Totals {
    pub kinds: BTreeMap<Kind, KindTotals>,
}

impl Totals {
    /// Adds a finished task, judged against `sla_ms`.
    pub fn add(&mut self, task: &Task, sla_ms: &PerKind<u64>) {
        let target = sla_ms.get(task.channel_kind);
        let k = self.kinds.entry(task.channel_kind).or_default();
        match task.state {
            TaskState::Completed => {
                k.handled += 1;
                if let (Some(a), Some(e)) = (task.accepted_at, task.ended_at) {
                    k.handle_ms += e.saturating_sub(a);
                    k.handle_n += 1;
                    k.recent.push_back((e, e.saturating_sub(a)));
                    while k.recent.len() > RECENT {
                        k.recent.pop_front();
                    }
                }
            }
            TaskState::Canceled if task.abandoned => {
                k.abandoned += 1;
                if task.ended_at.unwrap_or(0).saturating_sub(task.created_at) > target {
                    k.sla_total += 1;
                }
            }
            _ => {}
        }
        k.transfers += task.transfers() as u64;
        if let Some(accepted) = task.accepted_at {
            k.answered += 1;
            k.sla_total += 1;
            if accepted.saturating_sub(task.created_at) <= target {
                k.answered_within_sla += 1;
            }
        }
    }
}

/// Writes a finished task to the archive in `batch`: off `task/`, into
/// `taskdone/` with its indexes, and the totals as they now are.
pub(super) fn archive(batch: &mut Batch, task: &Task, totals: &Totals) {
    batch.delete(keys::task(&task.id));
    batch.put_json(keys::done_task(&task.id), task);
    batch.put(keys::customer_done_task(&task.customer_id, &task.id), "");
    for agent in workers(task) {
        batch.put(
            keys::agent_done_conversation(agent, &task.conversation_id),
            task.customer_id.as_str(),
        );
    }
    batch.put_json(keys::TASK_TOTALS, totals);
}

/// Everyone who held the task or passed it on, once each.
fn workers(task: &Task) -> HashSet<&str> {
    task.workers().collect()
}

/// Recomputes the all-time totals from the archived tasks and stores them
/// (the `switchboard rebuild-stats` command, with the host stopped): what
/// `/api/stats` shows if `stats/totals` was lost or judged against other
/// SLA targets. Returns how many tasks were counted.
pub fn rebuild_totals(store: &Store, sla_ms: &PerKind<u64>) -> Result<u64, StoreError> {
    let mut tasks = store.scan_json::<Task>(keys::DONE_TASKS)?;
    // The recent handle times are the newest completions.
    tasks.sort_by_key(|t| (t.ended_at.unwrap_or(0), t.created_at));
    let mut totals = Totals::default();
    for task in &tasks {
        totals.add(task, sla_ms);
    }
    let mut batch = Batch::new();
    batch.put_json(keys::TASK_TOTALS, &totals);
    store.write(batch)?;
    store.flush()?;
    Ok(tasks.len() as u64)
}

/// The totals as stored.
pub(super) fn load_totals(store: &Store) -> Result<Totals, StoreError> {
    Ok(store.get_json(keys::TASK_TOTALS)?.unwrap_or_default())
}

impl Routing {
    /// A finished task, from the archive.
    pub(super) fn archived(&self, id: &str) -> Option<Task> {
        self.inner
            .store
            .get_json(&keys::done_task(id))
            .ok()
            .flatten()
    }

    /// 404 for a task nobody knows; 409 for one that is over.
    pub(super) fn missing(&self, id: &str) -> RoutingError {
        match self.archived(id) {
            Some(t) => RoutingError::Conflict(format!("task {id} is {}", t.state.as_str())),
            None => RoutingError::NotFound(format!("no task {id}")),
        }
    }

    /// A customer's finished tasks.
    pub(super) fn archived_of_customer(&self, customer: &str) -> Result<Vec<Task>, StoreError> {
        let store = &self.inner.store;
        let mut tasks = Vec::new();
        for id in store.scan_keys(&keys::customer_done_tasks(customer))? {
            if let Some(t) = store.get_json::<Task>(&keys::done_task(&id))? {
                tasks.push(t);
            }
        }
        Ok(tasks)
    }

    /// The conversations (with their customer) an agent worked on in
    /// finished tasks.
    pub(super) fn archived_conversations_of(
        &self,
        agent: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.inner
            .store
            .scan_strings(&keys::agent_done_conversations(agent))
    }

    /// Whether an agent worked on a conversation in a finished task.
    pub(super) fn archived_worked_on(&self, agent: &str, conversation: &str) -> bool {
        self.inner
            .store
            .get_raw(&keys::agent_done_conversation(agent, conversation))
            .ok()
            .flatten()
            .is_some()
    }

    /// Erasure of a customer's finished tasks: their counts stay, what tied
    /// them to her goes (see [`Routing::scrub_customer`]).
    pub(super) fn scrub_archived(
        &self,
        batch: &mut Batch,
        customer: &str,
        scrub: impl Fn(&mut Task),
    ) -> Result<usize, StoreError> {
        let tasks = self.archived_of_customer(customer)?;
        for task in &tasks {
            let mut t = task.clone();
            scrub(&mut t);
            batch.put_json(keys::done_task(&t.id), &t);
            batch.delete(keys::customer_done_task(customer, &t.id));
            for agent in workers(task) {
                batch.delete(keys::agent_done_conversation(agent, &t.conversation_id));
            }
        }
        Ok(tasks.len())
    }

    /// Moves a merged customer's finished tasks to the survivor.
    pub(super) fn rekey_archived(
        &self,
        batch: &mut Batch,
        merge: &Merge,
    ) -> Result<(), StoreError> {
        for mut task in self.archived_of_customer(&merge.merged)? {
            batch.delete(keys::customer_done_task(&merge.merged, &task.id));
            task.customer_id = merge.survivor.clone();
            batch.put_json(keys::done_task(&task.id), &task);
            batch.put(keys::customer_done_task(&merge.survivor, &task.id), "");
            for agent in workers(&task) {
                batch.put(
                    keys::agent_done_conversation(agent, &task.conversation_id),
                    merge.survivor.as_str(),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::state::tests::task;

    #[test]
    fn totals_count_what_the_live_figures_counted() {
        let sla = PerKind {
            voice: 20,
            chat: 60,
            messaging: 60,
            email: 600,
        };
        let mut totals = Totals::default();
        let mut done = task("a", Kind::Chat, TaskState::Completed, Some("ana"));
        (done.accepted_at, done.ended_at) = (Some(30), Some(130));
        totals.add(&done, &sla);
        let mut late = task("b", Kind::Chat, TaskState::Canceled, None);
        (late.abandoned, late.ended_at) = (true, Some(100));
        totals.add(&late, &sla);
        let mut quick = task("c", Kind::Chat, TaskState::Canceled, None);
        (quick.abandoned, quick.ended_at) = (true, Some(10));
        totals.add(&quick, &sla);

        let k = &totals.kinds[&Kind::Chat];
        assert_eq!((k.handled, k.handle_ms, k.handle_n), (1, 100, 1));
        assert_eq!((k.abandoned, k.answered, k.answered_within_sla), (2, 1, 1));
        // Answered once, abandoned once after the target.
        assert_eq!(k.sla_total, 2);
        assert_eq!(k.recent, [(130, 100)]);
    }

    #[test]
    fn a_finished_task_stored_as_live_moves_to_the_archive_at_load() {
        use crate::routing::state::State;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut done = task("old", Kind::Chat, TaskState::Completed, Some("ana"));
        (done.accepted_at, done.ended_at) = (Some(10), Some(40));
        let waiting = task("new", Kind::Chat, TaskState::Pending, None);
        let mut batch = Batch::new();
        batch.put_json(keys::task("old"), &done);
        batch.put_json(keys::task("new"), &waiting);
        store.write(batch).unwrap();

        let state = State::load(&store, default_sla()).unwrap();
        assert_eq!(state.tasks.keys().collect::<Vec<_>>(), ["new"]);
        assert_eq!(state.totals.kinds[&Kind::Chat].handled, 1);
        assert_eq!(store.scan_keys(keys::TASKS).unwrap(), ["new"]);
        assert!(store.get_raw(&keys::done_task("old")).unwrap().is_some());
        assert_eq!(
            store
                .scan_keys(&keys::agent_done_conversations("ana"))
                .unwrap(),
            ["con"]
        );
        // Loading again finds nothing more to move, and the same totals.
        let again = State::load(&store, default_sla()).unwrap();
        assert_eq!(again.totals.kinds[&Kind::Chat].handled, 1);

        // Lost totals are rebuilt from the archive.
        let mut batch = Batch::new();
        batch.delete(keys::TASK_TOTALS);
        store.write(batch).unwrap();
        assert!(
            State::load(&store, default_sla())
                .unwrap()
                .totals
                .kinds
                .is_empty()
        );
        assert_eq!(rebuild_totals(&store, &default_sla()).unwrap(), 1);
        let rebuilt = State::load(&store, default_sla()).unwrap();
        let k = &rebuilt.totals.kinds[&Kind::Chat];
        assert_eq!((k.handled, k.handle_ms, k.recent.len()), (1, 30, 1));
    }

    fn default_sla() -> PerKind<u64> {
        crate::config::RoutingConfig::default().sla_ms
    }
}
