//! Transfers and supervisor control: a task passed to a named agent (an
//! offer that lapses back to the queue like any other) or queued again with
//! other skills, and a task closed by a supervisor on an agent's behalf.
//! The conversation, its history and the customer stay the same; only the
//! task moves, and it records each hop.

use crate::clock::now_ms;
use crate::store::{Batch, keys};

use super::model::{AgentStatus, Skill, Task, TaskAction, TaskEvent, TaskState};
use super::state::State;
use super::tasks::finish;
use super::{Routing, RoutingError, task_record};

/// Where a task goes.
#[derive(Debug, Clone, PartialEq)]
pub enum TransferTarget {
    /// Offered to this agent, who has the usual reservation timeout to
    /// accept; if not, it goes back to the queue with its own skills.
    Agent(String),
    /// Queued again, needing these skills (none: anyone).
    Skills(Vec<Skill>),
}

/// Who acts on a task, and with what right.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// An agent or supervisor id, or `admin`.
    pub id: &'a str,
    /// A supervisor (or the admin) may act on any agent's task.
    pub supervisor: bool,
}

/// A transfer as asked.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Where to.
    pub target: TransferTarget,
    /// Extra priority on top of the task's (default: `routing.transfer_priority`).
    pub priority: Option<u32>,
    /// What the receiver sees first.
    pub note: Option<String>,
}

impl Routing {
    /// Transfers a task. The assigned agent may transfer its own task; a
    /// supervisor any waiting, offered or assigned task (a waiting one to
    /// an agent is an assignment). The holder's capacity frees at once.
    pub fn transfer(
        &self,
        task_id: &str,
        by: Actor<'_>,
        transfer: Transfer,
    ) -> Result<(Task, u64), RoutingError> {
        let now = now_ms();
        let config = &self.inner.config;
        let mut state = self.lock();
        let mut task = self.acted_on(&state, task_id, by)?;
        match task.state {
            TaskState::Assigned => {}
            TaskState::Pending | TaskState::Reserved if by.supervisor => {}
            other => {
                return Err(RoutingError::Conflict(format!(
                    "task {task_id} is {}; only {} tasks can be transferred",
                    other.as_str(),
                    if by.supervisor {
                        "waiting, offered or assigned"
                    } else {
                        "assigned"
                    }
                )));
            }
        }
        let from = task.agent_id.clone();
        let mut batch = Batch::new();
        let mut to_agent = None;
        let mut to_skills = Vec::new();
        match &transfer.target {
            TransferTarget::Agent(target) => {
                let agent = state
                    .agents
                    .get(target)
                    .cloned()
                    .ok_or_else(|| RoutingError::Invalid(format!("no agent {target}")))?;
                if from.as_deref() == Some(target.as_str()) {
                    return Err(RoutingError::Invalid(format!(
                        "task {task_id} is already with agent {target}"
                    )));
                }
                if agent.deactivated || agent.status != AgentStatus::Available {
                    return Err(RoutingError::Conflict(format!(
                        "agent {target} is {}, not available",
                        if agent.deactivated {
                            "deactivated"
                        } else {
                            agent.status.as_str()
                        }
                    )));
                }
                if state.free(&agent, task.channel_kind, config) == 0 {
                    return Err(RoutingError::Conflict(format!(
                        "agent {target} has no free {} capacity",
                        task.channel_kind.as_str()
                    )));
                }
                release(&mut state, &mut batch, &task, now);
                task.state = TaskState::Reserved;
                task.agent_id = Some(target.clone());
                task.reserved_at = Some(now);
                task.reservation_expires_at = Some(now + config.reservation_timeout_ms);
                task.routed_by = Some(format!("transfer:{}", by.id));
                task.rejected_by.retain(|a| a != target);
                state
                    .deadlines
                    .insert((task.reservation_expires_at.unwrap_or(now), task.id.clone()));
                state.hold(agent.number, &task.id, task.channel_kind);
                to_agent = Some(target.clone());
            }
            TransferTarget::Skills(skills) => {
                check_skills(skills)?;
                release(&mut state, &mut batch, &task, now);
                task.state = TaskState::Pending;
                task.agent_id = None;
                task.reserved_at = None;
                task.reservation_expires_at = None;
                // `accepted_at` stays: the customer was answered once, and
                // handle time runs from then to the end, across agents.
                task.skills = skills.clone();
                task.escalated = false;
                task.priority = task
                    .priority
                    .saturating_add(transfer.priority.unwrap_or(config.transfer_priority));
                if !config.transfer_keeps_age {
                    task.queued_at = Some(now);
                }
                // Not straight back to whoever passed it on.
                if let Some(from) = &from
                    && !task.rejected_by.contains(from)
                {
                    task.rejected_by.push(from.clone());
                }
                state.queue.insert(&task);
                to_skills = skills.clone();
            }
        }
        task.history.push(TaskEvent {
            at: now,
            action: TaskAction::Transferred,
            by: by.id.to_string(),
            from_agent: from,
            to_agent,
            to_skills,
            note: transfer.note,
        });
        batch.put_json(keys::task(&task.id), &task);
        batch.record(task_record("task.transferred", &task));
        let seq = self.inner.store.write(batch)?;
        state.tasks.insert(task.id.clone(), task.clone());
        drop(state);
        metrics::counter!("switchboard_tasks_transferred_total", "kind" => task.channel_kind.as_str())
            .increment(1);
        tracing::info!(task = %task.id, by = by.id, "task transferred");
        self.publish("task.transferred", &task);
        self.wake();
        Ok((task, seq))
    }

    /// A supervisor completes an agent's assigned or wrapping task (the
    /// agent walked off): no wrap-up, the agent's capacity frees at once.
    pub fn close_for(
        &self,
        task_id: &str,
        by: Actor<'_>,
        disposition: Option<String>,
    ) -> Result<(Task, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let mut task = self.acted_on(&state, task_id, by)?;
        if !matches!(task.state, TaskState::Assigned | TaskState::Wrapping) {
            return Err(RoutingError::Conflict(format!(
                "task {task_id} is {}; only assigned or wrapping tasks can be closed",
                task.state.as_str()
            )));
        }
        if disposition.is_some() {
            task.disposition = disposition.clone();
        }
        let from = task.agent_id.clone();
        finish(&mut state, &mut task, now);
        task.history.push(TaskEvent {
            at: now,
            action: TaskAction::Closed,
            by: by.id.to_string(),
            from_agent: from.clone(),
            to_agent: None,
            to_skills: Vec::new(),
            note: disposition,
        });
        let mut batch = Batch::new();
        state.save(&mut batch, &task);
        batch.record(task_record("task.completed", &task));
        if let Some(a) = from.as_ref().and_then(|a| state.agents.get(a)) {
            batch.put_json(keys::agent(&a.id), a);
        }
        let seq = self.inner.store.write(batch)?;
        drop(state);
        self.publish("task.completed", &task);
        self.wake();
        Ok((task, seq))
    }

    /// The task, if `by` may act on it: its own agent, or a supervisor.
    fn acted_on(&self, state: &State, task_id: &str, by: Actor<'_>) -> Result<Task, RoutingError> {
        let own = |t: &Task| by.supervisor || t.agent_id.as_deref() == Some(by.id);
        match state.tasks.get(task_id) {
            Some(t) if own(t) => return Ok(t.clone()),
            Some(_) => {}
            None => match self.archived(task_id) {
                Some(t) if own(&t) => {
                    return Err(RoutingError::Conflict(format!(
                        "task {task_id} is {}",
                        t.state.as_str()
                    )));
                }
                None if by.supervisor => {
                    return Err(RoutingError::NotFound(format!("no task {task_id}")));
                }
                _ => {}
            },
        }
        // The same answer whether or not the task exists: an agent acts on
        // its own tasks only.
        Err(RoutingError::Forbidden(format!(
            "agent {} may act only on its own tasks; task {task_id} is not one",
            by.id
        )))
    }
}

/// Takes a task off its agent or out of the queue, in memory and `batch`.
fn release(state: &mut State, batch: &mut Batch, task: &Task, now: u64) {
    match task.state {
        TaskState::Pending => {
            state.queue.remove(task);
        }
        _ => {
            if let Some(agent) = &task.agent_id {
                state.unhold(agent, &task.id);
                if let Some(a) = state.agents.get_mut(agent) {
                    a.idle_since = now;
                    batch.put_json(keys::agent(agent), &*a);
                }
            }
        }
    }
}

/// 400 unless every skill has a name and a level of 1-5.
fn check_skills(skills: &[Skill]) -> Result<(), RoutingError> {
    for s in skills {
        if s.name.trim().is_empty() || s.name.len() > 64 {
            return Err(RoutingError::Invalid(
                "a skill needs a name of 1-64 characters".into(),
            ));
        }
        if !(1..=5).contains(&s.min_level) {
            return Err(RoutingError::Invalid(format!(
                "skill `{}`: level {} is not 1-5",
                s.name, s.min_level
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_checked() {
        let ok = Skill {
            name: "billing".into(),
            min_level: 3,
        };
        assert!(check_skills(std::slice::from_ref(&ok)).is_ok());
        assert!(check_skills(&[]).is_ok());
        for bad in [
            Skill {
                name: " ".into(),
                min_level: 3,
            },
            Skill {
                name: "billing".into(),
                min_level: 0,
            },
            Skill {
                name: "billing".into(),
                min_level: 6,
            },
        ] {
            assert!(matches!(
                check_skills(&[bad]),
                Err(RoutingError::Invalid(_))
            ));
        }
    }
}
