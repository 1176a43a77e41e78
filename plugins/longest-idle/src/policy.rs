//! The longest-idle policy itself, over the WIT types alone.
//!
//! The host compiles this same file into its built-in policy (the fallback
//! when a router plugin fails, and the native baseline of the routing
//! benchmarks) through `#[path]`, with its own bindings of the same WIT
//! types in scope as `super::{Candidates, Decision, RouteTask}`: keep it free
//! of anything but those types and `std`.

use super::{Candidates, Decision, RouteTask};

/// Among candidates with free capacity who cover the task's skills —
/// speakers of its language first — the preferred agent if present, else
/// the one idle longest (ties: lower number).
pub fn longest_idle(task: &RouteTask, candidates: &Candidates) -> Decision {
    let mins: Vec<u8> = task.skills.iter().map(|s| s.min_level).collect();
    let levels = &candidates.skill_levels[..];
    // One loop per row width, chosen once: a width looked up per agent
    // costs a jump table in every iteration of the hottest loop.
    match *mins.as_slice() {
        [] => scan(task, candidates, std::iter::repeat(&[][..]), |_| true),
        [a] => scan(task, candidates, levels.chunks_exact(1), |r| r[0] >= a),
        [a, b] => scan(task, candidates, levels.chunks_exact(2), |r| {
            (r[0] >= a) & (r[1] >= b)
        }),
        [a, b, c] => scan(task, candidates, levels.chunks_exact(3), |r| {
            (r[0] >= a) & (r[1] >= b) & (r[2] >= c)
        }),
        _ => scan(task, candidates, levels.chunks_exact(mins.len()), |r| {
            r.iter().zip(&mins).all(|(l, m)| l >= m)
        }),
    }
}

/// The policy over the candidate columns side by side, `rows` giving each
/// agent's skill levels and `covers` whether they meet the task's minimums.
fn scan<'a>(
    task: &RouteTask,
    candidates: &Candidates,
    rows: impl Iterator<Item = &'a [u8]>,
    covers: impl Fn(&[u8]) -> bool,
) -> Decision {
    // Best so far: (speaks the language, idle ms, agent).
    let mut best: Option<(bool, u64, u32)> = None;
    let mut preferred: Option<bool> = None;
    let mut any_speaks = false;
    let columns = candidates
        .agents
        .iter()
        .zip(&candidates.idle_ms)
        .zip(&candidates.free)
        .zip(&candidates.speaks_language)
        .zip(rows);
    for ((((&agent, &idle), &free), &speaks), row) in columns {
        if free == 0 || !covers(row) {
            continue;
        }
        let speaks = speaks != 0;
        any_speaks |= speaks;
        if task.preferred_agent == Some(agent) {
            preferred = Some(speaks);
        }
        let better = match best {
            None => true,
            Some((b_speaks, b_idle, b_agent)) => {
                (speaks, idle, std::cmp::Reverse(agent))
                    > (b_speaks, b_idle, std::cmp::Reverse(b_agent))
            }
        };
        if better {
            best = Some((speaks, idle, agent));
        }
    }
    if let (Some(speaks), Some(agent)) = (preferred, task.preferred_agent)
        && (speaks || !any_speaks)
    {
        return Decision::Assign(agent);
    }
    best.map_or(Decision::Wait, |(_, _, agent)| Decision::Assign(agent))
}
