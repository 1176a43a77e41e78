//! The built-in routing policy, used when the router plugin fails (or with
//! `routing.router = "built-in"`), and the native baseline the WASM routers
//! are benchmarked against. It is the `longest-idle` plugin's own source
//! (`plugins/longest-idle/src/policy.rs`), compiled into the host against
//! the host's bindings of the same WIT types, so the fallback decides
//! exactly as the default plugin does and the benchmark compares one policy
//! compiled two ways.

use crate::wit::routing::{Candidates, Decision, RouteTask};

#[path = "../../../plugins/longest-idle/src/policy.rs"]
mod longest_idle_source;

pub use longest_idle_source::longest_idle;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::types::{ChannelKind, SkillRequirement};

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
            transfers: Vec::new(),
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
