//! Agents: who they are (created by the admin, with a bearer token shown
//! once), their status, and what they hold.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::clock::now_ms;
use crate::store::{Batch, keys};

use super::model::{Agent, AgentStatus, Kind, Role, Task, TaskAction, TaskEvent, TaskState};
use super::state::State;
use super::{Routing, RoutingError, agent_record, task_record};

/// What `PUT /api/agents/{id}` takes.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Display name.
    #[schema(min_length = 1)]
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

/// A new random bearer token.
fn new_token() -> Result<String, RoutingError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| RoutingError::Invalid(format!("no randomness: {e}")))?;
    Ok(format!("sb_agent_{}", hex::encode(bytes)))
}

/// Drops every token of `agent` (in memory and in `batch`); returns how
/// many.
fn forget_tokens(state: &mut State, batch: &mut Batch, agent: &str) -> usize {
    let digests: Vec<String> = state
        .tokens
        .iter()
        .filter(|(_, owner)| owner.as_str() == agent)
        .map(|(digest, _)| digest.clone())
        .collect();
    for digest in &digests {
        state.tokens.remove(digest);
        batch.delete(keys::agent_token(digest));
    }
    digests.len()
}

/// SHA-256 hex of a bearer token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Routing {
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
                let token = new_token()?;
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
                        deactivated: false,
                    },
                    Some(token),
                )
            }
        };
        let mut batch = Batch::new();
        batch.put_json(keys::agent(id), &agent);
        let digest = token.as_deref().map(token_digest);
        if let Some(digest) = &digest {
            batch.put(keys::agent_token(digest), agent.id.clone());
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

    /// Gives an agent a new bearer token (returned once) and takes every
    /// earlier one away at once; a deactivated agent is active again.
    pub fn rotate_token(&self, id: &str) -> Result<(Agent, String, u64), RoutingError> {
        let token = new_token()?;
        let digest = token_digest(&token);
        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no agent {id}")))?;
        let mut batch = Batch::new();
        let old = forget_tokens(&mut state, &mut batch, id);
        agent.deactivated = false;
        batch.put_json(keys::agent(id), &agent);
        batch.put(keys::agent_token(&digest), agent.id.clone());
        let seq = self.inner.store.write(batch)?;
        state.tokens.insert(digest, agent.id.clone());
        state.agents.insert(agent.id.clone(), agent.clone());
        drop(state);
        tracing::info!(agent = %id, revoked = old, "agent token rotated");
        Ok((agent, token, seq))
    }

    /// Takes every token of an agent away and signs it out (offline, its
    /// reservations back in the queue): refused at once, until an admin
    /// rotates its token.
    pub fn deactivate(&self, id: &str) -> Result<(Agent, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no agent {id}")))?;
        let mut batch = Batch::new();
        forget_tokens(&mut state, &mut batch, id);
        let returned = self.return_reservations(&mut state, &mut batch, id);
        if agent.status != AgentStatus::Offline {
            agent.status = AgentStatus::Offline;
            agent.status_since = now;
        }
        agent.deactivated = true;
        batch.put_json(keys::agent(id), &agent);
        batch.record(agent_record(&agent));
        let seq = self.inner.store.write(batch)?;
        state.agents.insert(id.to_string(), agent.clone());
        drop(state);
        for t in &returned {
            self.publish("task.returned", t);
        }
        self.publish_agent(&agent);
        self.wake();
        tracing::info!(agent = %id, "agent deactivated: its tokens are revoked");
        Ok((agent, seq))
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
    /// `by` is who asks: when it is not the agent itself (a supervisor),
    /// every offer taken back names it in the task's history.
    pub fn set_status(
        &self,
        id: &str,
        status: AgentStatus,
        by: &str,
    ) -> Result<(Agent, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut agent = state
            .agents
            .get(id)
            .cloned()
            .ok_or_else(|| RoutingError::NotFound(format!("no agent {id}")))?;
        if agent.deactivated && status == AgentStatus::Available {
            return Err(RoutingError::Conflict(format!(
                "agent {id} is deactivated: an admin must give it a new token first"
            )));
        }
        let mut batch = Batch::new();
        let mut returned = Vec::new();
        if agent.status != status {
            if status == AgentStatus::Available {
                agent.idle_since = now;
            } else {
                returned = self.return_reservations(&mut state, &mut batch, id);
                if by != id {
                    for task in &mut returned {
                        task.history.push(TaskEvent {
                            at: now,
                            action: TaskAction::Returned,
                            by: by.to_string(),
                            from_agent: Some(id.to_string()),
                            to_agent: None,
                            to_skills: Vec::new(),
                            note: Some(format!("agent set {}", status.as_str())),
                        });
                        batch.put_json(keys::task(&task.id), &*task);
                        state.tasks.insert(task.id.clone(), task.clone());
                    }
                }
            }
            agent.status = status;
            agent.status_since = now;
            batch.record(agent_record(&agent));
        }
        batch.put_json(keys::agent(id), &agent);
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
    pub(super) fn return_reservations(
        &self,
        state: &mut State,
        batch: &mut Batch,
        agent: &str,
    ) -> Vec<Task> {
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
            batch.put_json(keys::task(&id), &*task);
            batch.record(task_record("task.returned", task));
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

    /// The conversations the agent has worked on: tasks it holds or held,
    /// or passed on.
    pub fn conversations_of_agent(&self, agent: &str) -> std::collections::HashSet<String> {
        let mut out: std::collections::HashSet<String> = self
            .lock()
            .tasks
            .values()
            .filter(|t| t.worked_on_by(agent))
            .map(|t| t.conversation_id.clone())
            .collect();
        out.extend(self.archived_worked(agent).into_iter().map(|(c, _)| c));
        out
    }

    /// Every task of `customer`, oldest first.
    pub fn tasks_of_customer(&self, customer: &str) -> Vec<Task> {
        let mut tasks: Vec<Task> = self
            .lock()
            .tasks
            .values()
            .filter(|t| t.customer_id == customer)
            .cloned()
            .collect();
        match self.archived_of_customer(customer) {
            Ok(done) => tasks.extend(done),
            Err(e) => tracing::error!(error = %e, "reading a customer's finished tasks failed"),
        }
        tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        tasks
    }

    /// The customers of every task the agent held or passed on: whose
    /// profiles a search by the agent may show.
    pub fn customers_of_agent(&self, agent: &str) -> std::collections::HashSet<String> {
        let mut out: std::collections::HashSet<String> = self
            .lock()
            .tasks
            .values()
            .filter(|t| t.worked_on_by(agent))
            .map(|t| t.customer_id.clone())
            .collect();
        out.extend(self.archived_worked(agent).into_iter().map(|(_, c)| c));
        out
    }

    /// Whether the agent worked on a task of this conversation.
    pub fn agent_worked_on(&self, agent: &str, conversation: &str) -> bool {
        self.lock()
            .tasks
            .values()
            .any(|t| t.conversation_id == conversation && t.worked_on_by(agent))
            || self.archived_worked_on(agent, conversation)
    }

    /// The archived conversations the agent worked on; none (logged) when
    /// the store fails — these answer access checks, which then refuse.
    fn archived_worked(&self, agent: &str) -> Vec<(String, String)> {
        self.archived_conversations_of(agent).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading an agent's finished conversations failed");
            Vec::new()
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> AgentInput {
        AgentInput {
            name: name.into(),
            skills: BTreeMap::new(),
            languages: Vec::new(),
            capacity: BTreeMap::new(),
            voice_endpoint: None,
            role: None,
        }
    }

    #[test]
    fn agent_input_is_checked() {
        assert!(validate_agent("ana-1.b_c", &input("Ana")).is_ok());
        for bad_id in ["", "a/b", "ana smith", &"x".repeat(65)] {
            assert!(
                matches!(
                    validate_agent(bad_id, &input("Ana")),
                    Err(RoutingError::Invalid(_))
                ),
                "{bad_id:?}"
            );
        }
        assert!(validate_agent("ana", &input("  ")).is_err());
        let mut skilled = input("Ana");
        skilled.skills.insert("billing".into(), 6);
        assert!(validate_agent("ana", &skilled).is_err());
        skilled.skills.insert("billing".into(), 5);
        assert!(validate_agent("ana", &skilled).is_ok());
        let mut busy = input("Ana");
        busy.capacity.insert(Kind::Chat, 101);
        assert!(validate_agent("ana", &busy).is_err());
    }

    #[test]
    fn tokens_are_stored_as_digests() {
        let digest = token_digest("sb_agent_secret");
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, token_digest("sb_agent_secreT"));
        assert!(!digest.contains("secret"));
    }
}
