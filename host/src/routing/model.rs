//! Routing records: tasks and agents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::kind::Kind;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Waiting in the queue.
    Pending,
    /// Offered to an agent who has not accepted yet.
    Reserved,
    /// Being handled.
    Assigned,
    /// Handled; the agent is wrapping up (capacity still held).
    Wrapping,
    /// Done.
    Completed,
    /// Withdrawn (e.g. the caller hung up).
    Canceled,
}

impl TaskState {
    /// `pending`, `reserved`, … as in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Reserved => "reserved",
            TaskState::Assigned => "assigned",
            TaskState::Wrapping => "wrapping",
            TaskState::Completed => "completed",
            TaskState::Canceled => "canceled",
        }
    }

    /// Whether the task holds an agent's capacity.
    pub fn holds_agent(self) -> bool {
        matches!(
            self,
            TaskState::Reserved | TaskState::Assigned | TaskState::Wrapping
        )
    }
    /// Whether the task is over.
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Completed | TaskState::Canceled)
    }
}

/// A required skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Skill {
    /// Skill name.
    pub name: String,
    /// Minimum level, 1-5.
    pub min_level: u8,
}

/// A unit of work for an agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Task {
    /// `tsk_…`.
    pub id: String,
    /// Lifecycle state.
    pub state: TaskState,
    /// The channel plugin.
    pub channel: String,
    /// The channel's kind.
    pub channel_kind: Kind,
    /// The conversation it is about.
    pub conversation_id: String,
    /// Its customer.
    pub customer_id: String,
    /// The reserved or assigned agent.
    pub agent_id: Option<String>,
    /// Higher goes first.
    pub priority: u32,
    /// Unix ms.
    pub created_at: u64,
    /// Skills it needs.
    pub skills: Vec<Skill>,
    /// The customer's language, when known.
    pub language: Option<String>,
    /// Whether the router has set its priority yet.
    pub prioritized: bool,
    /// Whether its skills were relaxed.
    pub escalated: bool,
    /// The customer's previous agent.
    pub preferred_agent: Option<String>,
    /// Agents who rejected it (not offered again).
    pub rejected_by: Vec<String>,
    /// When it was last reserved.
    pub reserved_at: Option<u64>,
    /// When the current reservation lapses.
    pub reservation_expires_at: Option<u64>,
    /// When an agent accepted it.
    pub accepted_at: Option<u64>,
    /// When wrap-up ends.
    pub wrap_until: Option<u64>,
    /// When it was completed or canceled.
    pub ended_at: Option<u64>,
    /// The agent's disposition.
    pub disposition: Option<String>,
    /// A canceled task that was waiting (the customer gave up).
    pub abandoned: bool,
    /// Who made the last routing decision: the router plugin or `built-in`.
    pub routed_by: Option<String>,
    /// Why it was created (e.g. a bot handoff reason).
    pub reason: Option<String>,
    /// The priority before the router's `prioritize` adjusted it, so a
    /// task can be prioritized again when its customer changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_priority: Option<u32>,
    /// What the agent should know first (e.g. a bot's summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// When it joined the queue last, if not at creation: a transfer with
    /// `routing.transfer_keeps_age = false` starts its wait again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<u64>,
    /// What people did to it besides the normal flow, oldest first:
    /// transfers (each hop), a supervisor closing it or taking it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<TaskEvent>,
}

impl Task {
    /// Whether `agent` holds or held this task, or passed it on.
    pub fn worked_on_by(&self, agent: &str) -> bool {
        self.workers().any(|a| a == agent)
    }

    /// Everyone who holds or held it, or passed it on (may repeat).
    pub fn workers(&self) -> impl Iterator<Item = &str> {
        self.agent_id
            .as_deref()
            .into_iter()
            .chain(self.history.iter().filter_map(|e| e.from_agent.as_deref()))
    }

    /// Where its wait is counted from in the queue.
    pub fn waiting_since(&self) -> u64 {
        self.queued_at.unwrap_or(self.created_at)
    }

    /// How many times it was transferred.
    pub fn transfers(&self) -> usize {
        self.history
            .iter()
            .filter(|e| e.action == TaskAction::Transferred)
            .count()
    }
}

/// What happened to a task in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    /// Passed to another agent or back to the queue with other skills.
    Transferred,
    /// Completed by a supervisor on the agent's behalf.
    Closed,
    /// Taken back from its agent because a supervisor set the agent away
    /// or offline while it was offered.
    Returned,
}

/// One entry of a task's history: who did what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskEvent {
    /// Unix ms.
    pub at: u64,
    /// What happened.
    pub action: TaskAction,
    /// Who did it: an agent or supervisor id, or `admin`.
    pub by: String,
    /// The agent who held the task before, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_agent: Option<String>,
    /// The agent it was offered to (a transfer to an agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent: Option<String>,
    /// The skills it was queued with (a transfer to skills).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_skills: Vec<Skill>,
    /// The note the receiver sees first, or the disposition of a close.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Whether an agent takes work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Takes new work.
    Available,
    /// Signed in, takes nothing new.
    Away,
    /// Signed out.
    Offline,
}

impl AgentStatus {
    /// `available`, `away` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Handles its own tasks.
    #[default]
    Agent,
    /// Sees everything, runs the floor.
    Supervisor,
}

/// A person who handles tasks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Agent {
    /// The id the admin chose.
    pub id: String,
    /// The stable number routers see.
    pub number: u32,
    /// Display name.
    pub name: String,
    /// `agent` or `supervisor`.
    pub role: Role,
    /// Skill name → level 1-5.
    pub skills: BTreeMap<String, u8>,
    /// Languages spoken (e.g. `en`).
    pub languages: Vec<String>,
    /// Tasks per channel kind; kinds left out use the host default.
    pub capacity: BTreeMap<Kind, u32>,
    /// Where calls are connected, e.g. `client:ana`.
    pub voice_endpoint: Option<String>,
    /// Current status.
    pub status: AgentStatus,
    /// Unix ms of the last status change.
    pub status_since: u64,
    /// Unix ms since the agent last finished or got a task, or became
    /// available.
    pub idle_since: u64,
    /// Unix ms.
    pub created_at: u64,
    /// Its tokens were revoked: it cannot sign in or take work until an
    /// admin gives it a new token.
    #[serde(default)]
    pub deactivated: bool,
}
