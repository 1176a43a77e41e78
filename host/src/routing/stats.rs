//! What supervisors see: the queue with SLA states, and live figures per
//! channel kind (waiting, oldest wait, SLA %, handled, abandoned, AHT),
//! agents by status and the router's decisions and fallbacks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::clock::now_ms;
use crate::config::RoutingConfig;
use crate::hours::Hours;

use super::Routing;
use super::model::{AgentStatus, Kind, Task, TaskState};
use super::state::State;

/// A waiting task as `GET /api/queue` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueEntry {
    /// The task.
    #[serde(flatten)]
    pub task: Task,
    /// 1-based place in the queue.
    pub position: usize,
    /// 1-based place among the waiting tasks of its channel kind: what
    /// the customer is told ("you are number 3").
    pub position_in_kind: u32,
    /// About how long until an agent takes it, ms (see `routing::wait`);
    /// none when nobody is available for its kind.
    pub estimated_wait_ms: Option<u64>,
    /// How long it has waited, ms.
    pub age_ms: u64,
    /// How much of that its channel was open (business hours), ms: what
    /// the SLA clock counts.
    pub open_wait_ms: u64,
    /// The channel kind's target, ms.
    pub sla_target_ms: u64,
    /// `ok`, `at_risk` (past 80% of the target) or `breached`.
    pub sla_state: &'static str,
}

/// Live figures for one channel kind.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
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
    /// Transfers made (each hop of every task).
    pub transfers: u64,
}

/// `GET /api/stats`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Per channel kind.
    pub channels: BTreeMap<Kind, KindStats>,
    /// Agents by status.
    pub agents: BTreeMap<&'static str, usize>,
    /// The router in effect and how often it fell back.
    pub router: RouterStats,
    /// Tasks in the routing state's memory: the live ones (waiting,
    /// offered, assigned, wrapping). Finished tasks are archived in the
    /// store, so this returns to zero when the floor is quiet.
    pub live_tasks: usize,
}

/// Router figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RouterStats {
    /// The configured router plugin.
    pub plugin: String,
    /// Decisions made by the plugin.
    pub decisions: u64,
    /// Decisions made by the built-in policy because the plugin failed.
    pub fallbacks: u64,
}

impl Routing {
    /// Waiting tasks in queue order.
    pub fn queue(&self) -> Vec<QueueEntry> {
        queue_view(
            &self.lock(),
            (&self.inner.config, &self.inner.hours),
            now_ms(),
        )
    }

    /// Live figures.
    pub fn stats(&self) -> Stats {
        let config = &self.inner.config;
        let state = self.lock();
        let (channels, agents) = figures(&state, config, now_ms());
        let live_tasks = state.tasks.len();
        drop(state);
        Stats {
            live_tasks,
            channels,
            agents,
            router: RouterStats {
                plugin: config.router.clone(),
                decisions: self.inner.decisions.load(Ordering::Relaxed),
                fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
            },
        }
    }
}

/// The waiting tasks, in dispatch order, with their SLA state at `now`:
/// the SLA clock counts the time their channel was open.
fn queue_view(
    state: &State,
    (config, hours): (&RoutingConfig, &Hours),
    now: u64,
) -> Vec<QueueEntry> {
    let drains = super::wait::drains(state, config);
    let mut ahead: HashMap<Kind, u32> = HashMap::new();
    state
        .queue
        .ids()
        .filter_map(|id| state.tasks.get(id))
        .enumerate()
        .map(|(i, t)| {
            let target = config.sla_ms.get(t.channel_kind);
            let age = now.saturating_sub(t.created_at);
            let open = if hours.any() {
                hours.open_ms(&t.channel, t.channel_kind, t.created_at, now)
            } else {
                age
            };
            let place = ahead.entry(t.channel_kind).or_default();
            let before = *place;
            *place += 1;
            QueueEntry {
                task: t.clone(),
                position: i + 1,
                position_in_kind: before + 1,
                estimated_wait_ms: drains.get(&t.channel_kind).and_then(|d| d.estimate(before)),
                age_ms: age,
                open_wait_ms: open,
                sla_target_ms: target,
                sla_state: sla_state(open, target),
            }
        })
        .collect()
}

/// Figures per channel kind, and agents by status, at `now`.
fn figures(
    state: &State,
    config: &RoutingConfig,
    now: u64,
) -> (BTreeMap<Kind, KindStats>, BTreeMap<&'static str, usize>) {
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
    // Finished tasks count through the totals kept as they were archived.
    for (kind, done) in &state.totals.kinds {
        let s = channels.get_mut(kind).expect("all kinds");
        s.handled += done.handled;
        s.abandoned += done.abandoned;
        s.transfers += done.transfers;
        s.answered += done.answered;
        s.answered_within_sla += done.answered_within_sla;
        *sla_total.entry(*kind).or_default() += done.sla_total;
        let h = handle_sum.entry(*kind).or_default();
        h.0 += done.handle_ms;
        h.1 += done.handle_n;
    }
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
        s.transfers += t.transfers() as u64;
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
            s.sla_pct = Some((s.answered_within_sla as f64 * 1000.0 / total as f64).round() / 10.0);
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
    (channels, agents)
}

/// `ok`, `at_risk` (past 80% of the target) or `breached`.
fn sla_state(age: u64, target: u64) -> &'static str {
    if age > target {
        "breached"
    } else if age * 5 >= target * 4 {
        "at_risk"
    } else {
        "ok"
    }
}

/// What plugins ask through `agents-available`: who could take a new task
/// of a kind now, as counted at the end of the last dispatch round (every
/// status change, completion and new task runs one). Read from atomics:
/// every web chat read asks, and thousands of waiting visitors must not
/// queue on the routing lock. Holds the routing core weakly: the runtime
/// keeps this, and the core keeps the runtime, so a strong reference would
/// keep both (and the store's lock) alive after the host stops.
pub struct FloorView(std::sync::Weak<super::Inner>);

impl Routing {
    /// The view plugins get of who could take work.
    pub fn floor_view(&self) -> FloorView {
        FloorView(std::sync::Arc::downgrade(&self.inner))
    }

    /// Counts the agents available with free capacity, per kind, for
    /// [`FloorView`].
    pub(super) fn count_available(&self) {
        let state = self.lock();
        for (slot, kind) in self.inner.available.iter().zip(Kind::ALL) {
            let count = state
                .agents
                .values()
                .filter(|a| {
                    !a.deactivated
                        && a.status == AgentStatus::Available
                        && state.free(a, kind, &self.inner.config) > 0
                })
                .count();
            slot.store(u32::try_from(count).unwrap_or(u32::MAX), Ordering::Relaxed);
        }
    }
}

impl crate::runtime::Floor for FloorView {
    fn agents_available(&self, kind: Kind) -> u32 {
        let Some(inner) = self.0.upgrade() else {
            return 0;
        };
        Kind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| inner.available[i].load(Ordering::Relaxed))
    }

    fn queue_place(&self, task: &str) -> Option<(u32, Option<u64>)> {
        let inner = self.0.upgrade()?;
        Routing { inner }.queue_place(task)
    }

    fn business_hours(&self, channel: &str, kind: Kind) -> (bool, Option<u64>, Option<String>) {
        let Some(inner) = self.0.upgrade() else {
            return (true, None, None);
        };
        let hours = &inner.hours;
        let Some(calendar) = hours.calendar_of(channel, kind) else {
            return (true, None, None);
        };
        let now = crate::clock::now_ms();
        let next = hours.next_flip(calendar, now);
        (
            hours.calendar_open(calendar, now),
            next,
            next.map(|t| hours.local_text(calendar, t)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::state::tests::{agent, task};

    #[test]
    fn sla_state_turns_at_80_percent_and_past_the_target() {
        assert_eq!(sla_state(0, 1_000), "ok");
        assert_eq!(sla_state(799, 1_000), "ok");
        assert_eq!(sla_state(800, 1_000), "at_risk");
        assert_eq!(sla_state(1_000, 1_000), "at_risk");
        assert_eq!(sla_state(1_001, 1_000), "breached");
    }

    #[test]
    fn figures_count_answered_abandoned_and_handle_time_per_kind() {
        let config = RoutingConfig::default();
        let target = config.sla_ms.chat;
        let mut state = State::default();
        let mut away = agent("bo", 2, &[]);
        away.status = AgentStatus::Away;
        state.add_agent(agent("ana", 1, &[]));
        state.add_agent(away);
        // Answered within the target, handled in 30 s.
        let mut fast = task("fast", Kind::Chat, TaskState::Completed, Some("ana"));
        (fast.accepted_at, fast.ended_at) = (Some(1_000), Some(31_000));
        // Answered late, still being handled.
        let mut late = task("late", Kind::Chat, TaskState::Assigned, Some("ana"));
        late.accepted_at = Some(target + 1);
        // Given up after the target: counts against the SLA.
        let mut gone = task("gone", Kind::Chat, TaskState::Canceled, None);
        (gone.abandoned, gone.ended_at) = (true, Some(target + 5));
        for t in [fast, late, gone] {
            state.add_task(t);
        }
        let mut waiting = task("wait", Kind::Email, TaskState::Pending, None);
        waiting.created_at = 10;
        state.add_task(waiting);

        let now = 100_000;
        let (channels, agents) = figures(&state, &config, now);
        let chat = &channels[&Kind::Chat];
        assert_eq!((chat.answered, chat.answered_within_sla), (2, 1));
        assert_eq!((chat.handled, chat.in_progress, chat.abandoned), (1, 1, 1));
        assert_eq!(chat.sla_pct, Some(33.3));
        assert_eq!(chat.aht_ms, Some(30_000));
        let email = &channels[&Kind::Email];
        assert_eq!((email.waiting, email.oldest_wait_ms), (1, now - 10));
        assert_eq!(email.sla_pct, None);
        assert_eq!(
            (agents["available"], agents["away"], agents["offline"]),
            (1, 1, 0)
        );

        let queue = queue_view(&state, (&config, &Hours::default()), now);
        assert_eq!(queue.len(), 1);
        assert_eq!((queue[0].position, queue[0].sla_state), (1, "ok"));
    }
}
