//! Wait information: a waiting task's place among the waiting tasks of its
//! channel kind, and an estimate of how long until an agent takes it.
//!
//! The estimator (a drain-rate estimate, as contact centers quote "about 4
//! minutes"): a kind's queue drains at `slots / AHT` tasks per unit of
//! time, where `slots` is the capacity for the kind of the agents who are
//! available, and AHT the average handle time (accept to end) of the last
//! [`RECENT`] tasks of the kind completed — or `routing.default_handle_ms`
//! while fewer than [`MIN_SAMPLES`] exist. A task with `ahead` tasks of its
//! kind before it, while `free` slots are open right now, waits about
//! `max(0, ahead + 1 - free) × AHT / slots`. Nobody available for the kind:
//! no estimate (`null`), rather than a number nobody can keep.

use std::collections::HashMap;

use crate::clock::now_ms;
use crate::config::RoutingConfig;

use super::Routing;
use super::model::{AgentStatus, Kind, TaskState};
use super::state::State;

/// How long cached figures serve [`Routing::queue_place`], ms.
const CACHE_MS: u64 = 1_000;

/// The figures of every kind, as of `at`.
#[derive(Debug, Default)]
pub(super) struct DrainCache {
    at: u64,
    drains: HashMap<Kind, Drain>,
}

impl Routing {
    /// Where waiting task `task` stands: its place among the waiting tasks
    /// of its kind and the estimated wait; `None` when it is not waiting.
    /// The figures are at most a second old.
    pub fn queue_place(&self, task: &str) -> Option<(u32, Option<u64>)> {
        let now = now_ms();
        let state = self.lock();
        let kind = state
            .tasks
            .get(task)
            .filter(|t| t.state == TaskState::Pending)?
            .channel_kind;
        let mut ahead = 0u32;
        let mut found = false;
        for id in state.queue.ids() {
            if id == task {
                found = true;
                break;
            }
            if state.tasks.get(id).is_some_and(|t| t.channel_kind == kind) {
                ahead += 1;
            }
        }
        if !found {
            return None;
        }
        let drain = {
            let mut cache = self.inner.drains.lock().unwrap_or_else(|e| e.into_inner());
            if cache.drains.is_empty() || now.saturating_sub(cache.at) >= CACHE_MS {
                *cache = DrainCache {
                    at: now,
                    drains: drains(&state, &self.inner.config),
                };
            }
            cache.drains.get(&kind).copied()
        };
        Some((ahead + 1, drain.and_then(|d| d.estimate(ahead))))
    }
}

/// How many recent completions the handle time is averaged over.
pub const RECENT: usize = 20;
/// Fewer completions than this: the configured default handle time.
pub const MIN_SAMPLES: usize = 5;

/// What the estimator knows of one kind at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drain {
    /// Capacity for the kind of the available agents.
    pub slots: u32,
    /// Of which free now.
    pub free: u32,
    /// The handle time it assumes, ms.
    pub handle_ms: u64,
}

impl Drain {
    /// The estimated wait of a task with `ahead` tasks of its kind before
    /// it, ms; `None` when nobody is available for the kind.
    pub fn estimate(&self, ahead: u32) -> Option<u64> {
        if self.slots == 0 {
            return None;
        }
        let behind_free = u64::from((ahead + 1).saturating_sub(self.free));
        Some(behind_free * self.handle_ms / u64::from(self.slots))
    }
}

/// The drain of every kind in `state`.
pub(super) fn drains(state: &State, config: &RoutingConfig) -> HashMap<Kind, Drain> {
    let mut recent: HashMap<Kind, Vec<(u64, u64)>> = state
        .totals
        .kinds
        .iter()
        .map(|(kind, t)| (*kind, t.recent.iter().copied().collect()))
        .collect();
    Kind::ALL
        .iter()
        .map(|&kind| {
            let mut done = recent.remove(&kind).unwrap_or_default();
            done.sort_unstable_by_key(|d| std::cmp::Reverse(d.0));
            done.truncate(RECENT);
            let handle_ms = if done.len() >= MIN_SAMPLES {
                done.iter().map(|(_, h)| h).sum::<u64>() / done.len() as u64
            } else {
                config.default_handle_ms.get(kind)
            };
            let (mut slots, mut free) = (0, 0);
            for agent in state.agents.values() {
                if agent.status != AgentStatus::Available || agent.deactivated {
                    continue;
                }
                slots += agent
                    .capacity
                    .get(&kind)
                    .copied()
                    .unwrap_or_else(|| config.default_capacity.get(kind));
                free += state.free(agent, kind, config);
            }
            (
                kind,
                Drain {
                    slots,
                    free,
                    handle_ms: handle_ms.max(1),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A simulated queue: `slots` agents each taking one task for exactly
    /// `handle` ms, FIFO; when does the task at place `ahead` start?
    fn simulated(slots: u32, busy_until: &[u64], handle: u64, ahead: u32) -> u64 {
        let mut free_at: Vec<u64> = busy_until.to_vec();
        free_at.resize(slots as usize, 0);
        let mut start = 0;
        for _ in 0..=ahead {
            free_at.sort_unstable();
            start = free_at[0];
            free_at[0] = start + handle;
        }
        start
    }

    #[test]
    fn free_agents_mean_no_wait_and_nobody_means_no_estimate() {
        let drain = Drain {
            slots: 3,
            free: 2,
            handle_ms: 60_000,
        };
        assert_eq!(drain.estimate(0), Some(0));
        assert_eq!(drain.estimate(1), Some(0));
        assert_eq!(drain.estimate(2), Some(20_000));
        let nobody = Drain {
            slots: 0,
            free: 0,
            handle_ms: 60_000,
        };
        assert_eq!(nobody.estimate(0), None);
    }

    #[test]
    fn the_estimate_tracks_a_simulated_queue() {
        // Four agents, all busy with work that ends at random-looking
        // points within one handle time (on average half of it is left),
        // three minutes each; places 0..40 in the queue.
        let handle = 180_000;
        let busy = [30_000, 75_000, 120_000, 170_000];
        let drain = Drain {
            slots: 4,
            free: 0,
            handle_ms: handle,
        };
        for ahead in 0..40 {
            let real = simulated(4, &busy, handle, ahead) as i64;
            let estimated = drain.estimate(ahead).unwrap() as i64;
            // Within one handle time / slots (a drain step) of the truth.
            assert!(
                (real - estimated).abs() <= (handle / 4) as i64 + 50_000,
                "place {ahead}: simulated {real} ms, estimated {estimated} ms"
            );
        }
    }
}
