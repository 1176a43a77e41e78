//! The routing state in memory: agents (by id, by router-facing number and
//! by token digest), the live tasks, the waiting queue, the timers, what
//! each agent holds, and the totals of finished tasks (which themselves
//! live in the store's archive, see `archive.rs`). The dispatcher checks every agent's capacity for every
//! decision, so holdings are indexed by agent number.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::{PerKind, RoutingConfig};
use crate::store::{Batch, Store, StoreError, keys};

use super::archive::{self, Totals};
use super::model::{Agent, Kind, Task, TaskState};
use super::queue::Queue;

/// Everything the router decides from, behind the routing core's one lock.
pub(super) struct State {
    /// Agents by id.
    pub agents: BTreeMap<String, Agent>,
    /// Agent ids by the number routers see.
    pub numbers: HashMap<u32, String>,
    /// Agent ids by token digest.
    pub tokens: HashMap<String, String>,
    /// The number the next new agent gets.
    pub next_number: u32,
    /// The live tasks (waiting, reserved, assigned, wrapping), by id.
    /// Finished ones are in the store's archive.
    pub tasks: HashMap<String, Task>,
    /// The waiting tasks in dispatch order.
    pub queue: Queue,
    /// When a reservation lapses or a wrap-up ends, by task. Entries are
    /// not removed when the task moves on: the timer re-checks the task.
    pub deadlines: BTreeSet<(u64, String)>,
    /// Waiting tasks the router has not prioritized yet (new, or their
    /// customer changed).
    pub unprioritized: Vec<String>,
    /// Each agent's reserved, assigned and wrapping tasks with their kind,
    /// indexed by agent number: the dispatcher checks every agent's
    /// capacity for every decision, so this is an array index, not a hash
    /// look-up.
    pub holdings: Vec<Vec<(String, Kind)>>,
    /// The all-time figures of finished tasks.
    pub totals: Totals,
    /// The SLA targets finished tasks are judged against.
    pub sla_ms: PerKind<u64>,
}

impl Default for State {
    fn default() -> Self {
        State {
            agents: BTreeMap::new(),
            numbers: HashMap::new(),
            tokens: HashMap::new(),
            // Agent numbers start at 1.
            next_number: 1,
            tasks: HashMap::new(),
            queue: Queue::default(),
            deadlines: BTreeSet::new(),
            unprioritized: Vec::new(),
            holdings: Vec::new(),
            totals: Totals::default(),
            sla_ms: RoutingConfig::default().sla_ms,
        }
    }
}

impl State {
    /// Agents and live tasks as stored: waiting tasks back in the queue,
    /// held tasks back with their agents, pending timers indexed again. A
    /// finished task still under `task/` (a data directory from before the
    /// archive) moves to the archive now, in one write.
    pub fn load(store: &Store, sla_ms: PerKind<u64>) -> Result<State, StoreError> {
        let mut state = State {
            sla_ms,
            totals: archive::load_totals(store)?,
            ..State::default()
        };
        for agent in store.scan_json::<Agent>(keys::AGENTS)? {
            state.add_agent(agent);
        }
        state.tokens = store
            .scan_strings(keys::AGENT_TOKENS)?
            .into_iter()
            .collect();
        let mut batch = Batch::new();
        for task in store.scan_json::<Task>(keys::TASKS)? {
            if task.state.is_final() {
                state.save(&mut batch, &task);
            } else {
                state.add_task(task);
            }
        }
        if !batch.is_empty() {
            store.write(batch)?;
        }
        Ok(state)
    }

    /// Writes a changed task into `batch` and memory: a live task replaces
    /// its copy; a finished one leaves memory for the archive and adds to
    /// the totals. Queue, holdings and timers are the caller's.
    pub fn save(&mut self, batch: &mut Batch, task: &Task) {
        if task.state.is_final() {
            self.tasks.remove(&task.id);
            self.totals.add(task, &self.sla_ms);
            archive::archive(batch, task, &self.totals);
        } else {
            batch.put_json(keys::task(&task.id), task);
            self.tasks.insert(task.id.clone(), task.clone());
        }
    }

    /// Adds (or replaces) an agent.
    pub fn add_agent(&mut self, agent: Agent) {
        self.next_number = self.next_number.max(agent.number + 1);
        self.numbers.insert(agent.number, agent.id.clone());
        self.agents.insert(agent.id.clone(), agent);
    }

    /// Adds a task as stored: queued when pending, held by its agent
    /// otherwise, with its timer.
    pub fn add_task(&mut self, task: Task) {
        match task.state {
            TaskState::Pending => {
                self.queue.insert(&task);
                if !task.prioritized {
                    self.unprioritized.push(task.id.clone());
                }
            }
            s if s.holds_agent() => {
                if let Some(at) = task.reservation_expires_at.or(task.wrap_until) {
                    self.deadlines.insert((at, task.id.clone()));
                }
                if let Some(number) = task
                    .agent_id
                    .as_ref()
                    .and_then(|a| self.agents.get(a))
                    .map(|a| a.number)
                {
                    self.hold(number, &task.id, task.channel_kind);
                }
            }
            _ => {}
        }
        self.tasks.insert(task.id.clone(), task);
    }

    /// The tasks agent `number` holds, with their kind.
    pub fn held_of(&self, number: u32) -> &[(String, Kind)] {
        self.holdings
            .get(number as usize)
            .map_or(&[], Vec::as_slice)
    }

    pub fn hold(&mut self, number: u32, task: &str, kind: Kind) {
        let i = number as usize;
        if self.holdings.len() <= i {
            self.holdings.resize_with(i + 1, Vec::new);
        }
        self.holdings[i].push((task.to_string(), kind));
    }

    pub fn held(&self, agent: &str) -> impl Iterator<Item = &Task> {
        let number = self.agents.get(agent).map(|a| a.number);
        number
            .map_or(&[][..], |n| self.held_of(n))
            .iter()
            .filter_map(|(id, _)| self.tasks.get(id))
    }

    /// How many more tasks of `kind` the agent can take now.
    pub fn free(&self, agent: &Agent, kind: Kind, config: &RoutingConfig) -> u32 {
        let cap = agent
            .capacity
            .get(&kind)
            .copied()
            .unwrap_or_else(|| config.default_capacity.get(kind));
        let mut same = 0u32;
        let mut total = 0u32;
        let mut on_voice = false;
        for (_, held) in self.held_of(agent.number) {
            total += 1;
            if *held == kind {
                same += 1;
            }
            if *held == Kind::Voice {
                on_voice = true;
            }
        }
        if config.voice_exclusive && (on_voice || (kind == Kind::Voice && total > 0)) {
            return 0;
        }
        cap.saturating_sub(same)
    }

    pub fn unhold(&mut self, agent: &str, task: &str) {
        if let Some(number) = self.agents.get(agent).map(|a| a.number as usize)
            && let Some(list) = self.holdings.get_mut(number)
        {
            list.retain(|(t, _)| t != task);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::routing::model::{AgentStatus, Role};

    /// An available agent with this number and capacity.
    pub fn agent(id: &str, number: u32, capacity: &[(Kind, u32)]) -> Agent {
        Agent {
            id: id.into(),
            number,
            name: id.into(),
            role: Role::Agent,
            skills: BTreeMap::new(),
            languages: Vec::new(),
            capacity: capacity.iter().copied().collect(),
            voice_endpoint: None,
            status: AgentStatus::Available,
            status_since: 0,
            idle_since: 0,
            created_at: 0,
            deactivated: false,
        }
    }

    /// A task in `state` on `kind`, held by `agent` when given.
    pub fn task(id: &str, kind: Kind, state: TaskState, agent: Option<&str>) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": id, "conversation_id": "con", "customer_id": "cus", "channel": "test",
            "channel_kind": kind, "priority": 0, "created_at": 0, "state": state,
            "skills": [], "prioritized": true, "escalated": false, "rejected_by": [],
            "abandoned": false,
        }))
        .expect("a minimal task");
        t.agent_id = agent.map(str::to_string);
        t
    }

    #[test]
    fn free_capacity_is_per_kind_and_voice_is_exclusive() {
        let config = RoutingConfig::default();
        let mut state = State::default();
        let ana = agent("ana", 1, &[(Kind::Chat, 2)]);
        state.add_agent(ana.clone());
        assert_eq!(state.free(&ana, Kind::Chat, &config), 2);
        // No capacity of its own for messaging: the host default applies.
        assert_eq!(
            state.free(&ana, Kind::Messaging, &config),
            config.default_capacity.messaging
        );

        state.add_task(task("c1", Kind::Chat, TaskState::Assigned, Some("ana")));
        assert_eq!(state.free(&ana, Kind::Chat, &config), 1);
        assert_eq!(state.held("ana").count(), 1);
        // Busy with a chat: no call for her.
        assert_eq!(state.free(&ana, Kind::Voice, &config), 0);

        state.unhold("ana", "c1");
        state.add_task(task("v1", Kind::Voice, TaskState::Reserved, Some("ana")));
        // On a call: nothing else.
        assert_eq!(state.free(&ana, Kind::Chat, &config), 0);
        assert_eq!(state.free(&ana, Kind::Email, &config), 0);
        let shared = RoutingConfig {
            voice_exclusive: false,
            ..RoutingConfig::default()
        };
        assert_eq!(state.free(&ana, Kind::Chat, &shared), 2);
    }

    #[test]
    fn loading_puts_tasks_back_where_they_were() {
        let mut state = State::default();
        state.add_agent(agent("ana", 7, &[]));
        let mut reserved = task("r", Kind::Chat, TaskState::Reserved, Some("ana"));
        reserved.reservation_expires_at = Some(500);
        state.add_task(reserved);
        let mut pending = task("p", Kind::Email, TaskState::Pending, None);
        pending.prioritized = false;
        state.add_task(pending);
        state.add_task(task("done", Kind::Chat, TaskState::Completed, Some("ana")));

        assert_eq!(state.next_number, 8);
        assert_eq!(state.held_of(7), [("r".to_string(), Kind::Chat)]);
        assert_eq!(state.queue.ids().collect::<Vec<_>>(), ["p"]);
        assert_eq!(state.unprioritized, ["p"]);
        assert_eq!(state.deadlines.first(), Some(&(500, "r".to_string())));
        assert_eq!(state.tasks.len(), 3);
    }
}
