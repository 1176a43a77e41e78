//! `/api/hours`: business hours — which calendars are open now and when
//! that changes — and the overrides supervisors set.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::core::{CalendarStatus, OverrideInput};

use super::audit_trail::changed;
use super::auth::Principal;
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/hours` (anyone signed in): every calendar, open or closed
/// now, the next change and opening, any override, and who follows it.
#[utoipa::path(operation_id = "hours_status", get, path = "/api/hours", tag = "work", security(("bearer" = [])), responses((status = 200, description = "The calendars now", body = Vec<CalendarStatus>), ReadErrors))]
pub async fn status(_: Principal, State(state): State<AppState>) -> Json<Vec<CalendarStatus>> {
    Json(state.core.hours_status())
}

/// The calendar's state as the audit records a change of it.
fn state_of(state: &AppState, calendar: &str) -> Option<serde_json::Value> {
    state
        .core
        .hours_status()
        .into_iter()
        .find(|c| c.name == calendar)
        .map(|c| serde_json::json!({ "open": c.open, "override": c.override_ }))
}

/// `POST /api/hours/{calendar}/override` (supervisor, admin): forces the
/// calendar open or closed, until `until` or until lifted.
#[utoipa::path(operation_id = "hours_override", post, path = "/api/hours/{calendar}/override", tag = "work", security(("bearer" = [])), params(("calendar" = String, Path, description = "The calendar")), request_body = OverrideInput, responses((status = 200, description = "The calendar now", body = CalendarStatus), WriteErrors))]
pub async fn set_override(
    who: Principal,
    State(state): State<AppState>,
    Path(calendar): Path<String>,
    JsonBody(input): JsonBody<OverrideInput>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
    let before = state_of(&state, &calendar);
    let now = state
        .core
        .set_hours_override(&calendar, Some(input), who.actor())
        .await?;
    let after = state_of(&state, &calendar);
    Ok(changed(Json(now), &before, &after))
}

/// `DELETE /api/hours/{calendar}/override` (supervisor, admin): back to
/// the calendar's own hours.
#[utoipa::path(operation_id = "hours_override_lift", delete, path = "/api/hours/{calendar}/override", tag = "work", security(("bearer" = [])), params(("calendar" = String, Path, description = "The calendar")), responses((status = 200, description = "The calendar now", body = CalendarStatus), WriteErrors))]
pub async fn lift_override(
    who: Principal,
    State(state): State<AppState>,
    Path(calendar): Path<String>,
) -> Result<Response, ApiError> {
    who.require_supervisor()?;
    let before = state_of(&state, &calendar);
    let now = state
        .core
        .set_hours_override(&calendar, None, who.actor())
        .await?;
    let after = state_of(&state, &calendar);
    Ok(changed(Json(now), &before, &after))
}
