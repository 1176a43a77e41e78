//! The built-in routing policy, used when the router plugin fails (or with
//! `routing.router = "built-in"`), and the native baseline the WASM routers
//! are benchmarked against. It is the `longest-idle` plugin's algorithm,
//! line for line, so the benchmark compares the same policy compiled two
//! ways.

use crate::runtime::bindings::routing::{Candidates, Decision, RouteTask};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::{ChannelKind, SkillRequirement};

    fn task(skills: &[u8], preferred: Option<u32>) -> RouteTask {
        RouteTask {
            id: "t".into(),
            channel: "c".into(),
            channel_kind: ChannelKind::Chat,
            priority: 0,
            age_ms: 0,
            skills: skills
                .iter()
                .enumerate()
                .map(|(i, l)| SkillRequirement {
                    name: format!("s{i}"),
                    min_level: *l,
                })
                .collect(),
            language: None,
            preferred_agent: preferred,
            customer_attributes: Vec::new(),
        }
    }

    fn candidates(rows: &[(u32, u64, u32, u8, &[u8])]) -> Candidates {
        Candidates {
            agents: rows.iter().map(|r| r.0).collect(),
            idle_ms: rows.iter().map(|r| r.1).collect(),
            load: vec![0; rows.len()],
            free: rows.iter().map(|r| r.2).collect(),
            speaks_language: rows.iter().map(|r| r.3).collect(),
            skill_levels: rows.iter().flat_map(|r| r.4.iter().copied()).collect(),
        }
    }

    #[test]
    fn longest_idle_among_qualified_speakers_then_preferred() {
        let c = candidates(&[
            (1, 500, 1, 1, &[3]),
            (2, 900, 1, 1, &[1]), // idle longest but lacks the level
            (3, 700, 1, 0, &[5]), // does not speak the language
            (4, 600, 0, 1, &[5]), // no free capacity
            (5, 400, 1, 1, &[4]),
        ]);
        assert!(matches!(
            longest_idle(&task(&[2], None), &c),
            Decision::Assign(1)
        ));
        assert!(matches!(
            longest_idle(&task(&[2], Some(5)), &c),
            Decision::Assign(5)
        ));
        // A preferred agent who cannot take it is ignored.
        assert!(matches!(
            longest_idle(&task(&[2], Some(2)), &c),
            Decision::Assign(1)
        ));
        assert!(matches!(
            longest_idle(&task(&[], None), &c),
            Decision::Assign(2)
        ));
        assert!(matches!(
            longest_idle(&task(&[9], None), &c),
            Decision::Wait
        ));
    }

    #[test]
    fn every_position_is_considered() {
        // Blocks of four plus a remainder: the winner may sit anywhere.
        for n in 1..=11u32 {
            for winner in 0..n {
                let rows: Vec<(u32, u64, u32, u8, &[u8])> = (0..n)
                    .map(|i| {
                        (
                            i + 1,
                            if i == winner { 1_000 } else { 10 },
                            1,
                            1,
                            &[2u8, 3][..],
                        )
                    })
                    .collect();
                let c = candidates(&rows);
                let d = longest_idle(&task(&[2, 3], None), &c);
                assert!(
                    matches!(d, Decision::Assign(a) if a == winner + 1),
                    "n={n} winner={winner}"
                );
            }
        }
    }
}
