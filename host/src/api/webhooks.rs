//! `ANY /webhooks/{plugin}` and `/webhooks/{plugin}/{*rest}`: handed to
//! that channel plugin. The plugin's response goes back only after the
//! events it reported are durably stored.
//!
//! Long-poll: a plugin answering a `GET` with the header
//! `x-switchboard-long-poll: <ms>` (and `x-switchboard-long-poll-key:
//! <thread key>`) asks the host to hold the request until something happens
//! to a message of that thread (a reply is delivered, a status changes; no
//! key: any thread of the channel) or the time runs out (at most 30 s),
//! then to ask the plugin again and send that answer. Plugins never block:
//! the host waits (`long_poll.rs`). The web chat's visitor reads use it.
//!
//! Every request reaches the plugin with `x-switchboard-client-ip`: the
//! client's address as the host sees it (for per-address limits). The
//! forwarding headers (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`) reach it
//! only from a trusted reverse proxy (`http.trusted_proxies`).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use std::time::Duration;

use crate::core::{HttpRequest, HttpResponse};

use super::client::{FORWARDING_HEADERS, client_ip, from_trusted_proxy};
use super::long_poll::Refused;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};

/// Largest number of headers passed to a plugin.
const MAX_HEADERS: usize = 100;

/// The response header a plugin sets to ask for a long-poll.
const LONG_POLL_HEADER: &str = "x-switchboard-long-poll";

/// The response header naming what a long-poll waits on (a thread key).
const LONG_POLL_KEY_HEADER: &str = "x-switchboard-long-poll-key";

/// The request header telling a plugin the client's address (as the host
/// sees it: the peer, or what a trusted proxy forwarded). A client's own
/// header of that name is dropped.
pub const CLIENT_IP_HEADER: &str = "x-switchboard-client-ip";

/// `ANY /webhooks/{plugin}/{*rest}`: a sub-path of the plugin's webhook.
#[utoipa::path(operation_id = "webhooks_handle_subpath", 
    method(get, post, put, patch, delete),
    path = "/webhooks/{plugin}/{rest}",
    tag = "providers",
    params(
        ("plugin" = String, Path, description = "The channel plugin"),
        ("rest" = String, Path, description = "The sub-path the plugin serves (may contain `/`)"),
    ),
    request_body(content = String, content_type = "*/*", description = "Whatever the provider sends"),
    responses(
        (status = 200, description = "The plugin's answer, once its events are durable", content_type = "*/*", body = String),
        (status = 204, description = "The plugin's answer, empty"),
        (status = 400, description = "Malformed for the plugin; nothing stored", body = ErrorBody),
        (status = 401, description = "Wrong or missing signature; nothing stored", body = ErrorBody),
        (status = 403, description = "Refused by the plugin (e.g. an origin); nothing stored", body = ErrorBody),
        (status = 404, description = "No such plugin or sub-path", body = ErrorBody),
        (status = 405, description = "A method the plugin does not take", content_type = "*/*", body = String),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 429, description = "Too many held reads or new chats; see `Retry-After`", content_type = "*/*", body = String),
    ),
)]
pub async fn handle_subpath(
    state: State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    handle(state, request).await
}

/// `ANY /webhooks/{plugin}`: handed to that channel plugin.
#[utoipa::path(operation_id = "webhooks_handle", 
    method(get, post, put, patch, delete),
    path = "/webhooks/{plugin}",
    tag = "providers",
    params(("plugin" = String, Path, description = "The channel plugin")),
    request_body(content = String, content_type = "*/*", description = "Whatever the provider sends"),
    responses(
        (status = 200, description = "The plugin's answer, once its events are durable", content_type = "*/*", body = String),
        (status = 204, description = "The plugin's answer, empty"),
        (status = 400, description = "Malformed for the plugin; nothing stored", body = ErrorBody),
        (status = 401, description = "Wrong or missing signature; nothing stored", body = ErrorBody),
        (status = 403, description = "Refused by the plugin (e.g. an origin); nothing stored", body = ErrorBody),
        (status = 404, description = "No such plugin", body = ErrorBody),
        (status = 405, description = "A method the plugin does not take", content_type = "*/*", body = String),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 429, description = "Too many held reads or new chats; see `Retry-After`", content_type = "*/*", body = String),
    ),
)]
pub async fn handle(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let path = request.uri().path().to_string();
    let plugin = path
        .strip_prefix("/webhooks/")
        .and_then(|rest| rest.split('/').next())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::not_found("no plugin in the webhook path"))?
        .to_string();
    let client = client_ip(
        request.extensions(),
        request.headers(),
        &state.http.trusted_proxies,
    );
    let method = request.method().as_str().to_ascii_uppercase();
    let path_with_query = request
        .uri()
        .path_and_query()
        .map_or(path.clone(), |pq| pq.as_str().to_string());
    let proxied = from_trusted_proxy(request.extensions(), &state.http.trusted_proxies);
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str() != CLIENT_IP_HEADER)
        .filter(|(k, _)| proxied || !FORWARDING_HEADERS.contains(&k.as_str()))
        .take(MAX_HEADERS)
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    if let Some(ip) = client {
        headers.push((CLIENT_IP_HEADER.to_string(), ip.to_string()));
    }
    let body = super::body::read_body(request, &()).await?;
    let http = HttpRequest {
        method,
        path_with_query,
        headers,
        body: body.to_vec(),
    };
    let polls = &state.long_polls;
    let mut since = polls.generation();
    let mut response = state.core.handle_webhook(&plugin, &http).await?;
    // Held until the plugin has something to say (it stops asking to wait)
    // or the first answer's time runs out; asked again only when its thread
    // changed (a change may still not be the one the reader waits for: a
    // reply is announced when queued, and readable only once delivered).
    let mut deadline = None;
    while http.method == "GET"
        && let Some((wait_ms, thread)) = take_long_poll(&mut response, state.http.max_long_poll_ms)
    {
        let deadline = *deadline
            .get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_millis(wait_ms));
        let (held, woken) = polls
            .hold(&plugin, &thread, client, since, &state.http)
            .map_err(|Refused::Busy(why)| ApiError::too_many(why, 1_000))?;
        if !woken {
            let notified = held.notify.notified();
            tokio::pin!(notified);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => break,
                _ = state.core.closed() => break,
            }
        }
        drop(held);
        since = polls.generation();
        response = state.core.handle_webhook(&plugin, &http).await?;
    }
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
/// it asked the host to wait (at most `max_ms`) and on what.
fn take_long_poll(response: &mut HttpResponse, max_ms: u64) -> Option<(u64, String)> {
    let index = response
        .headers
        .iter()
        .position(|(name, _)| name.eq_ignore_ascii_case(LONG_POLL_HEADER))?;
    let (_, value) = response.headers.remove(index);
    let key = response
        .headers
        .iter()
        .position(|(name, _)| name.eq_ignore_ascii_case(LONG_POLL_KEY_HEADER))
        .map(|i| response.headers.remove(i).1)
        .unwrap_or_default();
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|ms| (ms.min(max_ms), key))
}
