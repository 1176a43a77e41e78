//! The default routing policy.
//!
//! Among the candidates who cover the task's required skills — narrowed to
//! those who speak the customer's language when at least one does — pick the
//! customer's previous agent if they qualify (continuity beats idle time),
//! otherwise the agent idle the longest. Ties go to the lower agent number so
//! decisions are reproducible.

use switchboard_sdk::{Candidate, Candidates, Decision, RouteTask, Router};

struct LongestIdle;

impl Router for LongestIdle {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        let qualified: Vec<Candidate<'_>> = candidates
            .iter()
            .filter(|c| c.free > 0 && c.covers(&task.skills))
            .collect();
        let pool: Vec<Candidate<'_>> = if qualified.iter().any(|c| c.speaks_language) {
            qualified
                .into_iter()
                .filter(|c| c.speaks_language)
                .collect()
        } else {
            qualified
        };
        if let Some(preferred) = task.preferred_agent
            && pool.iter().any(|c| c.agent == preferred)
        {
            return Decision::Assign(preferred);
        }
        pool.iter()
            .max_by(|a, b| a.idle_ms.cmp(&b.idle_ms).then(b.agent.cmp(&a.agent)))
            .map_or(Decision::Wait, |c| Decision::Assign(c.agent))
    }
}

switchboard_sdk::register_router!(LongestIdle);
