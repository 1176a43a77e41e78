//! The default routing policy.
//!
//! Among the candidates who cover the task's required skills — narrowed to
//! those who speak the customer's language when at least one does — pick the
//! customer's previous agent if they qualify (continuity beats idle time),
//! otherwise the agent idle the longest. Ties go to the lower agent number so
//! decisions are reproducible.
//!
//! It walks the candidate columns side by side without building a list of
//! qualified agents, and compares skill rows without an inner loop
//! ([`covers_row`]): this runs on every assignment, over up to thousands of
//! agents, and every loop iteration in a plugin pays for the host's deadline
//! check.

use switchboard_sdk::{Candidates, Decision, RouteTask, Router, covers_row};

struct LongestIdle;

impl Router for LongestIdle {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        // Best so far: (speaks the language, idle ms, agent).
        let mut best: Option<(bool, u64, u32)> = None;
        let mut preferred: Option<bool> = None;
        let mut any_speaks = false;
        let mins: Vec<u8> = task.skills.iter().map(|s| s.min_level).collect();
        let width = mins.len().max(1);
        // With no required skills there are no levels: walk a row of zeros.
        let no_levels;
        let levels: &[u8] = if mins.is_empty() {
            no_levels = vec![0u8; candidates.agents.len()];
            &no_levels
        } else {
            &candidates.skill_levels
        };
        let rows = candidates
            .agents
            .iter()
            .zip(&candidates.idle_ms)
            .zip(&candidates.free)
            .zip(&candidates.speaks_language)
            .zip(levels.chunks_exact(width));
        for ((((&agent, &idle), &free), &speaks), row) in rows {
            if free == 0 || (!mins.is_empty() && !covers_row(row, &mins)) {
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
}

switchboard_sdk::register_router!(LongestIdle);
