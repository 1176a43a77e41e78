//! Least-busy routing: among candidates who cover the task's required
//! skills (and speak its language, when any do), the one holding the fewest
//! tasks right now; ties go to the one idle longest, then the lower number.

use switchboard_sdk::{Candidate, Candidates, Decision, RouteTask, Router};

struct LeastBusy;

impl Router for LeastBusy {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        let qualified: Vec<Candidate<'_>> = candidates
            .iter()
            .filter(|c| c.free > 0 && c.covers(&task.skills))
            .collect();
        let speaks = qualified.iter().any(|c| c.speaks_language);
        qualified
            .iter()
            .filter(|c| !speaks || c.speaks_language)
            .min_by(|a, b| {
                a.load
                    .cmp(&b.load)
                    .then(b.idle_ms.cmp(&a.idle_ms))
                    .then(a.agent.cmp(&b.agent))
            })
            .map_or(Decision::Wait, |c| Decision::Assign(c.agent))
    }
}

switchboard_sdk::register_router!(LeastBusy);
