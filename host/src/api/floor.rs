//! The supervisor's view: `/api/queue`, `/api/stats`, `/api/stats/history`.

use axum::Json;
use axum::extract::State;

use crate::core::{QueueEntry, Sample, Stats};

use super::auth::Principal;
use super::{ApiError, AppState};

/// `GET /api/queue` (supervisor): waiting tasks in queue order, with their
/// SLA state.
pub async fn queue(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.queue()))
}

/// `GET /api/stats` (supervisor).
pub async fn stats(who: Principal, State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.stats()))
}

/// What `GET /api/stats/history` answers.
#[derive(serde::Serialize)]
pub struct History {
    /// Time between samples.
    interval_ms: u64,
    /// The last hour, oldest first; the last point is now.
    points: Vec<Sample>,
}

/// `GET /api/stats/history` (supervisor): waiting tasks per channel kind
/// over the last hour, for the dashboard's chart.
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
