//! `ANY /webhooks/{plugin}` and `/webhooks/{plugin}/{*rest}`: handed to
//! that channel plugin. The plugin's response goes back only after the
//! events it reported are durably stored.
//!
//! Long-poll: a plugin answering a `GET` with the header
//! `x-switchboard-long-poll: <ms>` asks the host to hold the request until
//! something happens to a message of that channel (a reply is delivered, a
//! status changes) or the time runs out (at most 30 s), then to ask the
//! plugin again and send that answer. Plugins never block: the host waits.
//! The web chat's visitor reads use it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use std::time::Duration;

use tokio::sync::broadcast;

use crate::core::{HttpRequest, HttpResponse};
use crate::events::Event;

use super::{ApiError, AppState};

/// Largest number of headers passed to a plugin.
const MAX_HEADERS: usize = 100;

/// The response header a plugin sets to ask for a long-poll.
const LONG_POLL_HEADER: &str = "x-switchboard-long-poll";

/// The longest the host holds a long-poll.
const MAX_LONG_POLL_MS: u64 = 30_000;

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
    // Subscribed before the plugin reads, so nothing that happens between
    // its answer and the wait is missed. Only reads can long-poll, so
    // writes do not make the core build events for nobody.
    let mut changes = (http.method == "GET").then(|| state.core.subscribe());
    let mut response = state.core.handle_webhook(&plugin, &http).await?;
    // Held until the plugin has something to say (it stops asking to wait)
    // or the first answer's time runs out: a change on the channel may not
    // be the one the reader waits for (a reply is announced when queued,
    // and readable only once delivered).
    let mut deadline = None;
    while let (Some(wait_ms), Some(changes)) = (take_long_poll(&mut response), changes.as_mut()) {
        let deadline = *deadline
            .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_millis(wait_ms));
        if !wait_for_channel(&state, changes, &plugin, deadline).await {
            break;
        }
        response = state.core.handle_webhook(&plugin, &http).await?;
    }
    drop(changes);
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

/// Removes the long-poll header from a plugin's response; returns how long
/// it asked the host to wait.
fn take_long_poll(response: &mut HttpResponse) -> Option<u64> {
    let index = response
        .headers
        .iter()
        .position(|(name, _)| name.eq_ignore_ascii_case(LONG_POLL_HEADER))?;
    let (_, value) = response.headers.remove(index);
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|ms| ms.min(MAX_LONG_POLL_MS))
}

/// Waits until `deadline` for a change to a message of `channel`; false
/// when the time ran out or the host is shutting down.
async fn wait_for_channel(
    state: &AppState,
    changes: &mut broadcast::Receiver<Event>,
    channel: &str,
    deadline: tokio::time::Instant,
) -> bool {
    let wait = async {
        loop {
            match changes.recv().await {
                Ok(event)
                    if event.kind.starts_with("message.")
                        && event.data.get("channel").and_then(|c| c.as_str()) == Some(channel) =>
                {
                    return true;
                }
                Ok(_) => {}
                // Missed events may have been this channel's: look again.
                Err(broadcast::error::RecvError::Lagged(_)) => return true,
                Err(broadcast::error::RecvError::Closed) => return false,
            }
        }
    };
    tokio::select! {
        changed = wait => changed,
        _ = tokio::time::sleep_until(deadline) => false,
        _ = state.core.closed() => false,
    }
}
