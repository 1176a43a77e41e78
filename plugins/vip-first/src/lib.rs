//! VIP-first routing. A task whose customer has the attribute `tier = vip`
//! is prioritized above every normal task (`prioritize` adds `vip_boost`)
//! and goes to the qualified agent with the highest skill level in the
//! task's skills (ties: idle longest). Other tasks are routed longest-idle.

use switchboard_sdk::{Candidate, Candidates, Decision, RouteTask, Router, config};

struct VipFirst;

fn is_vip(task: &RouteTask) -> bool {
    task.attribute("tier")
        .is_some_and(|t| t.eq_ignore_ascii_case("vip"))
}

impl Router for VipFirst {
    fn prioritize(task: &RouteTask) -> u32 {
        if is_vip(task) {
            let boost = config::parse::<u32>("vip_boost")
                .ok()
                .flatten()
                .unwrap_or(1000);
            task.priority.saturating_add(boost)
        } else {
            task.priority
        }
    }

    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        let qualified: Vec<Candidate<'_>> = candidates
            .iter()
            .filter(|c| c.free > 0 && c.covers(&task.skills))
            .collect();
        let speaks = qualified.iter().any(|c| c.speaks_language);
        let pool = qualified.iter().filter(|c| !speaks || c.speaks_language);
        let best = if is_vip(task) {
            pool.max_by(|a, b| {
                a.skill_score()
                    .cmp(&b.skill_score())
                    .then(a.idle_ms.cmp(&b.idle_ms))
                    .then(b.agent.cmp(&a.agent))
            })
        } else {
            pool.max_by(|a, b| a.idle_ms.cmp(&b.idle_ms).then(b.agent.cmp(&a.agent)))
        };
        best.map_or(Decision::Wait, |c| Decision::Assign(c.agent))
    }
}

switchboard_sdk::register_router!(VipFirst);
