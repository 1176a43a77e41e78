//! `/api/plugins`: what is installed, uploads of new bundles, and the
//! admin's reload / enable / disable actions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use base64::Engine as _;
use serde::Deserialize;

use crate::core::{PluginInfo, RuntimeStats};

use super::audit_trail::changed;
use super::auth::Admin;
use super::body::JsonBody;
use super::openapi::{ReadErrors, WriteErrors};
use super::{ApiError, AppState};

/// `GET /api/plugins`.
#[utoipa::path(operation_id = "plugins_list", get, path = "/api/plugins", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "Every plugin", body = Vec<PluginInfo>), ReadErrors))]
pub async fn list(_: Admin, State(state): State<AppState>) -> Json<Vec<PluginInfo>> {
    Json(state.core.plugins())
}

/// `GET /api/plugins/{name}`.
#[utoipa::path(operation_id = "plugins_show", get, path = "/api/plugins/{name}", tag = "admin", security(("bearer" = [])), params(("name" = String, Path, description = "The plugin’s name")), responses((status = 200, description = "The plugin", body = PluginInfo), ReadErrors))]
pub async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    state
        .core
        .plugin(&name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no plugin named `{name}`")))
}

/// An uploaded bundle.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// `plugin.toml`, as text.
    manifest: String,
    /// `plugin.wasm`, base64 (standard alphabet, padded).
    #[schema(pattern = "^[A-Za-z0-9+/]*={0,2}$")]
    wasm_base64: String,
    /// `plugin.minisig`, as text: the bundle's signature (see
    /// `[plugins.signing]`).
    #[serde(default)]
    signature: Option<String>,
}

/// Largest upload accepted (a plugin component of up to ~24 MiB).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// `POST /api/plugins` (admin): validates a bundle exactly as loading would,
/// then installs it into the plugins directory (hot-loaded like any other
/// plugin). 201 with the plugin when new, 200 when it replaced a version;
/// 422 with the load error when it does not validate (nothing written).
#[utoipa::path(operation_id = "plugins_upload", post, path = "/api/plugins", tag = "admin", security(("bearer" = [])), request_body = Upload, responses((status = 200, description = "Replaced an installed version", body = PluginInfo), (status = 201, description = "Installed", body = PluginInfo), WriteErrors))]
pub async fn upload(
    _: Admin,
    State(state): State<AppState>,
    JsonBody(upload): JsonBody<Upload>,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(upload.wasm_base64.trim())
        .map_err(|e| ApiError::bad_request(format!("`wasm_base64` is not base64: {e}")))?;
    let (info, created) = state
        .core
        .install_plugin(&upload.manifest, &wasm, upload.signature.as_deref())
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info)))
}

/// `POST /api/plugins/{name}/reload`: 422 with the load error when the
/// bundle is broken (the previous version keeps serving).
#[utoipa::path(operation_id = "plugins_reload", post, path = "/api/plugins/{name}/reload", tag = "admin", security(("bearer" = [])), params(("name" = String, Path, description = "The plugin’s name")), responses((status = 200, description = "Reloaded", body = PluginInfo), WriteErrors))]
pub async fn reload(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PluginInfo>, ApiError> {
    Ok(Json(state.core.reload_plugin(&name).await?))
}

/// `POST /api/plugins/{name}/enable`.
#[utoipa::path(operation_id = "plugins_enable", post, path = "/api/plugins/{name}/enable", tag = "admin", security(("bearer" = [])), params(("name" = String, Path, description = "The plugin’s name")), responses((status = 200, description = "Enabled", body = PluginInfo), WriteErrors))]
pub async fn enable(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let before = plugin_status(&state, &name);
    let after = state.core.enable_plugin(&name).await?;
    Ok(changed(Json(&after), &before, &status_of(&after)))
}

/// `POST /api/plugins/{name}/disable`.
#[utoipa::path(operation_id = "plugins_disable", post, path = "/api/plugins/{name}/disable", tag = "admin", security(("bearer" = [])), params(("name" = String, Path, description = "The plugin’s name")), responses((status = 200, description = "Disabled", body = PluginInfo), WriteErrors))]
pub async fn disable(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let before = plugin_status(&state, &name);
    let after = state.core.disable_plugin(&name).await?;
    Ok(changed(Json(&after), &before, &status_of(&after)))
}

/// A plugin's status, as the audit records a change of it.
fn status_of(plugin: &PluginInfo) -> serde_json::Value {
    serde_json::json!({ "status": plugin.status })
}

/// The status of plugin `name` now (`null` when there is none).
fn plugin_status(state: &AppState, name: &str) -> Option<serde_json::Value> {
    state.core.plugin(name).as_ref().map(status_of)
}

/// `GET /api/runtime`: compile cache and pool figures.
#[utoipa::path(operation_id = "plugins_runtime", get, path = "/api/runtime", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "Compile cache and pool figures", body = RuntimeStats), ReadErrors))]
pub async fn runtime(_: Admin, State(state): State<AppState>) -> Json<RuntimeStats> {
    Json(state.core.runtime_stats())
}
