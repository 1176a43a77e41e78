//! Round-robin routing: qualified agents (those covering the task's skills)
//! take turns in agent-number order. The last agent chosen is kept in the
//! plugin's key-value store, because every call runs in a fresh instance.

use switchboard_sdk::{Candidates, Decision, RouteTask, Router, kv, log};

struct RoundRobin;

const LAST: &str = "last-agent";

impl Router for RoundRobin {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        let mut qualified: Vec<u32> = candidates
            .iter()
            .filter(|c| c.free > 0 && c.covers(&task.skills))
            .map(|c| c.agent)
            .collect();
        if qualified.is_empty() {
            return Decision::Wait;
        }
        qualified.sort_unstable();
        let last = match kv::get_json::<u32>(LAST) {
            Ok(last) => last,
            Err(e) => {
                log::warn(format!("cannot read the last agent, starting over: {e}"));
                None
            }
        };
        let next = last
            .and_then(|last| qualified.iter().copied().find(|&a| a > last))
            .unwrap_or(qualified[0]);
        if let Err(e) = kv::set_json(LAST, &next) {
            log::warn(format!("cannot remember the last agent: {e}"));
        }
        Decision::Assign(next)
    }
}

switchboard_sdk::register_router!(RoundRobin);
