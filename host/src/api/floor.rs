//! The supervisor's view: `/api/queue`, `/api/stats`.

use axum::Json;
use axum::extract::State;

use crate::routing::{QueueEntry, Stats};

use super::auth::Principal;
use super::{ApiError, AppState};

/// `GET /api/queue` (supervisor): waiting tasks in queue order, with their
/// SLA state.
pub async fn queue(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<QueueEntry>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.routing.queue()))
}

/// `GET /api/stats` (supervisor).
pub async fn stats(who: Principal, State(state): State<AppState>) -> Result<Json<Stats>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.routing.stats()))
}
