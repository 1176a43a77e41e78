use switchboard_sdk::{Candidates, Decision, RouteTask, Router};

/// Gives each task to the least-loaded agent who has the skills it needs.
struct LeastLoaded;

impl Router for LeastLoaded {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        candidates
            .iter()
            .filter(|agent| agent.covers(&task.skills))
            .min_by_key(|agent| (agent.load, u64::MAX - agent.idle_ms))
            .map_or(Decision::Wait, |agent| Decision::Assign(agent.agent))
    }
}

switchboard_sdk::register_router!(LeastLoaded);
