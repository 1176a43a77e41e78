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
//!
//! | file | what it holds |
//! |---|---|
//! | `model.rs` | the records: tasks, agents, skills, statuses |
//! | `state.rs` | the in-memory state and its indexes (holdings, timers) |
//! | `queue.rs` | the waiting tasks in dispatch order, per channel kind |
//! | `agents.rs` | agents: create, tokens, status, what they hold |
//! | `tasks.rs` | the task lifecycle: new, accept, reject, complete, cancel |
//! | `dispatch.rs` | the dispatcher's decisions and reservations |
//! | `timers.rs` | reservation expiry, wrap-up end, escalation |
//! | `stats.rs` | the queue view and live figures |
//! | `policy.rs` | the built-in longest-idle policy (the fallback) |
//! | `trend.rs` | the queue sampled over the last hour |

mod agents;
mod archive;
mod dispatch;
pub mod model;
pub mod policy;
mod queue;
mod state;
mod stats;
mod tasks;
mod timers;
mod transfer;
pub mod trend;
pub mod wait;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::config::RoutingConfig;
use crate::customers::Customers;
use crate::events::{Event, Events};
use crate::hours::Hours;
use crate::runtime::Runtime;
use crate::store::{HistoryEvent, Store, StoreError};
use state::State;

pub use agents::{AgentInput, token_digest};
pub use archive::rebuild_totals;
pub use model::{Agent, AgentStatus, Kind, Role, Skill, Task, TaskAction, TaskEvent, TaskState};
pub use stats::{KindStats, QueueEntry, RouterStats, Stats};
pub use tasks::NewTask;
pub use transfer::{Actor, Transfer, TransferTarget};

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

struct Inner {
    state: Mutex<State>,
    store: Store,
    runtime: Runtime,
    customers: Arc<Customers>,
    config: RoutingConfig,
    /// Business hours: a closed channel's tasks wait, and their SLA clock
    /// counts open time only.
    hours: Hours,
    events: Events,
    wake: Notify,
    stopped: AtomicBool,
    decisions: AtomicU64,
    fallbacks: AtomicU64,
    /// Agents available with free capacity per kind (in `Kind::ALL`
    /// order), as of the last dispatch round: what plugins read without
    /// taking the state lock.
    available: [std::sync::atomic::AtomicU32; 4],
    /// The wait estimator's figures and when they were worked out: plugins
    /// polling for a place share one computation a second.
    drains: Mutex<wait::DrainCache>,
}

/// The routing core. Cheap to clone.
#[derive(Clone)]
pub struct Routing {
    inner: Arc<Inner>,
}

/// The router name that selects the built-in longest-idle policy without
/// calling a plugin.
pub const BUILT_IN: &str = "built-in";

impl Routing {
    /// Loads agents and tasks from the store. Call [`Routing::start`] to run
    /// the dispatcher.
    pub fn new(
        store: Store,
        runtime: Runtime,
        customers: Arc<Customers>,
        (config, hours): (RoutingConfig, Hours),
        events: Events,
    ) -> Result<Routing, StoreError> {
        let state = State::load(&store, config.sla_ms)?;
        Ok(Routing {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                store,
                runtime,
                customers,
                config,
                hours,
                events,
                wake: Notify::new(),
                stopped: AtomicBool::new(false),
                decisions: AtomicU64::new(0),
                available: Default::default(),
                drains: Mutex::default(),
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
}

/// The event history's record of `task` after a change of `kind`: what
/// reports need (state, kind, times, outcome), never what was said.
pub(crate) fn task_record(kind: &str, task: &Task) -> HistoryEvent {
    let mut event = HistoryEvent::new(kind, now_ms());
    event.task_id = Some(task.id.clone());
    event.conversation_id = Some(task.conversation_id.clone());
    event.customer_id = Some(task.customer_id.clone());
    event.agent_id = task.agent_id.clone();
    event.channel = Some(task.channel.clone());
    event.data = serde_json::json!({
        "state": task.state,
        "channel_kind": task.channel_kind,
        "priority": task.priority,
        "created_at": task.created_at,
        "queued_at": task.queued_at,
        "accepted_at": task.accepted_at,
        "ended_at": task.ended_at,
        "disposition": task.disposition,
        "abandoned": task.abandoned,
        "transfers": task.transfers(),
    });
    event
}

/// The event history's record of `agent`'s status.
pub(crate) fn agent_record(agent: &Agent) -> HistoryEvent {
    let mut event = HistoryEvent::new("agent.status", now_ms());
    event.agent_id = Some(agent.id.clone());
    event.data = serde_json::json!({
        "status": agent.status,
        "since": agent.status_since,
        "capacity": agent.capacity,
    });
    event
}
