//! The HTTP API. `app()` builds the whole router, so tests can drive it with
//! `tower::ServiceExt::oneshot` or over a real socket.
//!
//! HTTP only: handlers parse the request, check the caller's role
//! (`auth.rs`), call one [`Core`] method and shape the answer. One file per
//! resource — `agents`, `tasks`, `conversations`, `customers`, `floor`
//! (queue and stats), `canned` (canned responses), `media` (files customers
//! sent), `queues` (outbox and CRM delivery), `plugins`,
//! `events` (SSE), `webhooks`, `metrics`, `ui` — and `error.rs`, the one
//! table from a core [`crate::core::Failure`] to an HTTP status.

mod agents;
mod audit_trail;
mod auth;
mod automations;
mod body;
mod canned;
mod client;
mod conversations;
mod customers;
mod download;
mod error;
mod events;
mod feeds;
mod floor;
mod history;
mod hours;
mod long_poll;
mod media;
pub mod metrics;
pub mod openapi;
mod plugins;
mod queues;
mod reports;
mod retention;
mod session;
mod tasks;
mod ui;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use tower_http::trace::TraceLayer;

use crate::config::HttpConfig;
use crate::core::Core;

pub use auth::Principal;
pub use body::BodyDeadline;
pub use client::Throttle;
pub use error::ApiError;
pub use long_poll::LongPolls;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Everything the endpoints act on.
    pub core: Arc<Core>,
    /// Renders `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// SHA-256 of the admin token.
    pub admin_token_digest: Arc<[u8; 32]>,
    /// What the HTTP server allows anyone on the network.
    pub http: Arc<HttpConfig>,
    /// Failed sign-ins per client address.
    pub auth_failures: Arc<client::Throttle>,
    /// Webhook reads held until their thread changes.
    pub long_polls: Arc<LongPolls>,
    /// Counts the live clones of this state (one per connection task), so
    /// shutdown can wait until nothing holds the data directory any more.
    pub lifetime: Arc<()>,
}

/// The router for the whole API.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    let max_file_bytes = usize::try_from(state.core.max_attachment_bytes()).unwrap_or(usize::MAX);
    let audited = state.clone();
    Router::new()
        .route("/healthz", get(openapi::healthz))
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/", get(ui::index))
        .route("/ui/{*file}", get(ui::asset))
        .route(
            "/api/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(plugins::MAX_UPLOAD_BYTES)),
        )
        .route("/api/plugins/{name}", get(plugins::show))
        .route("/api/plugins/{name}/reload", post(plugins::reload))
        .route("/api/plugins/{name}/enable", post(plugins::enable))
        .route("/api/plugins/{name}/disable", post(plugins::disable))
        .route("/api/runtime", get(plugins::runtime))
        .route("/api/outbox", get(queues::outbox))
        .route("/api/crm", get(queues::crm))
        .route("/api/crm/redrive", post(queues::crm_redrive))
        .route("/api/channels", get(conversations::channels))
        .route("/api/automations", get(automations::queue))
        .route("/api/automations/{id}/run", post(automations::run))
        .route("/api/history", get(history::read))
        .route("/api/feeds", get(feeds::list).post(feeds::create))
        .route("/api/feeds/{id}", get(feeds::show).delete(feeds::delete))
        .route("/api/feeds/{id}/dead-letters", get(feeds::dead_letters))
        .route("/api/feeds/{id}/redrive", post(feeds::redrive))
        .route("/api/reports/{report}", get(reports::read))
        .route("/api/hours", get(hours::status))
        .route(
            "/api/hours/{calendar}/override",
            post(hours::set_override).delete(hours::lift_override),
        )
        .route("/api/retention", get(retention::status))
        .route("/api/retention/run", post(retention::run))
        .route("/api/agents", get(agents::list))
        .route("/api/agents/{id}", get(agents::show).put(agents::put))
        .route("/api/agents/{id}/status", post(agents::status))
        .route("/api/agents/{id}/tasks", get(agents::tasks))
        .route(
            "/api/agents/{id}/token",
            post(agents::rotate_token).delete(agents::deactivate),
        )
        .route("/api/tasks/{id}", get(tasks::task))
        .route("/api/tasks/{id}/accept", post(tasks::accept))
        .route("/api/tasks/{id}/reject", post(tasks::reject))
        .route("/api/tasks/{id}/complete", post(tasks::complete))
        .route("/api/tasks/{id}/transfer", post(tasks::transfer))
        .route("/api/queue", get(floor::queue))
        .route("/api/stats", get(floor::stats))
        .route("/api/stats/history", get(floor::history))
        .route("/api/me", get(agents::me))
        .route(
            "/api/session",
            post(session::sign_in).delete(session::sign_out),
        )
        .route(
            "/api/agents/{id}/password",
            axum::routing::put(session::set_password),
        )
        .route(
            "/api/conversations",
            get(conversations::list).post(conversations::start),
        )
        .route("/api/conversations/{id}", get(conversations::show))
        .route(
            "/api/messages/{id}/attachments/{index}",
            get(media::attachment),
        )
        .route(
            "/api/conversations/{id}/attachments",
            post(media::upload).layer(DefaultBodyLimit::max(max_file_bytes)),
        )
        .route("/files/{sha256}/{name}", get(media::linked))
        .route(
            "/api/conversations/{id}/notes",
            get(conversations::notes).post(conversations::add_note),
        )
        .route(
            "/api/conversations/{id}/labels",
            axum::routing::put(conversations::labels),
        )
        .route(
            "/api/canned-responses",
            get(canned::list).post(canned::create),
        )
        .route(
            "/api/canned-responses/{id}",
            axum::routing::put(canned::update).delete(canned::delete),
        )
        .route(
            "/api/conversations/{id}/messages",
            post(conversations::reply),
        )
        .route("/api/customers", get(customers::lookup))
        .route(
            "/api/customers/{id}",
            get(customers::show).delete(customers::erase),
        )
        .route("/api/customers/{id}/timeline", get(customers::timeline))
        .route("/api/customers/{id}/export", get(customers::export))
        .route("/api/customers/{id}/merge", post(customers::merge))
        .route(
            "/api/customers/{id}/attributes",
            axum::routing::patch(customers::set_attributes),
        )
        .route("/api/audit", get(customers::audit))
        .route("/api/merge-suggestions", get(customers::suggestions))
        .route("/api/events", get(events::stream))
        .route("/webhooks/{plugin}", any(webhooks::handle))
        .route("/webhooks/{plugin}/{*rest}", any(webhooks::handle_subpath))
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(
            audited,
            audit_trail::record,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::map_response(security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers every response carries unless it set its own: no sniffing, no
/// framing, no referrer; JSON gets a CSP that allows nothing (the UI and
/// plugin pages set their own).
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    if json {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| {
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
            });
    }
    response
}

/// Extractor rejections (a query string or path that does not parse)
/// come as plain text from axum; the API's errors are JSON. Plugins'
/// answers under `/webhooks` are theirs and left alone.
async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse as _;
    let from_plugin = request.uri().path().starts_with("/webhooks/");
    let response = next.run(request).await;
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if from_plugin || !plain || !response.status().is_client_error() {
        return response;
    }
    let status = response.status();
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let code = match status.as_u16() {
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        _ => "bad_request",
    };
    ApiError::new(status, code, String::from_utf8_lossy(&text).into_owned()).into_response()
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
