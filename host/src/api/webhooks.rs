//! `ANY /webhooks/{plugin}` and `/webhooks/{plugin}/{*rest}`: handed to
//! that channel plugin. The plugin's response goes back only after the
//! events it reported are durably stored.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::runtime::bindings::types::HttpRequest;

use super::{ApiError, AppState};

/// Largest number of headers passed to a plugin.
const MAX_HEADERS: usize = 100;

/// The handler for both webhook routes.
pub async fn handle(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let path = request.uri().path().to_string();
    let plugin = path
        .strip_prefix("/webhooks/")
        .and_then(|rest| rest.split('/').next())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::not_found("no plugin in the webhook path"))?
        .to_string();
    let method = request.method().as_str().to_ascii_uppercase();
    let path_with_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |pq| pq.as_str().to_string());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .take(MAX_HEADERS)
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let body = super::body::read_body(request, &()).await?;
    let http = HttpRequest {
        method,
        path_with_query,
        headers,
        body: body.to_vec(),
    };
    let response = state.core.handle_webhook(&plugin, &http).await?;
    let mut builder =
        Response::builder().status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK));
    for (name, value) in &response.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(Body::from(response.body))
        .map_err(ApiError::internal)
}
