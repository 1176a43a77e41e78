//! `GET /metrics`: Prometheus text. Counters are recorded where things
//! happen; gauges (queue depth, agents, plugin health) are set at scrape
//! time from live state.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use sha2::Digest as _;

use super::openapi::ErrorBody;
use super::{ApiError, AppState};

/// The process-wide recorder. The `metrics` facade has one global recorder,
/// so hosts in one process (tests) share it.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics shows gauges only");
                    PrometheusBuilder::new().build_recorder().handle()
                })
        })
        .clone()
}

/// The scrape endpoint.
#[utoipa::path(operation_id = "metrics_scrape", get, path = "/metrics", tag = "host", security((), ("bearer" = [])), responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String), (status = 401, description = "`http.metrics_token` is set and was not given", body = ErrorBody)))]
pub async fn scrape(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    // With `http.metrics_token` set, only a scraper that has it.
    if let Some(token) = &state.http.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if !super::auth::token_matches(given.trim(), &expected) {
            return Err(ApiError::unauthorized("/metrics needs the metrics token"));
        }
    }
    let stats = state.core.stats();
    for (kind, s) in &stats.channels {
        let kind = kind.as_str();
        metrics::gauge!("switchboard_queue_waiting", "kind" => kind).set(s.waiting as f64);
        metrics::gauge!("switchboard_queue_oldest_wait_seconds", "kind" => kind)
            .set(s.oldest_wait_ms as f64 / 1000.0);
        metrics::gauge!("switchboard_tasks_in_progress", "kind" => kind).set(s.in_progress as f64);
    }
    for (status, n) in &stats.agents {
        metrics::gauge!("switchboard_agents", "status" => *status).set(*n as f64);
    }
    metrics::gauge!("switchboard_router_fallbacks").set(stats.router.fallbacks as f64);
    metrics::gauge!("switchboard_long_polls_waiting").set(state.long_polls.waiting() as f64);
    for p in state.core.plugins() {
        metrics::gauge!("switchboard_plugin_calls", "plugin" => p.name.clone()).set(p.calls as f64);
        metrics::gauge!("switchboard_plugin_failures", "plugin" => p.name.clone())
            .set(p.failures as f64);
    }
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    ))
}
