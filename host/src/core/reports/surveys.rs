//! The surveys report: per interval (of sending), group and survey kind,
//! how many were sent and answered, the average score, CSAT (the share of
//! 4 and 5) and NPS (promoters minus detractors).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::HistoryEvent;

use super::super::{Core, CoreError};
use super::{GroupBy, num, pct, text};

/// One interval, group and survey kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SurveyRow {
    /// When the interval starts (unix ms).
    pub interval_start: u64,
    /// The group: a kind, channel or agent.
    pub group: String,
    /// `csat`, `nps` or `ces`.
    pub survey: String,
    /// Surveys sent in the interval.
    pub sent: u64,
    /// Of those, answered.
    pub answered: u64,
    /// `answered` of `sent`, in percent.
    pub response_rate_pct: Option<f64>,
    /// The answers' average score.
    pub avg_score: Option<f64>,
    /// CSAT: answers of 4 or 5, in percent of answers.
    pub satisfied_pct: Option<f64>,
    /// NPS: answers of 9 or 10.
    pub promoters: u64,
    /// NPS: answers of 0 to 6.
    pub detractors: u64,
    /// NPS: promoters minus detractors, in percent points of answers.
    pub nps: Option<f64>,
}

impl Core {
    /// The surveys report of surveys sent in `[from, to)`; `group_by` is
    /// `kind`, `channel` or `agent` (anything else groups by kind).
    pub fn surveys_report(
        &self,
        (from, to): (u64, u64),
        interval_ms: u64,
        group_by: GroupBy,
    ) -> Result<Vec<SurveyRow>, CoreError> {
        if interval_ms == 0 || to <= from {
            return Err(CoreError::Invalid(
                "a report needs `to` after `from` and an interval".into(),
            ));
        }
        let history = self.history_of(from, &["survey."])?;
        let mut answers: BTreeMap<&str, u64> = BTreeMap::new();
        for event in history.iter().filter(|e| e.kind == "survey.answered") {
            if let (Some(c), Some(score)) = (event.conversation_id.as_deref(), num(event, "score"))
            {
                answers.insert(c, score);
            }
        }
        // Each row with the sum of its scores and its answers of 4 or 5.
        let mut rows: BTreeMap<(u64, String, String), (SurveyRow, u64, u64)> = BTreeMap::new();
        for sent in history.iter().filter(|e| e.kind == "survey.sent") {
            if sent.at < from || sent.at >= to {
                continue;
            }
            let group = group_of(sent, group_by);
            let kind = text(sent, "survey").unwrap_or("-").to_string();
            let bucket = from + (sent.at - from) / interval_ms * interval_ms;
            let (row, sum, satisfied) = rows.entry((bucket, group, kind)).or_default();
            row.sent += 1;
            let Some(score) = sent.conversation_id.as_deref().and_then(|c| answers.get(c)) else {
                continue;
            };
            row.answered += 1;
            *sum += score;
            if *score >= 4 {
                *satisfied += 1;
            }
            match score {
                9..=10 => row.promoters += 1,
                0..=6 => row.detractors += 1,
                _ => {}
            }
        }
        Ok(rows
            .into_iter()
            .map(
                |((interval_start, group, survey), (mut row, sum, satisfied))| {
                    row.response_rate_pct = pct(row.answered, row.sent);
                    row.avg_score = (row.answered > 0)
                        .then(|| (sum as f64 / row.answered as f64 * 100.0).round() / 100.0);
                    if survey == "csat" {
                        row.satisfied_pct = pct(satisfied, row.answered);
                    }
                    if survey == "nps" && row.answered > 0 {
                        let points = (row.promoters as f64 - row.detractors as f64) * 100.0;
                        row.nps = Some((points / row.answered as f64 * 100.0).round() / 100.0);
                    } else {
                        (row.promoters, row.detractors) = (0, 0);
                    }
                    (row.interval_start, row.group, row.survey) = (interval_start, group, survey);
                    row
                },
            )
            .collect())
    }
}

fn group_of(event: &HistoryEvent, group_by: GroupBy) -> String {
    match group_by {
        GroupBy::Channel => event.channel.clone(),
        GroupBy::Agent => event.agent_id.clone(),
        _ => text(event, "channel_kind").map(str::to_string),
    }
    .unwrap_or_else(|| "-".into())
}
