//! The agents report: per agent over a range, time available and away
//! (from the status timeline), time handling work (accepted to the end of
//! wrap-up, overlapping tasks counted once) and how many tasks at once,
//! and from those occupancy and utilisation — with the tasks handled.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::now_ms;
use crate::store::HistoryEvent;

use super::super::{Core, CoreError};
use super::{num, pct, text};

/// One agent's figures over the range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentRow {
    /// The agent.
    pub agent_id: String,
    /// Tasks the agent completed that were accepted in the range.
    pub handled: u64,
    /// Their accept-to-end time, on average (ms).
    pub avg_handle_ms: Option<u64>,
    /// Time `available` (ms).
    pub available_ms: u64,
    /// Time `away` (ms).
    pub away_ms: u64,
    /// Time holding at least one accepted task (ms).
    pub handling_ms: u64,
    /// Tasks held at once while handling, on average.
    pub avg_concurrent: Option<f64>,
    /// `handling_ms` of `available_ms`, in percent (at most 100): how busy
    /// the agent was while taking work.
    pub occupancy_pct: Option<f64>,
    /// `handling_ms` of the time signed in (available or away), in percent
    /// (at most 100).
    pub utilisation_pct: Option<f64>,
}

/// `[start, end)` clipped to `[from, to)`, as a length.
fn clipped((start, end): (u64, u64), (from, to): (u64, u64)) -> u64 {
    end.min(to).saturating_sub(start.max(from))
}

impl Core {
    /// The agents report over `[from, to)`, by agent id.
    pub fn agents_report(&self, (from, to): (u64, u64)) -> Result<Vec<AgentRow>, CoreError> {
        if to <= from {
            return Err(CoreError::Invalid(
                "a report needs `to` after `from`".into(),
            ));
        }
        let now = now_ms();
        let to = to.min(now.max(from + 1));
        // From the start: an agent's status at `from` may have been set long
        // before, and a task may have been accepted before `from`.
        let history = self.history_of(0, &["task.", "agent.status"])?;
        let mut rows: BTreeMap<String, AgentRow> = BTreeMap::new();
        // The status timeline: each status lasts until the next.
        let mut current: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
        let close = |rows: &mut BTreeMap<String, AgentRow>, agent: &str, status: &str, span| {
            let row = rows.entry(agent.to_string()).or_default();
            let ms = clipped(span, (from, to));
            match status {
                "available" => row.available_ms += ms,
                "away" => row.away_ms += ms,
                _ => {}
            }
        };
        for event in history.iter().filter(|e| e.kind == "agent.status") {
            let (Some(agent), Some(status)) = (event.agent_id.as_deref(), text(event, "status"))
            else {
                continue;
            };
            let since = num(event, "since").unwrap_or(event.at);
            if let Some((start, was)) = current.insert(agent, (since, status)) {
                close(&mut rows, agent, was, (start, since));
            }
        }
        for (agent, (start, status)) in &current {
            close(&mut rows, agent, status, (*start, to));
        }
        // Work: each task's accept-to-end span, on its (last) agent.
        let mut latest: BTreeMap<&str, &HistoryEvent> = BTreeMap::new();
        for event in history.iter().filter(|e| e.kind.starts_with("task.")) {
            if let Some(task) = event.task_id.as_deref() {
                latest.insert(task, event);
            }
        }
        let mut spans: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
        let mut handle: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for event in latest.values() {
            let (Some(agent), Some(accepted)) =
                (event.agent_id.as_deref(), num(event, "accepted_at"))
            else {
                continue;
            };
            let end = num(event, "ended_at").unwrap_or(now);
            spans.entry(agent).or_default().push((accepted, end));
            if text(event, "state") == Some("completed") && (from..to).contains(&accepted) {
                let h = handle.entry(agent).or_default();
                h.0 += 1;
                h.1 += end.saturating_sub(accepted);
            }
        }
        for (agent, mut list) in spans {
            let row = rows.entry(agent.to_string()).or_default();
            let held: u64 = list.iter().map(|s| clipped(*s, (from, to))).sum();
            list.sort_unstable();
            let mut union = 0;
            let mut open: Option<(u64, u64)> = None;
            for (start, end) in list {
                open = match open {
                    Some((s, e)) if start <= e => Some((s, e.max(end))),
                    Some(done) => {
                        union += clipped(done, (from, to));
                        Some((start, end))
                    }
                    None => Some((start, end)),
                };
            }
            if let Some(done) = open {
                union += clipped(done, (from, to));
            }
            row.handling_ms = union;
            row.avg_concurrent =
                (union > 0).then(|| (held as f64 / union as f64 * 100.0).round() / 100.0);
        }
        for (agent, (n, ms)) in handle {
            let row = rows.entry(agent.to_string()).or_default();
            row.handled = n;
            row.avg_handle_ms = (n > 0).then(|| ms / n);
        }
        Ok(rows
            .into_iter()
            .map(|(agent_id, mut row)| {
                row.agent_id = agent_id;
                let cap = |p: Option<f64>| p.map(|p| p.min(100.0));
                row.occupancy_pct = cap(pct(row.handling_ms, row.available_ms));
                row.utilisation_pct = cap(pct(row.handling_ms, row.available_ms + row.away_ms));
                row
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::clipped;

    #[test]
    fn spans_are_clipped_to_the_range() {
        assert_eq!(clipped((0, 100), (50, 80)), 30);
        assert_eq!(clipped((0, 40), (50, 80)), 0);
        assert_eq!(clipped((60, 200), (50, 80)), 20);
    }
}
