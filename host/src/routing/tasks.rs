//! The task lifecycle: created with a conversation, queued, reserved by
//! the dispatcher, then accepted, rejected, completed (through wrap-up) or
//! canceled. Every change is written through to the store; callers wait
//! for the returned sequence before answering.

use crate::clock::now_ms;
use crate::customers::Merge;
use crate::kind::Kind;
use crate::store::{Batch, StoreError, keys};

use super::model::{Skill, Task, TaskState};
use super::state::State;
use super::{Routing, RoutingError, task_record};

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

impl Routing {
    /// A task by id: live from memory, finished from the archive.
    pub fn task(&self, id: &str) -> Option<Task> {
        let live = self.lock().tasks.get(id).cloned();
        live.or_else(|| self.archived(id))
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
            queued_at: None,
            history: Vec::new(),
        };
        batch.put_json(keys::task(&task.id), &task);
        batch.record(task_record("task.created", &task));
        Ok(task)
    }

    /// A task `agent` starts herself (an outbound conversation): created
    /// assigned to her in `batch`; [`Routing::adopt`] it once written. It
    /// holds her capacity like any other, even past it: she chose to.
    pub fn new_assigned_task(
        &self,
        batch: &mut Batch,
        new: NewTask,
        agent: &str,
    ) -> Result<Task, RoutingError> {
        if !self.lock().agents.contains_key(agent) {
            return Err(RoutingError::NotFound(format!("no agent {agent}")));
        }
        let mut task = self.new_task(batch, new)?;
        let now = task.created_at;
        task.state = TaskState::Assigned;
        task.agent_id = Some(agent.to_string());
        task.reserved_at = Some(now);
        task.accepted_at = Some(now);
        task.prioritized = true;
        task.reason = Some("started by the agent".into());
        batch.put_json(keys::task(&task.id), &task);
        batch.record(task_record("task.assigned", &task));
        Ok(task)
    }

    /// Puts a written assigned task (from [`Routing::new_assigned_task`])
    /// on its agent.
    pub fn adopt(&self, task: Task) {
        {
            let mut state = self.lock();
            if let Some(number) = task
                .agent_id
                .as_ref()
                .and_then(|a| state.agents.get(a))
                .map(|a| a.number)
            {
                state.hold(number, &task.id, task.channel_kind);
            }
            state.tasks.insert(task.id.clone(), task.clone());
        }
        self.publish("task.assigned", &task);
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
        let Some(mut task) = state.tasks.get(task_id).cloned() else {
            drop(state);
            return Err(self.missing(task_id));
        };
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
        state.save(&mut batch, &task);
        batch.record(task_record(event, &task));
        if let Some(a) = state.agents.get(agent) {
            batch.put_json(keys::agent(agent), a);
        }
        let seq = self.inner.store.write(batch)?;
        drop(state);
        self.publish(event, &task);
        self.wake();
        Ok((task, seq))
    }

    /// The reserved agent accepts the task.
    pub fn accept(&self, task_id: &str, agent: &str) -> Result<(Task, u64), RoutingError> {
        let sla = self.inner.config.sla_ms;
        let mut answered_before = false;
        let result = self.transition(task_id, agent, "task.accepted", |_, task, now| {
            require_state(task, TaskState::Reserved)?;
            task.state = TaskState::Assigned;
            // A transferred task was answered by its first agent.
            answered_before = task.accepted_at.is_some();
            task.accepted_at.get_or_insert(now);
            task.reservation_expires_at = None;
            Ok(())
        })?;
        if answered_before {
            return Ok(result);
        }
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
        self.withdraw(task_id, None)
    }

    /// Withdraws a task that has not been accepted: abandoned when
    /// `handed_to` is none (the customer gave up), else not counted as
    /// abandoned — its conversation went to that bot (an automation's
    /// action), recorded as the task's disposition `handed_to_bot:<bot>`.
    pub fn withdraw(
        &self,
        task_id: &str,
        handed_to: Option<&str>,
    ) -> Result<(Task, u64), RoutingError> {
        let now = now_ms();
        let mut state = self.lock();
        let Some(mut task) = state.tasks.get(task_id).cloned() else {
            drop(state);
            return Err(self.missing(task_id));
        };
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
        task.abandoned = handed_to.is_none();
        task.disposition = handed_to.map(|bot| format!("handed_to_bot:{bot}"));
        task.ended_at = Some(now);
        let mut batch = Batch::new();
        state.save(&mut batch, &task);
        batch.record(task_record("task.canceled", &task));
        let seq = self.inner.store.write(batch)?;
        drop(state);
        if task.abandoned {
            metrics::counter!("switchboard_tasks_abandoned_total", "kind" => task.channel_kind.as_str())
                .increment(1);
        }
        self.publish("task.canceled", &task);
        self.wake();
        Ok((task, seq))
    }

    /// Raises a waiting task's priority to at least `at_least` (an
    /// automation's action); `None` when it is not waiting or already that
    /// high.
    pub fn raise_priority(&self, task_id: &str, at_least: u32) -> Result<Option<Task>, StoreError> {
        let mut state = self.lock();
        let Some(mut task) = state.tasks.get(task_id).cloned() else {
            return Ok(None);
        };
        if task.state != TaskState::Pending || task.priority >= at_least {
            return Ok(None);
        }
        let queued = state.queue.remove(&task);
        task.priority = at_least;
        // A later re-prioritization by the router starts from here.
        task.base_priority = Some(at_least);
        if queued {
            state.queue.insert(&task);
        }
        let mut batch = Batch::new();
        batch.put_json(keys::task(task_id), &task);
        batch.record(task_record("task.prioritized", &task));
        self.inner.store.write(batch)?;
        state.tasks.insert(task.id.clone(), task.clone());
        drop(state);
        self.publish("task.prioritized", &task);
        self.wake();
        Ok(Some(task))
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

    /// Erasure: the customer's tasks keep their counts (statistics stay
    /// right) but lose everything tying them to her or saying what she
    /// wrote — her id, the bot's summary, the escalation reason, transfer
    /// notes. Refused (409) while any of them is still being worked on.
    pub fn scrub_customer(&self, batch: &mut Batch, customer: &str) -> Result<usize, RoutingError> {
        if let Some(busy) = self
            .lock()
            .tasks
            .values()
            .find(|t| t.customer_id == customer)
        {
            return Err(RoutingError::Conflict(format!(
                "task {} of this customer is still {:?}: complete or cancel it first",
                busy.id, busy.state
            )));
        }
        // Memory holds live tasks only: the rest of hers are archived.
        Ok(self.scrub_archived(batch, customer, |task| {
            task.customer_id = "erased".into();
            task.summary = None;
            task.reason = None;
            for event in &mut task.history {
                event.note = None;
            }
        })?)
    }

    /// Moves a merged customer's tasks to the survivor.
    pub fn rekey_customer(&self, batch: &mut Batch, merge: &Merge) -> Result<(), StoreError> {
        {
            let mut state = self.lock();
            for task in state.tasks.values_mut() {
                if task.customer_id == merge.merged {
                    task.customer_id = merge.survivor.clone();
                    batch.put_json(keys::task(&task.id), &*task);
                }
            }
        }
        self.rekey_archived(batch, merge)
    }
}

/// Escalates a waiting task: its required skills become `skills` (none
/// when the wait ran out; the router's when it asked to escalate), keeping
/// its place in the queue.
pub(super) fn relax(state: &mut State, task: &mut Task, skills: Vec<Skill>) {
    let was_queued = state.queue.remove(task);
    task.skills = skills;
    task.escalated = true;
    if was_queued {
        state.queue.insert(task);
    }
}

/// Completes a task: frees the agent's capacity and restarts its idle clock.
pub(super) fn finish(state: &mut State, task: &mut Task, now: u64) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::state::tests::{agent, task};

    #[test]
    fn finishing_frees_the_agent_and_restarts_its_idle_clock() {
        let mut state = State::default();
        state.add_agent(agent("ana", 1, &[]));
        let mut t = task("t", Kind::Chat, TaskState::Wrapping, Some("ana"));
        t.wrap_until = Some(50);
        state.add_task(t.clone());
        assert_eq!(state.held_of(1).len(), 1);

        finish(&mut state, &mut t, 99);
        assert_eq!(t.state, TaskState::Completed);
        assert_eq!((t.ended_at, t.wrap_until), (Some(99), None));
        assert!(state.held_of(1).is_empty());
        assert_eq!(state.agents["ana"].idle_since, 99);
    }

    #[test]
    fn relaxing_keeps_the_place_and_leaves_the_escalation_index() {
        let mut state = State::default();
        let mut t = task("t", Kind::Chat, TaskState::Pending, None);
        t.skills = vec![Skill {
            name: "billing".into(),
            min_level: 3,
        }];
        state.add_task(t.clone());
        state.add_task(task("u", Kind::Chat, TaskState::Pending, None));
        assert_eq!(state.queue.oldest_escalation(), Some(0));

        relax(&mut state, &mut t, Vec::new());
        assert!(t.escalated && t.skills.is_empty());
        assert_eq!(state.queue.oldest_escalation(), None);
        assert_eq!(state.queue.ids().collect::<Vec<_>>(), ["t", "u"]);
    }

    #[test]
    fn a_transition_from_the_wrong_state_is_a_conflict() {
        let t = task("t", Kind::Chat, TaskState::Assigned, Some("ana"));
        assert!(require_state(&t, TaskState::Assigned).is_ok());
        match require_state(&t, TaskState::Reserved) {
            Err(RoutingError::Conflict(m)) => assert_eq!(m, "task t is assigned, not reserved"),
            other => panic!("{other:?}"),
        }
    }
}
