//! `/api/reports/{report}`: the supervisor's reports (supervisors and the
//! admin), computed from the event history, as JSON or as CSV (`Accept:
//! text/csv`, `?format=csv` or a `.csv` suffix: `/api/reports/agents.csv`).
//!
//! | report | rows |
//! |---|---|
//! | `intervals` | per interval and group (`group_by`) |
//! | `channels`, `labels` | per channel or label, over the whole range |
//! | `agents` | per agent: occupancy and utilisation |
//! | `surveys` | per interval, group and survey kind |

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::core::{AgentRow, GroupBy, IntervalRow, SurveyRow};

use super::auth::Principal;
use super::download::{json_or_csv, unix_ms, wants_csv};
use super::openapi::{ErrorBody, ReadErrors};
use super::{ApiError, AppState};

/// `GET /api/reports/{report}` parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// From this time on (unix ms; default: 24 hours before `to`).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    from: Option<i64>,
    /// ...and before this time (unix ms; default: now).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    to: Option<i64>,
    /// `15m` (default), `1h` or `1d` (`intervals`, `surveys`).
    interval: Option<String>,
    /// `kind` (default), `channel`, `agent`, `disposition` or `label`
    /// (`intervals`; `surveys` takes kind, channel or agent).
    #[param(inline)]
    group_by: Option<GroupBy>,
    /// `csv` for a CSV file (as `Accept: text/csv` does).
    format: Option<String>,
}

/// `GET /api/reports/{report}` (supervisor, admin). `intervals`: per
/// interval and group, offered, handled, abandoned, service level, speed
/// of answer, handle time, transfers, repeat contacts, first-contact
/// resolution and bot containment; `channels` and `labels`: the same per
/// channel or label over the range; `agents`: available, away and
/// handling time, occupancy and utilisation; `surveys`: sent, answered,
/// average score, CSAT and NPS.
#[utoipa::path(operation_id = "reports_read", get, path = "/api/reports/{report}", tag = "work", security(("bearer" = [])), params(("report" = String, Path, description = "`intervals`, `channels`, `labels`, `agents` or `surveys`, optionally with `.csv`"), ReportQuery), responses((status = 200, description = "The report's rows (JSON, or CSV with `Accept: text/csv`)", content((Vec<IntervalRow> = "application/json"), (Vec<AgentRow> = "application/json"), (Vec<SurveyRow> = "application/json"), (String = "text/csv"))), (status = 400, description = "A parameter out of range or malformed", body = ErrorBody), ReadErrors))]
pub async fn read(
    who: Principal,
    State(state): State<AppState>,
    Path(report): Path<String>,
    headers: axum::http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
    let (name, suffix_csv) = match report.strip_suffix(".csv") {
        Some(name) => (name, true),
        None => (report.as_str(), false),
    };
    let to = unix_ms(q.to, "to")?.unwrap_or_else(now_ms);
    let from = unix_ms(q.from, "from")?.unwrap_or(to.saturating_sub(86_400_000));
    if from >= to {
        return Err(ApiError::bad_request("`from` must be before `to`"));
    }
    let interval_ms = match q.interval.as_deref().unwrap_or("15m") {
        "15m" => 900_000,
        "1h" => 3_600_000,
        "1d" => 86_400_000,
        other => {
            return Err(ApiError::bad_request(format!(
                "`interval` is 15m, 1h or 1d, not `{other}`"
            )));
        }
    };
    let csv = suffix_csv || wants_csv(q.format.as_deref(), &headers);
    let file = format!("{name}.csv");
    let core = &state.core;
    let group_by = q.group_by.unwrap_or_default();
    match name {
        "intervals" => send(
            core.interval_report((from, to), interval_ms, group_by)?,
            csv,
            &file,
        ),
        "channels" => send(
            core.interval_report((from, to), to - from, GroupBy::Channel)?,
            csv,
            &file,
        ),
        "labels" => send(
            core.interval_report((from, to), to - from, GroupBy::Label)?,
            csv,
            &file,
        ),
        "agents" => send(core.agents_report((from, to))?, csv, &file),
        "surveys" => send(
            core.surveys_report((from, to), interval_ms, group_by)?,
            csv,
            &file,
        ),
        other => Err(ApiError::not_found(format!(
            "no report `{other}`: intervals, channels, labels, agents or surveys"
        ))),
    }
}

/// Rows as JSON or CSV (a header row from the field names, then one line
/// per row; empty cells for figures there is nothing to average).
fn send<T: Serialize>(rows: Vec<T>, csv: bool, file: &str) -> Result<Response, ApiError> {
    json_or_csv(rows, csv, file, |rows| {
        let mut out = ::csv::Writer::from_writer(Vec::new());
        for row in rows {
            out.serialize(row)?;
        }
        out.into_inner().map_err(|e| e.into_error().into())
    })
}
