//! The routing core: agents, the unified queue, reservations, capacity,
//! SLAs and escalation.
//!
//! State lives in memory behind one mutex and is written through to the
//! store on every change (tasks and agents are reloaded at start). One
//! dispatcher task makes every decision: on task arrival, when an agent
//! becomes available or frees capacity, and when a timer is due
//! (reservation expiry, wrap-up end, escalation). The router plugin is
//! called outside the lock with a snapshot of the candidates; its answer is
//! re-validated against the live state before a task is reserved, so the
//! host — not the plugin — enforces status and capacity. If the plugin
//! fails, the built-in longest-idle policy decides and the fallback is
//! counted.

pub mod model;
pub mod policy;
mod queue;
pub mod trend;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::config::RoutingConfig;
use crate::customers::{Customers, Merge};
use crate::events::{Event, Events, now_ms};
use crate::runtime::Runtime;
use crate::runtime::bindings::routing::{Candidates, Decision, RouteTask};
use crate::runtime::bindings::types::SkillRequirement;
use crate::store::{Batch, Store, StoreError};
use queue::Queue;

pub use model::{Agent, AgentStatus, Kind, Role, Skill, Task, TaskState};

/// A routing operation that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// No such task or agent.
    #[error("{0}")]
    NotFound(String),
    /// Not this caller's task.
    #[error("{0}")]
    Forbidden(String),
    /// The task or agent is in the wrong state.
    #[error("{0}")]
    Conflict(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `PUT /api/agents/{id}` takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Display name.
    pub name: String,
    /// Skill name → level 1-5.
    #[serde(default)]
    pub skills: BTreeMap<String, u8>,
    /// Languages spoken.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Tasks per channel kind.
    #[serde(default)]
    pub capacity: BTreeMap<Kind, u32>,
    /// Where calls are connected.
    #[serde(default)]
    pub voice_endpoint: Option<String>,
    /// `agent` (default) or `supervisor`.
    #[serde(default)]
    pub role: Option<Role>,
}

/// A new task for the queue.
#[derive(Debug, Clone)]
pub struct NewTask {
    /// The channel plugin.
    pub channel: String,
    /// Its kind.
    pub kind: Kind,
    /// The conversation.
    pub conversation_id: String,
    /// The customer.
    pub customer_id: String,
    /// The customer's previous agent.
    pub preferred_agent: Option<String>,
    /// Skills needed.
    pub skills: Vec<Skill>,
    /// The customer's language.
    pub language: Option<String>,
    /// Extra priority on top of the channel kind's.
    pub priority: Option<u32>,
    /// Why it exists (e.g. a bot handoff reason).
    pub reason: Option<String>,
    /// What the agent should know first.
    pub summary: Option<String>,
}

/// A waiting task as `GET /api/queue` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    /// The task.
    #[serde(flatten)]
    pub task: Task,
    /// 1-based place in the queue.
    pub position: usize,
    /// How long it has waited, ms.
    pub age_ms: u64,
    /// The channel kind's target, ms.
    pub sla_target_ms: u64,
    /// `ok`, `at_risk` (past 80% of the target) or `breached`.
    pub sla_state: &'static str,
}

/// Live figures for one channel kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindStats {
    /// Tasks waiting in the queue (pending or reserved).
    pub waiting: usize,
    /// The longest current wait, ms.
    pub oldest_wait_ms: u64,
    /// The SLA target, ms.
    pub sla_target_ms: u64,
    /// Share of tasks answered within the target, among those answered,
    /// abandoned after the target or still waiting past it; `null` when none.
    pub sla_pct: Option<f64>,
    /// Waiting tasks already past the target.
    pub breached_waiting: usize,
    /// Tasks accepted by an agent.
    pub answered: u64,
    /// ... within the target.
    pub answered_within_sla: u64,
    /// Tasks being handled now.
    pub in_progress: usize,
    /// Tasks completed.
    pub handled: u64,
    /// Tasks canceled while waiting (the customer gave up).
    pub abandoned: u64,
    /// Average handle time (accept to complete), ms.
    pub aht_ms: Option<u64>,
}

/// `GET /api/stats`.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Per channel kind.
    pub channels: BTreeMap<Kind, KindStats>,
    /// Agents by status.
    pub agents: BTreeMap<&'static str, usize>,
    /// The router in effect and how often it fell back.
    pub router: RouterStats,
}

/// Router figures.
#[derive(Debug, Clone, Serialize)]
pub struct RouterStats {
    /// The configured router plugin.
    pub plugin: String,
    /// Decisions made by the plugin.
    pub decisions: u64,
    /// Decisions made by the built-in policy because the plugin failed.
    pub fallbacks: u64,
}

struct State {
    agents: BTreeMap<String, Agent>,
    numbers: HashMap<u32, String>,
    tokens: HashMap<String, String>,
    next_number: u32,
    tasks: HashMap<String, Task>,
    queue: Queue,
    /// When a reservation lapses or a wrap-up ends, by task. Entries are
    /// not removed when the task moves on: the timer re-checks the task.
    deadlines: BTreeSet<(u64, String)>,
    /// Waiting tasks the router has not prioritized yet (new, or their
    /// customer changed).
    unprioritized: Vec<String>,
    /// Each agent's reserved, assigned and wrapping tasks with their kind,
    /// indexed by agent number: the dispatcher checks every agent's
    /// capacity for every decision, so this is an array index, not a hash
    /// look-up.
    holdings: Vec<Vec<(String, Kind)>>,
}

impl State {
    fn held_of(&self, number: u32) -> &[(String, Kind)] {
        self.holdings
            .get(number as usize)
            .map_or(&[], Vec::as_slice)
    }

    fn hold(&mut self, number: u32, task: &str, kind: Kind) {
        let i = number as usize;
        if self.holdings.len() <= i {
            self.holdings.resize_with(i + 1, Vec::new);
        }
        self.holdings[i].push((task.to_string(), kind));
    }

    fn held(&self, agent: &str) -> impl Iterator<Item = &Task> {
        let number = self.agents.get(agent).map(|a| a.number);
        number
            .map_or(&[][..], |n| self.held_of(n))
            .iter()
            .filter_map(|(id, _)| self.tasks.get(id))
    }

    /// How many more tasks of `kind` the agent can take now.
    fn free(&self, agent: &Agent, kind: Kind, config: &RoutingConfig) -> u32 {
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

    fn unhold(&mut self, agent: &str, task: &str) {
        if let Some(number) = self.agents.get(agent).map(|a| a.number as usize)
            && let Some(list) = self.holdings.get_mut(number)
        {
            list.retain(|(t, _)| t != task);
        }
    }
}

struct Inner {
    state: Mutex<State>,
    store: Store,
    runtime: Runtime,
    customers: Arc<Customers>,
    config: RoutingConfig,
    events: Events,
    wake: Notify,
    stopped: AtomicBool,
    decisions: AtomicU64,
    fallbacks: AtomicU64,
}

/// The routing core. Cheap to clone.
#[derive(Clone)]
pub struct Routing {
    inner: Arc<Inner>,
}

/// The router name that selects the built-in longest-idle policy without
/// calling a plugin.
pub const BUILT_IN: &str = "built-in";

fn task_key(id: &str) -> String {
    format!("task/{id}")
}
fn agent_key(id: &str) -> String {
    format!("agent/{id}")
}
/// Token digest → agent id. Kept out of the agent record, so the record is
/// what the API shows.
fn token_key(digest: &str) -> String {
    format!("agenttok/{digest}")
}

/// SHA-256 hex of a bearer token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Routing {
    /// Loads agents and tasks from the store. Call [`Routing::start`] to run
    /// the dispatcher.
    pub fn new(
        store: Store,
        runtime: Runtime,
        customers: Arc<Customers>,
        config: RoutingConfig,
        events: Events,
    ) -> Result<Routing, StoreError> {
        let mut state = State {
            agents: BTreeMap::new(),
            numbers: HashMap::new(),
            tokens: HashMap::new(),
            next_number: 1,
            tasks: HashMap::new(),
            queue: Queue::default(),
            deadlines: BTreeSet::new(),
            unprioritized: Vec::new(),
            holdings: Vec::new(),
        };
        for agent in store.scan_json::<Agent>("agent/")? {
            state.next_number = state.next_number.max(agent.number + 1);
            state.numbers.insert(agent.number, agent.id.clone());
            state.agents.insert(agent.id.clone(), agent);
        }
        state.tokens = store.scan_strings("agenttok/")?.into_iter().collect();
        for task in store.scan_json::<Task>("task/")? {
            match task.state {
                TaskState::Pending => {
                    state.queue.insert(&task);
                    if !task.prioritized {
                        state.unprioritized.push(task.id.clone());
                    }
                }
                s if s.holds_agent() => {
                    if let Some(at) = task.reservation_expires_at.or(task.wrap_until) {
                        state.deadlines.insert((at, task.id.clone()));
                    }
                    if let Some(number) = task
                        .agent_id
                        .as_ref()
                        .and_then(|a| state.agents.get(a))
                        .map(|a| a.number)
                    {
                        state.hold(number, &task.id, task.channel_kind);
                    }
                }
                _ => {}
            }
            state.tasks.insert(task.id.clone(), task);
        }
        Ok(Routing {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                store,
                runtime,
                customers,
                config,
                events,
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
                decisions: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, kind: &'static str, task: &Task) {
        self.inner.events.publish(|| Event {
            kind,
            at: now_ms(),
            agent_id: task.agent_id.clone(),
            task_id: Some(task.id.clone()),
            conversation_id: Some(task.conversation_id.clone()),
            customer_id: Some(task.customer_id.clone()),
            data: serde_json::to_value(task).unwrap_or_default(),
        });
    }

    fn publish_agent(&self, agent: &Agent) {
        self.inner.events.publish(|| Event {
            kind: "agent.status",
            at: now_ms(),
            agent_id: Some(agent.id.clone()),
            task_id: None,
            conversation_id: None,
            customer_id: None,
            data: serde_json::to_value(agent).unwrap_or_default(),
        });
    }

    /// Asks the dispatcher to look at the queue.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs the dispatcher until [`Routing::stop`].
    pub fn start(&self) -> tokio::task::JoinHandle<()> {
        let routing = self.clone();
        tokio::spawn(async move {
            while !routing.inner.stopped.load(Ordering::SeqCst) {
                routing.dispatch_round().await;
                let now = now_ms();
                let sleep_ms = routing
                    .next_timer()
                    .map_or(1_000, |at| at.saturating_sub(now).clamp(1, 1_000));
                tokio::select! {
                    _ = routing.inner.wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_millis(sleep_ms)) => {}
                }
            }
        })
    }

    /// Stops the dispatcher after its current round.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
    }

    fn next_timer(&self) -> Option<u64> {
        let state = self.lock();
        let escalate = self.inner.config.escalate_after_ms;
        let deadline = state.deadlines.first().map(|(at, _)| *at);
        let escalation = (escalate > 0)
            .then(|| state.queue.oldest_escalation())
            .flatten()
            .map(|created| created + escalate);
        deadline.into_iter().chain(escalation).min()
    }

    // ---- agents ------------------------------------------------------------

    /// Creates or updates an agent; a new agent's bearer token is returned
    /// once (only its digest is stored).
    pub fn put_agent(
        &self,
        id: &str,
        input: AgentInput,
    ) -> Result<(Agent, Option<String>, u64), RoutingError> {
        validate_agent(id, &input)?;
        let now = now_ms();
        let mut state = self.lock();
        let (agent, token) = match state.agents.get(id) {
            Some(existing) => {
                let mut agent = existing.clone();
                agent.name = input.name.trim().to_string();
                agent.skills = input.skills;
                agent.languages = input.languages;
                agent.capacity = input.capacity;
                agent.voice_endpoint = input.voice_endpoint;
                if let Some(role) = input.role {
                    agent.role = role;
                }
                (agent, None)
            }
            None => {
                let mut bytes = [0u8; 24];
                getrandom::fill(&mut bytes)
                    .map_err(|e| RoutingError::Invalid(format!("no randomness: {e}")))?;
                let token = format!("sb_agent_{}", hex::encode(bytes));
                let number = state.next_number;
                state.next_number += 1;
                (
                    Agent {
                        id: id.to_string(),
                        number,
                        name: input.name.trim().to_string(),
                        role: input.role.unwrap_or_default(),
                        skills: input.skills,
                        languages: input.languages,
                        capacity: input.capacity,
                        voice_endpoint: input.voice_endpoint,
                        status: AgentStatus::Offline,
                        status_since: now,
                        idle_since: now,
                        created_at: now,
                    },
                    Some(token),
                )
            }
        };
        let mut batch = Batch::new();
        batch.put_json(agent_key(id), &agent);
        let digest = token.as_deref().map(token_digest);
        if let Some(digest) = &digest {
            batch.put(token_key(digest), agent.id.clone());
        }
        let seq = self.inner.store.write(batch)?;
        state.numbers.insert(agent.number, agent.id.clone());
        if let Some(digest) = digest {
            state.tokens.insert(digest, agent.id.clone());
        }
        state.agents.insert(agent.id.clone(), agent.clone());
        drop(state);
        self.wake();
        Ok((agent, token, seq))
    }

    /// An agent by id.
    pub fn agent(&self, id: &str) -> Option<Agent> {
        self.lock().agents.get(id).cloned()
    }

    /// Every agent.
    pub fn agents(&self) -> Vec<Agent> {
        self.lock().agents.values().cloned().collect()
    }

    /// The agent holding this bearer token.
    pub fn agent_by_token(&self, token: &str) -> Option<Agent> {
        let digest = token_digest(token);
        let state = self.lock();
        state
            .tokens
            .get(&digest)
            .and_then(|id| state.agents.get(id))
            .cloned()
    }

    /// Sets an agent's status. Leaving `available` returns the agent's
    /// unaccepted reservations to the queue.
    pub fn set_status(&self, id: &str, status: AgentStatus) -> Result<(Agent, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no agent {id}")))?;
        let mut batch = Batch::new();
        let mut returned = Vec::new();
        if agent.status != status {
            if status == AgentStatus::Available {
                agent.idle_since = now;
            } else {
                returned = self.return_reservations(&mut state, &mut batch, id);
            }
            agent.status = status;
            agent.status_since = now;
        }
        batch.put_json(agent_key(id), &agent);
        let seq = self.inner.store.write(batch)?;
        state.agents.insert(id.to_string(), agent.clone());
        drop(state);
        for t in &returned {
            self.publish("task.returned", t);
        }
        self.publish_agent(&agent);
        self.wake();
        Ok((agent, seq))
    }

    /// Puts an agent's reserved tasks back in the queue (in memory and in
    /// `batch`).
    fn return_reservations(&self, state: &mut State, batch: &mut Batch, agent: &str) -> Vec<Task> {
        let reserved: Vec<String> = state
            .held(agent)
            .filter(|t| t.state == TaskState::Reserved)
            .map(|t| t.id.clone())
            .collect();
        let mut out = Vec::new();
        for id in reserved {
            state.unhold(agent, &id);
            let task = state.tasks.get_mut(&id).expect("held tasks exist");
            task.state = TaskState::Pending;
            task.agent_id = None;
            task.reservation_expires_at = None;
            batch.put_json(task_key(&id), &*task);
            let t = task.clone();
            state.queue.insert(&t);
            out.push(t);
        }
        out
    }

    /// The agent's reserved, assigned and wrapping tasks.
    pub fn agent_tasks(&self, id: &str) -> Result<Vec<Task>, RoutingError> {
        let state = self.lock();
        if !state.agents.contains_key(id) {
            return Err(RoutingError::NotFound(format!("no agent {id}")));
        }
        let mut tasks: Vec<Task> = state.held(id).cloned().collect();
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(tasks)
    }

    /// Whether the agent holds a task on this conversation.
    pub fn agent_has_conversation(&self, agent: &str, conversation: &str) -> bool {
        self.lock()
            .held(agent)
            .any(|t| t.conversation_id == conversation)
    }

    /// Whether the agent holds a task of this customer.
    pub fn agent_has_customer(&self, agent: &str, customer: &str) -> bool {
        self.lock().held(agent).any(|t| t.customer_id == customer)
    }

    // ---- tasks -------------------------------------------------------------

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<Task> {
        self.lock().tasks.get(id).cloned()
    }

    /// Creates a pending task record in `batch`; [`Routing::enqueue`] it
    /// once the batch is written.
    pub fn new_task(&self, batch: &mut Batch, new: NewTask) -> Result<Task, StoreError> {
        let id = format!("tsk_{:012}", self.inner.store.next_id()?);
        let task = Task {
            id,
            state: TaskState::Pending,
            channel: new.channel,
            channel_kind: new.kind,
            conversation_id: new.conversation_id,
            customer_id: new.customer_id,
            agent_id: None,
            priority: self.inner.config.priority.get(new.kind) + new.priority.unwrap_or(0),
            created_at: now_ms(),
            skills: new.skills,
            language: new.language,
            prioritized: false,
            escalated: false,
            preferred_agent: new.preferred_agent,
            rejected_by: Vec::new(),
            reserved_at: None,
            reservation_expires_at: None,
            accepted_at: None,
            wrap_until: None,
            ended_at: None,
            disposition: None,
            abandoned: false,
            routed_by: None,
            reason: new.reason,
            summary: new.summary,
            base_priority: None,
        };
        batch.put_json(task_key(&task.id), &task);
        Ok(task)
    }

    /// Adds a written task to the queue and wakes the dispatcher.
    pub fn enqueue(&self, task: Task) {
        metrics::counter!("switchboard_tasks_created_total", "kind" => task.channel_kind.as_str())
            .increment(1);
        {
            let mut state = self.lock();
            state.queue.insert(&task);
            state.unprioritized.push(task.id.clone());
            state.tasks.insert(task.id.clone(), task.clone());
        }
        self.publish("task.created", &task);
        self.wake();
    }

    /// Applies `f` to a task owned by `agent`, writes it, and returns it.
    fn transition(
        &self,
        task_id: &str,
        agent: &str,
        event: &'static str,
        f: impl FnOnce(&mut State, &mut Task, u64) -> Result<(), RoutingError>,
    ) -> Result<(Task, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut task = state
            .tasks
            .get(task_id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no task {task_id}")))?;
        if task.agent_id.is_none() && task.state == TaskState::Pending {
            return Err(RoutingError::Conflict(format!(
                "task {task_id} is waiting in the queue, not reserved for agent {agent}"
            )));
        }
        if task.agent_id.as_deref() != Some(agent) {
            return Err(RoutingError::Forbidden(format!(
                "task {task_id} is not reserved for or assigned to agent {agent}"
            )));
        }
        f(&mut state, &mut task, now)?;
        let mut batch = Batch::new();
        batch.put_json(task_key(task_id), &task);
        if let Some(a) = state.agents.get(agent) {
            batch.put_json(agent_key(agent), a);
        }
        let seq = self.inner.store.write(batch)?;
        state.tasks.insert(task.id.clone(), task.clone());
        drop(state);
        self.publish(event, &task);
        self.wake();
        Ok((task, seq))
    }

    /// The reserved agent accepts the task.
    pub fn accept(&self, task_id: &str, agent: &str) -> Result<(Task, u64), RoutingError> {
        let sla = self.inner.config.sla_ms;
        let result = self.transition(task_id, agent, "task.accepted", |_, task, now| {
            require_state(task, TaskState::Reserved)?;
            task.state = TaskState::Assigned;
            task.accepted_at = Some(now);
            task.reservation_expires_at = None;
            Ok(())
        })?;
        let waited = result.0.accepted_at.unwrap_or(0) - result.0.created_at;
        metrics::counter!("switchboard_tasks_answered_total", "kind" => result.0.channel_kind.as_str(),
            "within_sla" => if waited <= sla.get(result.0.channel_kind) { "true" } else { "false" })
        .increment(1);
        Ok(result)
    }

    /// The reserved agent declines; the task is offered to someone else.
    pub fn reject(&self, task_id: &str, agent: &str) -> Result<(Task, u64), RoutingError> {
        self.transition(task_id, agent, "task.rejected", |state, task, _| {
            require_state(task, TaskState::Reserved)?;
            state.unhold(agent, &task.id);
            task.state = TaskState::Pending;
            task.rejected_by.push(agent.to_string());
            task.agent_id = None;
            task.reservation_expires_at = None;
            state.queue.insert(task);
            Ok(())
        })
    }

    /// The assigned agent is done: the task wraps up (when the channel kind
    /// has a wrap-up time) or completes, freeing capacity.
    pub fn complete(
        &self,
        task_id: &str,
        agent: &str,
        disposition: Option<String>,
    ) -> Result<(Task, u64), RoutingError> {
        let wrap = self.inner.config.wrap_up_ms;
        self.transition(
            task_id,
            agent,
            "task.completed",
            |state, task, now| match task.state {
                TaskState::Assigned => {
                    task.disposition = disposition;
                    let wrap_ms = wrap.get(task.channel_kind);
                    if wrap_ms > 0 {
                        task.state = TaskState::Wrapping;
                        task.wrap_until = Some(now + wrap_ms);
                        state.deadlines.insert((now + wrap_ms, task.id.clone()));
                    } else {
                        finish(state, task, now);
                    }
                    Ok(())
                }
                TaskState::Wrapping => {
                    if disposition.is_some() {
                        task.disposition = disposition;
                    }
                    finish(state, task, now);
                    Ok(())
                }
                other => Err(RoutingError::Conflict(format!(
                    "task {} is {}; only assigned or wrapping tasks complete",
                    task.id,
                    other.as_str()
                ))),
            },
        )
    }

    /// Moves an assigned task to wrap-up (e.g. the call ended). It stays
    /// there until the agent completes it (with a disposition) or, when the
    /// channel kind has a wrap-up time, until that runs out.
    pub fn wrap(&self, task_id: &str) -> Result<(Task, u64), RoutingError> {
        let agent = self
            .task(task_id)
            .and_then(|t| t.agent_id)
            .ok_or_else(|| RoutingError::Conflict(format!("task {task_id} has no agent")))?;
        let wrap = self.inner.config.wrap_up_ms;
        self.transition(task_id, &agent, "task.wrapping", |state, task, now| {
            require_state(task, TaskState::Assigned)?;
            task.state = TaskState::Wrapping;
            task.wrap_until = Some(wrap.get(task.channel_kind))
                .filter(|ms| *ms > 0)
                .map(|ms| now + ms);
            if let Some(at) = task.wrap_until {
                state.deadlines.insert((at, task.id.clone()));
            }
            Ok(())
        })
    }

    /// Withdraws a task that has not been accepted (the customer gave up):
    /// counted as abandoned.
    pub fn cancel(&self, task_id: &str) -> Result<(Task, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut task = state
            .tasks
            .get(task_id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no task {task_id}")))?;
        match task.state {
            TaskState::Pending => {
                state.queue.remove(&task);
            }
            TaskState::Reserved => {
                if let Some(a) = &task.agent_id {
                    state.unhold(a, task_id);
                }
            }
            other => {
                return Err(RoutingError::Conflict(format!(
                    "task {task_id} is {}; only waiting tasks can be canceled",
                    other.as_str()
                )));
            }
        }
        task.state = TaskState::Canceled;
        task.abandoned = true;
        task.ended_at = Some(now);
        let mut batch = Batch::new();
        batch.put_json(task_key(task_id), &task);
        let seq = self.inner.store.write(batch)?;
        state.tasks.insert(task.id.clone(), task.clone());
        drop(state);
        metrics::counter!("switchboard_tasks_abandoned_total", "kind" => task.channel_kind.as_str())
            .increment(1);
        self.publish("task.canceled", &task);
        self.wake();
        Ok((task, seq))
    }

    /// Has the router prioritize a customer's waiting tasks again (their
    /// profile changed, e.g. a CRM set `tier`).
    pub fn reprioritize_customer(&self, customer_id: &str) {
        {
            let state = &mut *self.lock();
            for task in state.tasks.values_mut() {
                if task.customer_id == customer_id && task.state == TaskState::Pending {
                    task.prioritized = false;
                    state.unprioritized.push(task.id.clone());
                }
            }
        }
        self.wake();
    }

    /// Moves a merged customer's tasks to the survivor.
    pub fn rekey_customer(&self, batch: &mut Batch, merge: &Merge) {
        let mut state = self.lock();
        for task in state.tasks.values_mut() {
            if task.customer_id == merge.merged {
                task.customer_id = merge.survivor.clone();
                batch.put_json(task_key(&task.id), &*task);
            }
        }
    }

    // ---- reading -----------------------------------------------------------

    /// Waiting tasks in queue order.
    pub fn queue(&self) -> Vec<QueueEntry> {
        let now = now_ms();
        let state = self.lock();
        state
            .queue
            .ids()
            .filter_map(|id| state.tasks.get(id))
            .enumerate()
            .map(|(i, t)| {
                let target = self.inner.config.sla_ms.get(t.channel_kind);
                let age = now.saturating_sub(t.created_at);
                QueueEntry {
                    task: t.clone(),
                    position: i + 1,
                    age_ms: age,
                    sla_target_ms: target,
                    sla_state: sla_state(age, target),
                }
            })
            .collect()
    }

    /// Live figures.
    pub fn stats(&self) -> Stats {
        let now = now_ms();
        let config = &self.inner.config;
        let state = self.lock();
        let mut channels: BTreeMap<Kind, KindStats> = Kind::ALL
            .iter()
            .map(|k| {
                (
                    *k,
                    KindStats {
                        sla_target_ms: config.sla_ms.get(*k),
                        ..KindStats::default()
                    },
                )
            })
            .collect();
        let mut handle_sum: HashMap<Kind, (u64, u64)> = HashMap::new();
        let mut sla_total: HashMap<Kind, u64> = HashMap::new();
        for t in state.tasks.values() {
            let s = channels.get_mut(&t.channel_kind).expect("all kinds");
            let target = s.sla_target_ms;
            match t.state {
                TaskState::Pending | TaskState::Reserved => {
                    let age = now.saturating_sub(t.created_at);
                    s.waiting += 1;
                    s.oldest_wait_ms = s.oldest_wait_ms.max(age);
                    if age > target {
                        s.breached_waiting += 1;
                        *sla_total.entry(t.channel_kind).or_default() += 1;
                    }
                }
                TaskState::Assigned | TaskState::Wrapping => s.in_progress += 1,
                TaskState::Completed => {
                    s.handled += 1;
                    if let (Some(a), Some(e)) = (t.accepted_at, t.ended_at) {
                        let h = handle_sum.entry(t.channel_kind).or_default();
                        h.0 += e.saturating_sub(a);
                        h.1 += 1;
                    }
                }
                TaskState::Canceled => {
                    if t.abandoned {
                        s.abandoned += 1;
                        if t.ended_at.unwrap_or(now).saturating_sub(t.created_at) > target {
                            *sla_total.entry(t.channel_kind).or_default() += 1;
                        }
                    }
                }
            }
            if let Some(accepted) = t.accepted_at {
                s.answered += 1;
                *sla_total.entry(t.channel_kind).or_default() += 1;
                if accepted.saturating_sub(t.created_at) <= target {
                    s.answered_within_sla += 1;
                }
            }
        }
        for (kind, s) in channels.iter_mut() {
            let total = sla_total.get(kind).copied().unwrap_or(0);
            if total > 0 {
                s.sla_pct =
                    Some((s.answered_within_sla as f64 * 1000.0 / total as f64).round() / 10.0);
            }
            if let Some((sum, n)) = handle_sum.get(kind)
                && *n > 0
            {
                s.aht_ms = Some(sum / n);
            }
        }
        let mut agents: BTreeMap<&'static str, usize> = [
            (AgentStatus::Available.as_str(), 0),
            (AgentStatus::Away.as_str(), 0),
            (AgentStatus::Offline.as_str(), 0),
        ]
        .into_iter()
        .collect();
        for a in state.agents.values() {
            *agents.entry(a.status.as_str()).or_default() += 1;
        }
        Stats {
            channels,
            agents,
            router: RouterStats {
                plugin: config.router.clone(),
                decisions: self.inner.decisions.load(Ordering::Relaxed),
                fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
            },
        }
    }

    // ---- the dispatcher ------------------------------------------------------

    /// Expires reservations, ends wrap-ups, escalates, prioritizes new tasks
    /// and offers waiting tasks to agents. Returns the number of
    /// reservations made. Called by the dispatcher task; public for
    /// benchmarks.
    pub async fn dispatch_round(&self) -> usize {
        let now = now_ms();
        if let Err(e) = self.run_timers(now) {
            tracing::error!(error = %e, "routing timers failed");
            return 0;
        }
        self.prioritize_new().await;
        let mut exhausted: HashSet<Kind> = HashSet::new();
        let mut reserved = 0;
        // Walk the queue one task at a time from a cursor (the lock is let
        // go while the router decides), passing over kinds nobody can take:
        // a round costs the tasks it can act on, not the queue's length.
        let mut cursor = None;
        while exhausted.len() < Kind::ALL.len() {
            let plan = {
                let state = self.lock();
                let Some(key) = state.queue.next_after(cursor.as_ref(), &exhausted).cloned() else {
                    break;
                };
                let plan = plan(&state, &key.2, &self.inner.config, now, &exhausted);
                cursor = Some(key);
                plan
            };
            let (task, candidates, preferred) = match plan {
                Plan::Skip => continue,
                Plan::Exhausted(kind) => {
                    exhausted.insert(kind);
                    continue;
                }
                Plan::Route(task, candidates, preferred) => (task, candidates, preferred),
            };
            let route_task = self.route_task(&task, preferred, now);
            let decision = self.decide(&route_task, &candidates).await;
            match decision {
                Decision::Wait => {}
                Decision::Escalate(skills) => {
                    let _ = self.escalate(&task.id, skills);
                }
                Decision::Assign(number) => match self.reserve(&task.id, number) {
                    Ok(true) => reserved += 1,
                    Ok(false) => {}
                    Err(e) => tracing::error!(task = %task.id, error = %e, "reserving failed"),
                },
            }
        }
        reserved
    }

    /// The decision the dispatcher would make for one waiting task right
    /// now — candidates gathered from the agents' state, the customer's
    /// attributes read, the router asked (or the built-in policy on its
    /// failure) — without acting on it. `None` when the task is not
    /// waiting or nobody can take it. What `route_decision` benchmarks.
    pub async fn decision_for(&self, task_id: &str) -> Option<Decision> {
        let now = now_ms();
        let plan = plan(
            &self.lock(),
            task_id,
            &self.inner.config,
            now,
            &HashSet::new(),
        );
        let Plan::Route(task, candidates, preferred) = plan else {
            return None;
        };
        let route_task = self.route_task(&task, preferred, now);
        Some(self.decide(&route_task, &candidates).await)
    }

    fn route_task(&self, task: &Task, preferred: Option<u32>, now: u64) -> RouteTask {
        let attributes = self
            .inner
            .customers
            .get(&task.customer_id)
            .ok()
            .flatten()
            .map(|c| c.attributes.into_iter().collect())
            .unwrap_or_default();
        RouteTask {
            id: task.id.clone(),
            channel: task.channel.clone(),
            channel_kind: task.channel_kind.to_wit(),
            priority: task.priority,
            age_ms: now.saturating_sub(task.created_at),
            skills: task
                .skills
                .iter()
                .map(|s| SkillRequirement {
                    name: s.name.clone(),
                    min_level: s.min_level,
                })
                .collect(),
            language: task.language.clone(),
            preferred_agent: preferred,
            customer_attributes: attributes,
        }
    }

    /// The router plugin's decision, or the built-in policy's when the
    /// plugin is missing or fails.
    async fn decide(&self, task: &RouteTask, candidates: &Candidates) -> Decision {
        let router = &self.inner.config.router;
        if router == BUILT_IN {
            self.inner.decisions.fetch_add(1, Ordering::Relaxed);
            return policy::longest_idle(task, candidates);
        }
        match self
            .inner
            .runtime
            .route_select(router, task, candidates)
            .await
        {
            Ok(decision) => {
                self.inner.decisions.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("switchboard_routing_decisions_total", "by" => "plugin")
                    .increment(1);
                decision
            }
            Err(e) => {
                self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("switchboard_routing_decisions_total", "by" => "built-in")
                    .increment(1);
                tracing::warn!(task = %task.id, %router, error = %e, "router failed; built-in longest-idle decides");
                policy::longest_idle(task, candidates)
            }
        }
    }

    async fn prioritize_new(&self) {
        let fresh: Vec<Task> = {
            let mut state = self.lock();
            let mut ids = std::mem::take(&mut state.unprioritized);
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .filter_map(|id| state.tasks.get(id))
                .filter(|t| t.state == TaskState::Pending && !t.prioritized)
                .cloned()
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        if self.inner.config.router == BUILT_IN {
            let mut state = self.lock();
            for task in fresh {
                if let Some(t) = state.tasks.get_mut(&task.id) {
                    t.prioritized = true;
                }
            }
            return;
        }
        let now = now_ms();
        let mut results = Vec::with_capacity(fresh.len());
        for task in &fresh {
            // Prioritizing again (the customer changed) starts from the
            // priority the task had before the router adjusted it.
            let mut task = task.clone();
            let base = task.base_priority.unwrap_or(task.priority);
            task.priority = base;
            let rt = self.route_task(&task, None, now);
            let priority = match self
                .inner
                .runtime
                .route_prioritize(&self.inner.config.router, &rt)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::debug!(task = %task.id, error = %e, "prioritize failed; keeping the channel priority");
                    task.priority
                }
            };
            results.push((task.id.clone(), priority, base));
        }
        let mut state = self.lock();
        let mut batch = Batch::new();
        for (id, priority, base) in results {
            let Some(mut task) = state.tasks.get(&id).cloned() else {
                continue;
            };
            let was_queued = state.queue.remove(&task);
            task.priority = priority;
            task.base_priority = Some(base);
            task.prioritized = true;
            if was_queued {
                state.queue.insert(&task);
            }
            batch.put_json(task_key(&id), &task);
            state.tasks.insert(id, task);
        }
        if let Err(e) = self.inner.store.write(batch) {
            tracing::error!(error = %e, "saving priorities failed");
        }
    }

    fn escalate(&self, task_id: &str, skills: Vec<SkillRequirement>) -> Result<(), StoreError> {
        let mut state = self.lock();
        let Some(mut task) = state.tasks.get(task_id).cloned() else {
            return Ok(());
        };
        if task.state != TaskState::Pending || task.escalated {
            return Ok(());
        }
        let skills = skills
            .into_iter()
            .map(|s| Skill {
                name: s.name,
                min_level: s.min_level,
            })
            .collect();
        relax(&mut state, &mut task, skills);
        let mut batch = Batch::new();
        batch.put_json(task_key(task_id), &task);
        let t = task.clone();
        state.tasks.insert(task.id.clone(), task);
        self.inner.store.write(batch)?;
        drop(state);
        self.publish("task.escalated", &t);
        self.wake();
        Ok(())
    }

    /// Reserves a pending task for agent `number` if the agent can still
    /// take it.
    fn reserve(&self, task_id: &str, number: u32) -> Result<bool, StoreError> {
        let now = now_ms();
        let config = &self.inner.config;
        let mut state = self.lock();
        let Some(agent_id) = state.numbers.get(&number).cloned() else {
            return Ok(false);
        };
        let Some(task) = state.tasks.get(task_id).cloned() else {
            return Ok(false);
        };
        let Some(agent) = state.agents.get(&agent_id).cloned() else {
            return Ok(false);
        };
        if task.state != TaskState::Pending
            || agent.status != AgentStatus::Available
            || task.rejected_by.contains(&agent_id)
            || state.free(&agent, task.channel_kind, config) == 0
        {
            return Ok(false);
        }
        state.queue.remove(&task);
        let mut task = task;
        task.state = TaskState::Reserved;
        task.agent_id = Some(agent_id.clone());
        task.reserved_at = Some(now);
        task.reservation_expires_at = Some(now + config.reservation_timeout_ms);
        task.routed_by = Some(config.router.clone());
        let mut agent = agent;
        agent.idle_since = now;
        let mut batch = Batch::new();
        batch.put_json(task_key(task_id), &task);
        batch.put_json(agent_key(&agent_id), &agent);
        if let Err(e) = self.inner.store.write(batch) {
            let queued = state.tasks[task_id].clone();
            state.queue.insert(&queued);
            return Err(e);
        }
        if let Some(at) = task.reservation_expires_at {
            state.deadlines.insert((at, task_id.to_string()));
        }
        state.hold(agent.number, task_id, task.channel_kind);
        state.tasks.insert(task_id.to_string(), task.clone());
        state.agents.insert(agent_id, agent);
        drop(state);
        metrics::counter!("switchboard_tasks_reserved_total", "kind" => task.channel_kind.as_str())
            .increment(1);
        tracing::debug!(task = %task.id, agent = ?task.agent_id, "task reserved");
        self.publish("task.reserved", &task);
        Ok(true)
    }

    /// Reservation expiry, wrap-up end and escalation.
    fn run_timers(&self, now: u64) -> Result<(), StoreError> {
        let config = &self.inner.config;
        let mut state = self.lock();
        let mut batch = Batch::new();
        let mut returned = Vec::new();
        let mut completed = Vec::new();
        let mut escalated = Vec::new();
        let mut away = Vec::new();
        // Only the indexed deadlines that have passed are looked at; each is
        // checked against the task as it is now (it may have moved on).
        let mut candidates: Vec<String> = Vec::new();
        while let Some((at, _)) = state.deadlines.first()
            && *at <= now
        {
            let (_, id) = state.deadlines.pop_first().expect("checked");
            candidates.push(id);
        }
        if config.escalate_after_ms > 0
            && let Some(created_by) = now.checked_sub(config.escalate_after_ms)
        {
            candidates.extend(state.queue.escalations_due(created_by).map(str::to_string));
        }
        // A task re-reserved after a lapse has two entries: act once.
        candidates.sort_unstable();
        candidates.dedup();
        let due: Vec<(String, TaskState)> = candidates
            .into_iter()
            .filter_map(|id| state.tasks.get(&id))
            .filter(|t| match t.state {
                TaskState::Reserved => t.reservation_expires_at.is_some_and(|at| at <= now),
                TaskState::Wrapping => t.wrap_until.is_some_and(|at| at <= now),
                TaskState::Pending => {
                    config.escalate_after_ms > 0
                        && !t.escalated
                        && !t.skills.is_empty()
                        && now.saturating_sub(t.created_at) >= config.escalate_after_ms
                }
                _ => false,
            })
            .map(|t| (t.id.clone(), t.state))
            .collect();
        for (id, was) in due {
            match was {
                TaskState::Reserved => {
                    let agent = state.tasks[&id].agent_id.clone().unwrap_or_default();
                    if let Some(a) = state.agents.get_mut(&agent)
                        && a.status == AgentStatus::Available
                    {
                        a.status = AgentStatus::Away;
                        a.status_since = now;
                        batch.put_json(agent_key(&agent), &*a);
                        away.push(a.clone());
                    }
                    // The agent is away now: all its reservations go back.
                    returned.extend(self.return_reservations(&mut state, &mut batch, &agent));
                }
                TaskState::Wrapping => {
                    let mut task = state.tasks[&id].clone();
                    finish(&mut state, &mut task, now);
                    batch.put_json(task_key(&id), &task);
                    if let Some(a) = task.agent_id.as_ref().and_then(|a| state.agents.get(a)) {
                        batch.put_json(agent_key(&a.id), a);
                    }
                    state.tasks.insert(id, task.clone());
                    completed.push(task);
                }
                TaskState::Pending => {
                    let mut task = state.tasks[&id].clone();
                    relax(&mut state, &mut task, Vec::new());
                    batch.put_json(task_key(&id), &task);
                    escalated.push(task.clone());
                    state.tasks.insert(id, task);
                }
                _ => {}
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.inner.store.write(batch)?;
        drop(state);
        for t in &returned {
            tracing::info!(task = %t.id, "reservation expired; task back in the queue");
            self.publish("task.returned", t);
        }
        for a in &away {
            self.publish_agent(a);
        }
        for t in &completed {
            self.publish("task.completed", t);
        }
        for t in &escalated {
            tracing::info!(task = %t.id, "task escalated: required skills dropped");
            self.publish("task.escalated", t);
        }
        Ok(())
    }
}

/// Escalates a waiting task: its required skills become `skills` (none
/// when the wait ran out; the router's when it asked to escalate), keeping
/// its place in the queue.
fn relax(state: &mut State, task: &mut Task, skills: Vec<Skill>) {
    let was_queued = state.queue.remove(task);
    task.skills = skills;
    task.escalated = true;
    if was_queued {
        state.queue.insert(task);
    }
}

/// Completes a task: frees the agent's capacity and restarts its idle clock.
fn finish(state: &mut State, task: &mut Task, now: u64) {
    task.state = TaskState::Completed;
    task.ended_at = Some(now);
    task.wrap_until = None;
    if let Some(agent) = task.agent_id.clone() {
        state.unhold(&agent, &task.id);
        if let Some(a) = state.agents.get_mut(&agent) {
            a.idle_since = now;
        }
    }
    metrics::counter!("switchboard_tasks_completed_total", "kind" => task.channel_kind.as_str())
        .increment(1);
}

/// What the dispatcher does with one queued task.
enum Plan {
    /// Not waiting any more, or nobody free may take it (e.g. all rejected).
    Skip,
    /// Nobody has free capacity on this channel kind: later tasks of the
    /// kind need not be looked at this round.
    Exhausted(Kind),
    /// Ask the router: the task, its candidates, and the preferred agent's
    /// number when that agent is among them.
    Route(Box<Task>, Candidates, Option<u32>),
}

/// Gathers what routing task `id` needs, under the state lock.
fn plan(
    state: &State,
    id: &str,
    config: &RoutingConfig,
    now: u64,
    exhausted: &HashSet<Kind>,
) -> Plan {
    let Some(task) = state
        .tasks
        .get(id)
        .filter(|t| t.state == TaskState::Pending)
    else {
        return Plan::Skip;
    };
    if exhausted.contains(&task.channel_kind) {
        return Plan::Skip;
    }
    let (candidates, any_free) = candidates_for(state, task, config, now);
    if !any_free {
        return Plan::Exhausted(task.channel_kind);
    }
    if candidates.agents.is_empty() {
        return Plan::Skip;
    }
    let preferred = task
        .preferred_agent
        .as_ref()
        .and_then(|p| state.agents.get(p))
        .map(|a| a.number)
        .filter(|n| candidates.agents.contains(n));
    Plan::Route(Box::new(task.clone()), candidates, preferred)
}

/// The agents who can take `task` now, in column form, plus whether any
/// agent at all has free capacity on its channel kind.
fn candidates_for(
    state: &State,
    task: &Task,
    config: &RoutingConfig,
    now: u64,
) -> (Candidates, bool) {
    // Sized for every agent up front: growing six columns push by push
    // cost more than the scan itself with a thousand agents.
    let n = state.agents.len();
    let mut c = Candidates {
        agents: Vec::with_capacity(n),
        idle_ms: Vec::with_capacity(n),
        load: Vec::with_capacity(n),
        free: Vec::with_capacity(n),
        skill_levels: Vec::with_capacity(n * task.skills.len()),
        speaks_language: Vec::with_capacity(n),
    };
    let mut any_free = false;
    for agent in state.agents.values() {
        if agent.status != AgentStatus::Available {
            continue;
        }
        // Capacity first: it is the cheapest filter that removes the most.
        let free = state.free(agent, task.channel_kind, config);
        if free == 0 {
            continue;
        }
        any_free = true;
        if task.rejected_by.contains(&agent.id) {
            continue;
        }
        c.agents.push(agent.number);
        c.idle_ms.push(now.saturating_sub(agent.idle_since));
        c.load.push(state.held_of(agent.number).len() as u32);
        c.free.push(free);
        for skill in &task.skills {
            c.skill_levels
                .push(agent.skills.get(&skill.name).copied().unwrap_or(0));
        }
        c.speaks_language.push(u8::from(
            task.language
                .as_ref()
                .is_none_or(|l| agent.languages.iter().any(|a| a.eq_ignore_ascii_case(l))),
        ));
    }
    (c, any_free)
}

fn sla_state(age: u64, target: u64) -> &'static str {
    if age > target {
        "breached"
    } else if age * 5 >= target * 4 {
        "at_risk"
    } else {
        "ok"
    }
}

/// 409 unless the task is in `expected`.
fn require_state(task: &Task, expected: TaskState) -> Result<(), RoutingError> {
    if task.state == expected {
        return Ok(());
    }
    Err(RoutingError::Conflict(format!(
        "task {} is {}, not {}",
        task.id,
        task.state.as_str(),
        expected.as_str()
    )))
}

fn validate_agent(id: &str, input: &AgentInput) -> Result<(), RoutingError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(RoutingError::Invalid(
            "agent ids are 1-64 characters of letters, digits, `-`, `_` and `.`".into(),
        ));
    }
    if input.name.trim().is_empty() {
        return Err(RoutingError::Invalid("`name` must not be empty".into()));
    }
    for (skill, level) in &input.skills {
        if skill.trim().is_empty() || !(1..=5).contains(level) {
            return Err(RoutingError::Invalid(format!(
                "skill `{skill}`: levels go from 1 to 5"
            )));
        }
    }
    for (kind, n) in &input.capacity {
        if *n > 100 {
            return Err(RoutingError::Invalid(format!(
                "capacity for {} must be at most 100",
                kind.as_str()
            )));
        }
    }
    Ok(())
}

impl Routing {
    /// An agent for the API, with default capacities filled in.
    pub fn view(&self, agent: &Agent) -> Agent {
        let mut view = agent.clone();
        for kind in Kind::ALL {
            view.capacity
                .entry(kind)
                .or_insert_with(|| self.inner.config.default_capacity.get(kind));
        }
        view
    }
}
