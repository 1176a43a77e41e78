//! The built-in routing policy, used when the router plugin fails, and the
//! native baseline the WASM routers are benchmarked against. It is the same
//! policy as the `longest-idle` plugin.

use crate::runtime::bindings::routing::{Candidates, Decision, RouteTask};

/// Among candidates with free capacity who cover the task's skills —
/// narrowed to those who speak its language when any do — the preferred
/// agent if present, else the one idle longest (ties: lower number).
pub fn longest_idle(task: &RouteTask, candidates: &Candidates) -> Decision {
    let width = task.skills.len();
    let mut best: Option<(bool, u64, u32)> = None;
    let mut preferred_ok = false;
    let any_speaks = (0..candidates.agents.len()).any(|i| {
        candidates.free[i] > 0
            && covers(task, candidates, i, width)
            && candidates.speaks_language[i] != 0
    });
    for i in 0..candidates.agents.len() {
        if candidates.free[i] == 0 || !covers(task, candidates, i, width) {
            continue;
        }
        if any_speaks && candidates.speaks_language[i] == 0 {
            continue;
        }
        let agent = candidates.agents[i];
        if task.preferred_agent == Some(agent) {
            preferred_ok = true;
        }
        let key = (true, candidates.idle_ms[i], agent);
        best = match best {
            Some(b) if (b.1 > key.1) || (b.1 == key.1 && b.2 < key.2) => Some(b),
            _ => Some(key),
        };
    }
    if preferred_ok && let Some(p) = task.preferred_agent {
        return Decision::Assign(p);
    }
    best.map_or(Decision::Wait, |(_, _, agent)| Decision::Assign(agent))
}

fn covers(task: &RouteTask, candidates: &Candidates, i: usize, width: usize) -> bool {
    task.skills.iter().enumerate().all(|(j, skill)| {
        candidates
            .skill_levels
            .get(i * width + j)
            .is_some_and(|level| *level >= skill.min_level)
    })
}
