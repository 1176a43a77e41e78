//! A routing policy that misbehaves on request, for the tests of the host's
//! router fallback. The task's `channel` picks the behaviour: `trap`, `loop`,
//! `stranger` (assigns an agent that is not a candidate), `wait` (waits
//! without looking at the candidates: the benchmarks' measure of what
//! crossing into a plugin with them costs); anything else
//! assigns the highest-numbered candidate (the opposite of longest-idle's
//! tie-break, so tests can tell the two apart) — except a transferred task,
//! which goes to the agent numbered right after the one who passed it on
//! when that agent is a candidate (so tests can tell the router saw the
//! hop and who made it).

use switchboard_sdk::{Candidates, Decision, RouteTask, Router};

struct Rogue;

impl Router for Rogue {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        match task.channel.as_str() {
            "trap" => panic!("rogue router trapped"),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "stranger" => Decision::Assign(u32::MAX),
            "wait" => Decision::Wait,
            _ if task
                .transferred_from()
                .last()
                .is_some_and(|from| candidates.agents.contains(&(from + 1))) =>
            {
                let from = task.transferred_from().last().unwrap_or_default();
                Decision::Assign(from + 1)
            }
            _ => candidates
                .iter()
                .map(|c| c.agent)
                .max()
                .map_or(Decision::Wait, Decision::Assign),
        }
    }

    fn prioritize(task: &RouteTask) -> u32 {
        task.priority + 100
    }
}

switchboard_sdk::register_router!(Rogue);
