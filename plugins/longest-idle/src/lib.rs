//! The default routing policy.
//!
//! Among the candidates who cover the task's required skills — narrowed to
//! those who speak the customer's language when at least one does — pick the
//! customer's previous agent if they qualify (continuity beats idle time),
//! otherwise the agent idle the longest. Ties go to the lower agent number so
//! decisions are reproducible.
//!
//! It walks the candidate columns side by side without building a list of
//! qualified agents, in a loop specialised for the number of required
//! skills: this runs on every assignment, over up to thousands of agents,
//! and every loop iteration in a plugin pays for the host's deadline check.
//! The policy lives in `policy.rs`, which the host also compiles as its
//! built-in policy, so the fallback is this exact code and the benchmarks
//! compare one source compiled two ways.

mod policy;

use policy::longest_idle;
use switchboard_sdk::{Candidates, Decision, RouteTask, Router};

struct LongestIdle;

impl Router for LongestIdle {
    fn select(task: &RouteTask, candidates: &Candidates) -> Decision {
        longest_idle(task, candidates)
    }
}

switchboard_sdk::register_router!(LongestIdle);
