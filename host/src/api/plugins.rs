//! `/api/plugins`: what is installed, and the admin's reload / enable /
//! disable actions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::runtime::{PluginInfo, ReloadError, RuntimeStats};

use super::auth::Admin;
use super::{ApiError, AppState};

/// `GET /api/plugins`.
pub async fn list(_: Admin, State(state): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(state.runtime.plugins())
}

/// `GET /api/plugins/{name}`.
pub async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .runtime
        .plugin(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no plugin named `{name}`")))
}

fn reload_error(e: ReloadError) -> ApiError {
    match e {
        ReloadError::NotFound(_) => ApiError::not_found(e.to_string()),
        ReloadError::Disabled(_) => ApiError::conflict(e.to_string()),
        ReloadError::Load(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "load_failed",
            e.to_string(),
        ),
        ReloadError::Storage(_) => ApiError::internal(e),
    }
}

/// `POST /api/plugins/{name}/reload`: 422 with the load error when the
/// bundle is broken (the previous version keeps serving).
pub async fn reload(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .runtime
        .reload(&name)
        .await
        .map(Json)
        .map_err(reload_error)
}

/// `POST /api/plugins/{name}/enable`.
pub async fn enable(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .runtime
        .enable(&name)
        .await
        .map(Json)
        .map_err(reload_error)
}

/// `POST /api/plugins/{name}/disable`.
pub async fn disable(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .runtime
        .disable(&name)
        .await
        .map(Json)
        .map_err(reload_error)
}

/// `GET /api/runtime`: compile cache and pool figures.
pub async fn runtime(_: Admin, State(state): State<AppState>) -> Json<RuntimeStats> {
    Json(state.runtime.stats())
}

/// What `GET /api/outbox` answers.
#[derive(serde::Serialize)]
pub struct OutboxView {
    pending: Vec<crate::outbox::OutboxEntry>,
    dead_letters: Vec<crate::outbox::OutboxEntry>,
}

/// `GET /api/outbox` (admin): messages waiting for delivery and the
/// dead-lettered ones.
pub async fn outbox(_: Admin, State(state): State<AppState>) -> Result<Json<OutboxView>, ApiError> {
    Ok(Json(OutboxView {
        pending: state.core.outbox.pending().map_err(ApiError::internal)?,
        dead_letters: state
            .core
            .outbox
            .dead_letters()
            .map_err(ApiError::internal)?,
    }))
}
