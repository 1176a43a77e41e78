//! Reports, computed from the event history — so a report is the same
//! after a restart and is always what the history says. The interval
//! report (here): each task's figures (from its latest record) fall in the
//! interval in which it arrived, per channel kind, channel, agent,
//! disposition or label, and each bot conversation in the interval in
//! which the bot took it. `agents.rs`: occupancy and utilisation from the
//! status timeline; `surveys.rs`: survey answers.

mod agents;
mod surveys;

pub use agents::AgentRow;
pub use surveys::SurveyRow;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::store::HistoryEvent;

use super::{Core, CoreError};

/// What the rows are grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Voice, chat, messaging, email.
    #[default]
    Kind,
    /// The channel plugin.
    Channel,
    /// The agent who last had the task (`-` for none).
    Agent,
    /// How it ended (`-` for none).
    Disposition,
    /// Each label of its conversation (a task with two labels counts in
    /// both; `-` for none).
    Label,
}

/// One interval of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct IntervalRow {
    /// When the interval starts (unix ms).
    pub interval_start: u64,
    /// The group: a kind, channel, agent or disposition.
    pub group: String,
    /// Tasks that arrived (not counting conversations agents started).
    pub offered: u64,
    /// Of those, accepted by an agent.
    pub answered: u64,
    /// Of those, completed by an agent.
    pub handled: u64,
    /// Of those, given up by the customer while waiting.
    pub abandoned: u64,
    /// How long the abandoned waited, on average (ms).
    pub avg_time_to_abandon_ms: Option<u64>,
    /// Accepted within the kind's SLA target.
    pub answered_within_sla: u64,
    /// `answered_within_sla` of those answered or abandoned, in percent.
    pub service_level_pct: Option<f64>,
    /// Arrival to acceptance, on average (ms).
    pub avg_speed_of_answer_ms: Option<u64>,
    /// Acceptance to the end of wrap-up, on average (ms).
    pub avg_handle_ms: Option<u64>,
    /// The same, in all (ms).
    pub total_handle_ms: u64,
    /// Transfers of these tasks.
    pub transfers: u64,
    /// Arrived within `[reports] fcr_days` after another contact of the
    /// same customer ended, on any channel.
    pub repeat_contacts: u64,
    /// Handled, and the customer started no other contact, on any channel,
    /// within `fcr_days` after it ended (so far).
    pub resolved_first_contact: u64,
    /// `resolved_first_contact` of `handled`, in percent.
    pub fcr_pct: Option<f64>,
    /// Conversations a bot took (in the interval in which it took them).
    pub bot_conversations: u64,
    /// Of those, closed by the bot without a handoff to an agent.
    pub bot_contained: u64,
    /// `bot_contained` of those the bot closed or handed off, in percent.
    pub containment_pct: Option<f64>,
}

/// Sums behind the averages of a row.
#[derive(Default)]
struct Sums {
    row: IntervalRow,
    abandon_ms: u64,
    answered: u64,
    answer_ms: u64,
    /// Bot conversations closed or handed off.
    bot_settled: u64,
}

/// A task's facts, from its latest history record.
struct TaskFacts<'a> {
    event: &'a HistoryEvent,
    created_at: u64,
    /// Her other contacts: (arrived, ended when handled), by arrival.
    others: &'a [(u64, Option<u64>)],
}

fn num(event: &HistoryEvent, field: &str) -> Option<u64> {
    event.data.get(field).and_then(serde_json::Value::as_u64)
}

fn text<'a>(event: &'a HistoryEvent, field: &str) -> Option<&'a str> {
    event.data.get(field).and_then(serde_json::Value::as_str)
}

/// Counts one task into a row's sums.
type Counter<'a> = dyn FnMut(&mut Sums) + 'a;

/// Sees one task: its arrival, latest record, and its [`Counter`].
type TaskVisitor<'a> = dyn FnMut(u64, &HistoryEvent, &mut Counter<'_>) + 'a;

/// Percent of `part` in `whole`, to two places; none of none.
fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part * 10_000 / whole) as f64 / 100.0)
}

impl Core {
    /// The history's events since `since` (unix ms, give or take a
    /// minute) whose kind starts with one of `prefixes`, in order.
    fn history_of(&self, since: u64, prefixes: &[&str]) -> Result<Vec<HistoryEvent>, CoreError> {
        let mut history = Vec::new();
        let mut after = self.store.history_seq_before(since)?;
        loop {
            let page = self.store.history_after(after, 1_000)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            history.extend(
                page.into_iter()
                    .filter(|e| prefixes.iter().any(|p| e.kind.starts_with(p))),
            );
        }
        Ok(history)
    }

    /// The interval report of tasks that arrived (and bot conversations
    /// that started) in `[from, to)`, in intervals of `interval_ms`,
    /// grouped by `group_by`; rows in order of interval, then group.
    pub fn interval_report(
        &self,
        (from, to): (u64, u64),
        interval_ms: u64,
        group_by: GroupBy,
    ) -> Result<Vec<IntervalRow>, CoreError> {
        if interval_ms == 0 || to <= from {
            return Err(CoreError::Invalid(
                "a report needs `to` after `from` and an interval".into(),
            ));
        }
        // Tasks that arrived in the range end after `from`; the contacts
        // that make them repeats ended at most the FCR window before.
        let since = from.saturating_sub(self.fcr_ms);
        let history = self.history_of(since, &["task.", "bot.", "conversation.labeled"])?;
        // Each conversation's labels as they are now.
        let mut labels: HashMap<&str, Vec<String>> = HashMap::new();
        for event in history.iter().filter(|e| e.kind == "conversation.labeled") {
            if let Some(c) = event.conversation_id.as_deref() {
                let list = event.data.get("labels").cloned().unwrap_or_default();
                labels.insert(c, serde_json::from_value(list).unwrap_or_default());
            }
        }
        let groups_of = |event: &HistoryEvent| -> Vec<String> {
            let one = |v: Option<&str>| vec![v.unwrap_or("-").to_string()];
            match group_by {
                GroupBy::Kind => one(text(event, "channel_kind")),
                GroupBy::Channel => one(event.channel.as_deref()),
                GroupBy::Agent => one(event.agent_id.as_deref()),
                GroupBy::Disposition => one(text(event, "disposition")),
                GroupBy::Label => match event
                    .conversation_id
                    .as_deref()
                    .and_then(|c| labels.get(c))
                    .filter(|l| !l.is_empty())
                {
                    Some(list) => list.clone(),
                    None => one(None),
                },
            }
        };
        let bucket = |at: u64| from + (at - from) / interval_ms * interval_ms;
        let mut rows: BTreeMap<(u64, String), Sums> = BTreeMap::new();
        self.count_tasks(&history, (from, to), &mut |at, event, count| {
            for group in groups_of(event) {
                count(rows.entry((bucket(at), group)).or_default());
            }
        });
        // Bot conversations: taken in the range; contained when the bot
        // closed them without a handoff.
        let mut bots: BTreeMap<&str, (&HistoryEvent, Option<bool>)> = BTreeMap::new();
        for event in history.iter().filter(|e| e.kind.starts_with("bot.")) {
            let Some(c) = event.conversation_id.as_deref() else {
                continue;
            };
            match event.kind.as_str() {
                "bot.started" => {
                    bots.insert(c, (event, None));
                }
                "bot.resolved" | "bot.handoff" => {
                    if let Some((_, outcome)) = bots.get_mut(c) {
                        outcome.get_or_insert(event.kind == "bot.resolved");
                    }
                }
                _ => {}
            }
        }
        for (started, outcome) in bots.values() {
            if started.at < from || started.at >= to {
                continue;
            }
            for group in groups_of(started) {
                let sums = rows.entry((bucket(started.at), group)).or_default();
                sums.row.bot_conversations += 1;
                if let Some(contained) = outcome {
                    sums.bot_settled += 1;
                    sums.row.bot_contained += u64::from(*contained);
                }
            }
        }
        Ok(rows
            .into_iter()
            .map(|((interval_start, group), sums)| {
                let mut row = sums.row;
                row.interval_start = interval_start;
                row.group = group;
                let average = |sum: u64, n: u64| (n > 0).then(|| sum / n);
                row.answered = sums.answered;
                row.avg_time_to_abandon_ms = average(sums.abandon_ms, row.abandoned);
                row.avg_speed_of_answer_ms = average(sums.answer_ms, sums.answered);
                row.avg_handle_ms = average(row.total_handle_ms, row.handled);
                row.service_level_pct = pct(row.answered_within_sla, row.answered + row.abandoned);
                row.fcr_pct = pct(row.resolved_first_contact, row.handled);
                row.containment_pct = pct(row.bot_contained, sums.bot_settled);
                row
            })
            .collect())
    }

    /// Calls `add` with each task that arrived in `[from, to)` (not those
    /// agents started): its arrival, latest record, and a function that
    /// counts it into a row's sums.
    fn count_tasks(
        &self,
        history: &[HistoryEvent],
        (from, to): (u64, u64),
        add: &mut TaskVisitor<'_>,
    ) {
        // Each task's latest record, and whether an agent started it.
        let mut latest: BTreeMap<&str, (usize, bool)> = BTreeMap::new();
        for (i, event) in history.iter().enumerate() {
            let Some(task) = event.task_id.as_deref() else {
                continue;
            };
            if !event.kind.starts_with("task.") {
                continue;
            }
            let started = event.kind == "task.assigned";
            latest
                .entry(task)
                .and_modify(|(at, _)| *at = i)
                .or_insert((i, started));
        }
        // Every customer's contacts, for repeats and first-contact
        // resolution across channels.
        let mut contacts: BTreeMap<&str, Vec<(u64, Option<u64>)>> = BTreeMap::new();
        for (index, started) in latest.values() {
            let event = &history[*index];
            if let (false, Some(customer), Some(created_at)) = (
                *started,
                event.customer_id.as_deref(),
                num(event, "created_at"),
            ) {
                contacts
                    .entry(customer)
                    .or_default()
                    .push((created_at, handled_end(event)));
            }
        }
        for list in contacts.values_mut() {
            list.sort_unstable();
        }
        for (index, started) in latest.values() {
            let event = &history[*index];
            let Some(created_at) = num(event, "created_at") else {
                continue;
            };
            if *started || created_at < from || created_at >= to {
                continue;
            }
            let others = event
                .customer_id
                .as_deref()
                .and_then(|c| contacts.get(c))
                .map_or(&[][..], Vec::as_slice);
            let facts = TaskFacts {
                event,
                created_at,
                others,
            };
            add(created_at, event, &mut |sums| self.count(sums, &facts));
        }
    }

    /// Adds one task to `sums`.
    fn count(&self, sums: &mut Sums, facts: &TaskFacts<'_>) {
        let event = facts.event;
        let row = &mut sums.row;
        row.offered += 1;
        row.transfers += num(event, "transfers").unwrap_or(0);
        let ended_at = num(event, "ended_at");
        let (repeat, first) = first_contact(
            facts.created_at,
            handled_end(event),
            facts.others,
            self.fcr_ms,
        );
        row.repeat_contacts += u64::from(repeat);
        row.resolved_first_contact += u64::from(first);
        if event.data.get("abandoned") == Some(&serde_json::Value::Bool(true)) {
            row.abandoned += 1;
            sums.abandon_ms += ended_at.unwrap_or(facts.created_at) - facts.created_at;
        }
        let Some(accepted_at) = num(event, "accepted_at") else {
            return;
        };
        let waited = accepted_at.saturating_sub(facts.created_at);
        sums.answered += 1;
        sums.answer_ms += waited;
        let kind = text(event, "channel_kind")
            .and_then(|k| serde_json::from_value::<Kind>(serde_json::json!(k)).ok());
        if kind.is_some_and(|k| waited <= self.sla_ms.get(k)) {
            row.answered_within_sla += 1;
        }
        if text(event, "state") == Some("completed")
            && let Some(ended_at) = ended_at
        {
            row.handled += 1;
            row.total_handle_ms += ended_at.saturating_sub(accepted_at);
        }
    }
}

/// Whether a contact that arrived at `arrived` (and, handled, ended at
/// `end`) is a repeat — another of the customer's contacts (`others`:
/// arrival, handled end; hers on every channel) ended within `window`
/// before — and whether it was resolved at first contact: handled, and
/// she started nothing else within `window` after.
fn first_contact(
    arrived: u64,
    end: Option<u64>,
    others: &[(u64, Option<u64>)],
    window: u64,
) -> (bool, bool) {
    let repeat = others.iter().any(|&(at, ended)| {
        at != arrived && ended.is_some_and(|e| e <= arrived && arrived - e <= window)
    });
    let first =
        end.is_some_and(|end| !others.iter().any(|&(at, _)| at > end && at - end <= window));
    (repeat, first)
}

/// When a task ended, if an agent handled it (completed after accepting).
fn handled_end(event: &HistoryEvent) -> Option<u64> {
    (text(event, "state") == Some("completed") && num(event, "accepted_at").is_some())
        .then(|| num(event, "ended_at"))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::first_contact;

    const DAY: u64 = 86_400_000;

    #[test]
    fn a_contact_within_the_window_is_a_repeat_and_one_outside_is_not() {
        let window = 7 * DAY;
        // Handled on day 0 (ended at day 0 + 1 h); back on day 3, and on
        // day 20.
        let hour = 3_600_000;
        let first = (0, Some(hour));
        let back_soon = (3 * DAY, Some(3 * DAY + hour));
        let back_late = (20 * DAY, Some(20 * DAY + hour));
        let all = [first, back_soon, back_late];
        // The first contact is not resolved: she was back within the week.
        assert_eq!(first_contact(0, first.1, &all, window), (false, false));
        // Day 3 repeats day 0; nothing followed within a week: resolved.
        assert_eq!(
            first_contact(3 * DAY, back_soon.1, &all, window),
            (true, true)
        );
        // Day 20 is outside the window: a new contact, resolved so far.
        assert_eq!(
            first_contact(20 * DAY, back_late.1, &all, window),
            (false, true)
        );
        // Not handled (abandoned): never resolved, still possibly a repeat.
        assert_eq!(first_contact(3 * DAY, None, &all, window), (true, false));
    }
}
