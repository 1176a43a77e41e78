//! The dispatcher's decisions: which waiting task goes to which agent. A
//! round prioritizes new tasks, then walks the queue one task at a time,
//! gathers the agents who can take it (as candidate columns), asks the
//! router plugin — or the built-in policy when it fails — and re-checks the
//! answer against the live state before reserving.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use crate::clock::now_ms;
use crate::config::RoutingConfig;
use crate::hours::Hours;
use crate::store::{Batch, StoreError, keys};
use crate::wit::routing::{Candidates, Decision, RouteTask, TransferHop};
use crate::wit::types::SkillRequirement;

use super::model::{AgentStatus, Kind, Skill, Task, TaskAction, TaskState};
use super::state::State;
use super::tasks::relax;
use super::{BUILT_IN, Routing, policy, task_record};

impl Routing {
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
                let plan = plan(
                    &state,
                    &key.2,
                    (&self.inner.config, &self.inner.hours),
                    now,
                    &exhausted,
                );
                cursor = Some(key);
                plan
            };
            let (task, candidates, preferred, transfers) = match plan {
                Plan::Skip => continue,
                Plan::Exhausted(kind) => {
                    exhausted.insert(kind);
                    continue;
                }
                Plan::Route(task, candidates, preferred, transfers) => {
                    (task, candidates, preferred, transfers)
                }
            };
            let route_task = self.route_task(&task, preferred, transfers, now);
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
        self.count_available();
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
            (&self.inner.config, &self.inner.hours),
            now,
            &HashSet::new(),
        );
        let Plan::Route(task, candidates, preferred, transfers) = plan else {
            return None;
        };
        let route_task = self.route_task(&task, preferred, transfers, now);
        Some(self.decide(&route_task, &candidates).await)
    }

    fn route_task(
        &self,
        task: &Task,
        preferred: Option<u32>,
        transfers: Vec<TransferHop>,
        now: u64,
    ) -> RouteTask {
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
            age_ms: now.saturating_sub(task.waiting_since()),
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
            transfers,
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
            let transfers = transfer_hops(&self.lock(), &task);
            let rt = self.route_task(&task, None, transfers, now);
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
            batch.put_json(keys::task(&id), &task);
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
        batch.put_json(keys::task(task_id), &task);
        batch.record(task_record("task.escalated", &task));
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
        batch.put_json(keys::task(task_id), &task);
        batch.record(task_record("task.reserved", &task));
        batch.put_json(keys::agent(&agent_id), &agent);
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
}

/// What the dispatcher does with one queued task.
enum Plan {
    /// Not waiting any more, or nobody free may take it (e.g. all rejected).
    Skip,
    /// Nobody has free capacity on this channel kind: later tasks of the
    /// kind need not be looked at this round.
    Exhausted(Kind),
    /// Ask the router: the task, its candidates, the preferred agent's
    /// number when that agent is among them, and the task's transfers.
    Route(Box<Task>, Candidates, Option<u32>, Vec<TransferHop>),
}

/// Gathers what routing task `id` needs, under the state lock.
fn plan(
    state: &State,
    id: &str,
    (config, hours): (&RoutingConfig, &Hours),
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
    // Outside business hours the task keeps its place until opening.
    if !hours.open(&task.channel, task.channel_kind, now) {
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
    Plan::Route(
        Box::new(task.clone()),
        candidates,
        preferred,
        transfer_hops(state, task),
    )
}

/// A task's transfers as a router sees them: agents by number (an agent
/// since deleted has none).
fn transfer_hops(state: &State, task: &Task) -> Vec<TransferHop> {
    let number = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| state.agents.get(id))
            .map(|a| a.number)
    };
    task.history
        .iter()
        .filter(|e| e.action == TaskAction::Transferred)
        .map(|e| TransferHop {
            at: e.at,
            from_agent: number(&e.from_agent),
            to_agent: number(&e.to_agent),
            to_skills: e
                .to_skills
                .iter()
                .map(|s| SkillRequirement {
                    name: s.name.clone(),
                    min_level: s.min_level,
                })
                .collect(),
            by_supervisor: e.from_agent.as_deref() != Some(e.by.as_str()),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::state::tests::{agent, task};

    /// Ana (idle 100 ms, billing 4, speaks en), Bo (busy with a chat), Cy
    /// (offline), Di (rejected the task before).
    fn floor() -> State {
        let mut state = State::default();
        let mut ana = agent("ana", 1, &[(Kind::Chat, 2)]);
        ana.skills.insert("billing".into(), 4);
        ana.languages = vec!["EN".into()];
        ana.idle_since = 900;
        let bo = agent("bo", 2, &[(Kind::Chat, 1)]);
        let mut cy = agent("cy", 3, &[]);
        cy.status = AgentStatus::Offline;
        let di = agent("di", 4, &[]);
        for a in [ana, bo, cy, di] {
            state.add_agent(a);
        }
        state.add_task(task("held", Kind::Chat, TaskState::Assigned, Some("bo")));
        let mut t = task("t", Kind::Chat, TaskState::Pending, None);
        t.skills = vec![Skill {
            name: "billing".into(),
            min_level: 2,
        }];
        t.language = Some("en".into());
        t.rejected_by = vec!["di".into()];
        t.preferred_agent = Some("ana".into());
        state.add_task(t);
        state
    }

    #[test]
    fn candidates_are_available_agents_with_free_capacity_as_columns() {
        let state = floor();
        let config = RoutingConfig::default();
        let (c, any_free) = candidates_for(&state, &state.tasks["t"], &config, 1_000);
        assert!(any_free);
        // Bo is full, Cy offline, Di rejected it.
        assert_eq!(c.agents, [1]);
        assert_eq!(c.idle_ms, [100]);
        assert_eq!((c.load.as_slice(), c.free.as_slice()), (&[0][..], &[2][..]));
        assert_eq!(c.skill_levels, [4]);
        assert_eq!(c.speaks_language, [1]);

        let Plan::Route(task, candidates, preferred, _) = plan(
            &state,
            "t",
            (&config, &Hours::default()),
            1_000,
            &HashSet::new(),
        ) else {
            panic!("the task should be routed");
        };
        assert_eq!(task.id, "t");
        assert_eq!(candidates.agents, [1]);
        assert_eq!(preferred, Some(1));
    }

    #[test]
    fn a_kind_nobody_can_take_is_exhausted() {
        let mut state = floor();
        state.add_task(task("more", Kind::Chat, TaskState::Assigned, Some("ana")));
        state.add_task(task("most", Kind::Chat, TaskState::Assigned, Some("ana")));
        state.add_task(task("di1", Kind::Chat, TaskState::Assigned, Some("di")));
        state.add_task(task("di2", Kind::Chat, TaskState::Assigned, Some("di")));
        let config = RoutingConfig::default();
        assert!(matches!(
            plan(
                &state,
                "t",
                (&config, &Hours::default()),
                0,
                &HashSet::new()
            ),
            Plan::Exhausted(Kind::Chat)
        ));
        // A task that is not waiting is skipped, as is an exhausted kind.
        assert!(matches!(
            plan(
                &state,
                "held",
                (&config, &Hours::default()),
                0,
                &HashSet::new()
            ),
            Plan::Skip
        ));
        let chat: HashSet<Kind> = [Kind::Chat].into();
        assert!(matches!(
            plan(&state, "t", (&config, &Hours::default()), 0, &chat),
            Plan::Skip
        ));
    }
}
