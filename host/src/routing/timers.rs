//! Timers: reservations that lapse (the task goes back, the agent goes
//! `away`), wrap-ups that end, and waiting tasks whose required skills are
//! dropped after `routing.escalate_after_ms`. Indexed by when they are due,
//! so a round looks only at what is due.

use crate::store::{Batch, StoreError, keys};

use super::model::{AgentStatus, TaskState};
use super::tasks::{finish, relax};
use super::{Routing, agent_record, task_record};

impl Routing {
    pub(super) fn next_timer(&self) -> Option<u64> {
        let state = self.lock();
        let escalate = self.inner.config.escalate_after_ms;
        let deadline = state.deadlines.first().map(|(at, _)| *at);
        let escalation = (escalate > 0)
            .then(|| state.queue.oldest_escalation())
            .flatten()
            .map(|created| created + escalate);
        deadline.into_iter().chain(escalation).min()
    }

    /// Reservation expiry, wrap-up end and escalation.
    pub(super) fn run_timers(&self, now: u64) -> Result<(), StoreError> {
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
                        && now.saturating_sub(t.waiting_since()) >= config.escalate_after_ms
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
                        batch.put_json(keys::agent(&agent), &*a);
                        batch.record(agent_record(a));
                        away.push(a.clone());
                    }
                    // The agent is away now: all its reservations go back.
                    returned.extend(self.return_reservations(&mut state, &mut batch, &agent));
                }
                TaskState::Wrapping => {
                    let mut task = state.tasks[&id].clone();
                    finish(&mut state, &mut task, now);
                    state.save(&mut batch, &task);
                    batch.record(task_record("task.completed", &task));
                    if let Some(a) = task.agent_id.as_ref().and_then(|a| state.agents.get(a)) {
                        batch.put_json(keys::agent(&a.id), a);
                    }
                    completed.push(task);
                }
                TaskState::Pending => {
                    let mut task = state.tasks[&id].clone();
                    relax(&mut state, &mut task, Vec::new());
                    batch.put_json(keys::task(&id), &task);
                    batch.record(task_record("task.escalated", &task));
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
