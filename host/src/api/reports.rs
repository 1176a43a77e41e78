//! `/api/reports/intervals`: the interval report (supervisors and the
//! admin), as JSON or as CSV (`Accept: text/csv` or `?format=csv`).

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::clock::now_ms;
use crate::core::{GroupBy, IntervalRow};

use super::auth::Principal;
use super::download::{json_or_csv, unix_ms, wants_csv};
use super::openapi::{ErrorBody, ReadErrors};
use super::{ApiError, AppState};

/// `GET /api/reports/intervals` parameters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IntervalQuery {
    /// Tasks that arrived from this time on (unix ms; default: 24 hours
    /// before `to`).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    from: Option<i64>,
    /// ...and before this time (unix ms; default: now).
    #[param(minimum = 0, maximum = 9_007_199_254_740_991_i64)]
    to: Option<i64>,
    /// `15m` (default), `1h` or `1d`.
    interval: Option<String>,
    /// `kind` (default), `channel`, `agent` or `disposition`.
    #[param(inline)]
    group_by: Option<GroupBy>,
    /// `csv` for a CSV file (as `Accept: text/csv` does).
    format: Option<String>,
}

/// `GET /api/reports/intervals` (supervisor, admin): per interval and
/// group, offered, handled, abandoned, service level, speed of answer,
/// handle time and transfers.
#[utoipa::path(operation_id = "reports_intervals", get, path = "/api/reports/intervals", tag = "work", security(("bearer" = [])), params(IntervalQuery), responses((status = 200, description = "Rows by interval, then group (JSON, or CSV with `Accept: text/csv`)", content((Vec<IntervalRow> = "application/json"), (String = "text/csv"))), (status = 400, description = "A parameter out of range or malformed", body = ErrorBody), ReadErrors))]
pub async fn intervals(
    who: Principal,
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(q): Query<IntervalQuery>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
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
    let rows =
        state
            .core
            .interval_report((from, to), interval_ms, q.group_by.unwrap_or_default())?;
    let as_csv = wants_csv(q.format.as_deref(), &headers);
    json_or_csv(rows, as_csv, "intervals.csv", rows_csv)
}

/// The rows as CSV, a header row first; empty cells for figures there is
/// nothing to average.
fn rows_csv(rows: &[IntervalRow]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "interval_start",
        "group",
        "offered",
        "handled",
        "abandoned",
        "avg_time_to_abandon_ms",
        "answered_within_sla",
        "service_level_pct",
        "avg_speed_of_answer_ms",
        "avg_handle_ms",
        "total_handle_ms",
        "transfers",
        "repeat_contacts",
        "resolved_first_contact",
        "fcr_pct",
    ])?;
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        out.write_record([
            r.interval_start.to_string(),
            r.group.clone(),
            r.offered.to_string(),
            r.handled.to_string(),
            r.abandoned.to_string(),
            opt(r.avg_time_to_abandon_ms),
            r.answered_within_sla.to_string(),
            r.service_level_pct
                .map(|p| p.to_string())
                .unwrap_or_default(),
            opt(r.avg_speed_of_answer_ms),
            opt(r.avg_handle_ms),
            r.total_handle_ms.to_string(),
            r.transfers.to_string(),
            r.repeat_contacts.to_string(),
            r.resolved_first_contact.to_string(),
            r.fcr_pct.map(|p| p.to_string()).unwrap_or_default(),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}
