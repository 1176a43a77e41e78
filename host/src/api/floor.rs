//! The supervisor's view: `/api/queue`, `/api/stats`, `/api/stats/history`.

use axum::Json;
use axum::extract::State;

use crate::core::{QueueEntry, Sample, Stats};

use super::auth::Principal;
use super::openapi::ReadErrors;
use super::{ApiError, AppState};

/// `GET /api/queue` (supervisor): waiting tasks in queue order, with their
/// SLA state.
#[utoipa::path(operation_id = "floor_queue", get, path = "/api/queue", tag = "work", security(("bearer" = [])), responses((status = 200, description = "Waiting tasks in queue order", body = Vec<QueueEntry>), ReadErrors))]
pub async fn queue(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.queue()))
}

/// `GET /api/stats` (supervisor).
#[utoipa::path(operation_id = "floor_stats", get, path = "/api/stats", tag = "work", security(("bearer" = [])), responses((status = 200, description = "Per channel kind and agent status", body = Stats), ReadErrors))]
pub async fn stats(who: Principal, State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.stats()))
}

/// What `GET /api/stats/history` answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct History {
    /// Time between samples.
    interval_ms: u64,
    /// The last hour, oldest first; the last point is now.
    points: Vec<Sample>,
}

/// `GET /api/stats/history` (supervisor): waiting tasks per channel kind
/// over the last hour, for the dashboard's chart.
#[utoipa::path(operation_id = "floor_history", get, path = "/api/stats/history", tag = "work", security(("bearer" = [])), responses((status = 200, description = "Waiting tasks over the last hour", body = History), ReadErrors))]
pub async fn history(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<History>, ApiError> {
    who.require_supervisor()?;
    let (interval_ms, points) = state.core.stats_history();
    Ok(Json(History {
        interval_ms,
        points,
    }))
}
