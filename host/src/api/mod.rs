//! The HTTP API. `app()` builds the whole router, so tests can drive it with
//! `tower::ServiceExt::oneshot` or over a real socket.

mod auth;
mod error;
mod plugins;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::runtime::Runtime;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The plugin runtime.
    pub runtime: Runtime,
    /// SHA-256 of the admin token.
    pub admin_token_digest: Arc<[u8; 32]>,
    /// Counts the live clones of this state (one per connection task), so
    /// shutdown can wait until nothing holds the data directory any more.
    pub lifetime: Arc<()>,
}

/// The router for the whole API.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/plugins", get(plugins::list))
        .route("/api/plugins/{name}", get(plugins::show))
        .route("/api/plugins/{name}/reload", post(plugins::reload))
        .route("/api/plugins/{name}/enable", post(plugins::enable))
        .route("/api/plugins/{name}/disable", post(plugins::disable))
        .route("/api/runtime", get(plugins::runtime))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}
