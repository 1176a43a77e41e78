//! `/api/plugins`: what is installed, uploads of new bundles, and the
//! admin's reload / enable / disable actions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use base64::Engine as _;
use serde::Deserialize;

use crate::runtime::{InstallError, PluginInfo, ReloadError, RuntimeStats};

use super::auth::Admin;
use super::body::JsonBody;
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

/// An uploaded bundle.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// `plugin.toml`, as text.
    manifest: String,
    /// `plugin.wasm`, base64 (standard alphabet, padded).
    wasm_base64: String,
}

/// Largest upload accepted (a plugin component of up to ~24 MiB).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// `POST /api/plugins` (admin): validates a bundle exactly as loading would,
/// then installs it into the plugins directory (hot-loaded like any other
/// plugin). 201 with the plugin when new, 200 when it replaced a version;
/// 422 with the load error when it does not validate (nothing written).
pub async fn upload(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(upload): JsonBody<Upload>,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(upload.wasm_base64.trim())
        .map_err(|e| ApiError::bad_request(format!("`wasm_base64` is not base64: {e}")))?;
    match state.runtime.install(&upload.manifest, &wasm).await {
        Ok((info, created)) => Ok((
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(info),
        )),
        Err(InstallError::Invalid(e)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_bundle",
            e.to_string(),
        )),
        Err(e @ InstallError::Io(_)) => Err(ApiError::internal(e)),
    }
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

/// What `GET /api/crm` answers.
#[derive(serde::Serialize)]
pub struct CrmView {
    pending: Vec<crate::crm::Entry>,
    dead_letters: Vec<crate::crm::Entry>,
}

/// `GET /api/crm` (admin): customer events waiting for CRM plugins, and the
/// dead-lettered ones.
pub async fn crm(_: Admin, State(state): State<AppState>) -> Result<Json<CrmView>, ApiError> {
    Ok(Json(CrmView {
        pending: state.core.crm.pending()?,
        dead_letters: state.core.crm.dead_letters()?,
    }))
}

/// `POST /api/crm/redrive` (admin): every dead-lettered event back into the
/// queue with fresh tries.
pub async fn crm_redrive(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (n, seq) = state.core.crm.redrive()?;
    state.core.store.durable(seq).await?;
    Ok(Json(serde_json::json!({ "redriven": n })))
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
        pending: state.core.outbox.pending()?,
        dead_letters: state.core.outbox.dead_letters()?,
    }))
}
