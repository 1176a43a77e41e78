//! `/api/automations`: what waits for the automation plugins — events not
//! yet handled and the timers they set — and running a timer now, to try a
//! journey without waiting for it (supervisors and the admin).

use axum::Json;
use axum::extract::{Path, State};

use crate::core::AutomationEntry;

use super::auth::Principal;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/automations` (supervisor, admin): the queued events and
/// timers, due first.
#[utoipa::path(operation_id = "automations_queue", get, path = "/api/automations", tag = "work", security(("bearer" = [])), responses((status = 200, description = "What waits for the automation plugins, due first: each with `id`, `trigger`, `plugin` (a timer's owner), `conversation_id`, `tag` and `next_at` (when it is due)", body = Vec<Object>), ReadErrors))]
pub async fn queue(
    who: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<AutomationEntry>>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.automation_queue()?))
}

/// `POST /api/automations/{id}/run` (supervisor, admin): makes a queued
/// timer due now.
#[utoipa::path(operation_id = "automations_run", post, path = "/api/automations/{id}/run", tag = "work", security(("bearer" = [])), params(("id" = String, Path, description = "The queued item's id")), responses((status = 200, description = "The item, due now", body = Object), WriteErrors))]
pub async fn run(
    who: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AutomationEntry>, ApiError> {
    who.require_supervisor()?;
    Ok(Json(state.core.run_automation_now(&id).await?))
}
