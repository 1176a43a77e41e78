//! `GET /api/events`: server-sent events. Supervisors and the admin see
//! everything; an agent sees events about itself and its own tasks'
//! conversations.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::{Principal, session_cookie};
use super::openapi::ReadErrors;

/// How often an open stream checks that its token is still valid.
const RECHECK: Duration = Duration::from_secs(5);

/// The event stream. It ends as soon as its token is rotated or revoked.
#[utoipa::path(operation_id = "events_stream", get, path = "/api/events", tag = "work", security(("bearer" = [])), responses((status = 200, description = "Server-sent events: `task.created`, `task.reserved`, `message.created`, `agent.status`… (an agent sees its own)", content_type = "text/event-stream", body = String), ReadErrors))]
pub async fn stream(
    who: Principal,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.core.subscribe();
    // What the stream was opened with: a bearer token, or a browser's
    // session cookie; either must stay valid for the stream to go on.
    let token = match headers.get(AUTHORIZATION) {
        Some(value) => Credential::Bearer(
            value
                .to_str()
                .ok()
                .and_then(|v| v.get(7..))
                .unwrap_or_default()
                .trim()
                .to_string(),
        ),
        None => Credential::Session(session_cookie(&headers).unwrap_or_default().to_string()),
    };
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let seed = (rx, who, state, token, recheck);
    let stream = futures_util::stream::unfold(
        seed,
        |(mut rx, who, state, token, mut recheck)| async move {
            loop {
                let next = tokio::select! {
                    e = rx.recv() => e,
                    _ = recheck.tick() => {
                        if still_valid(&state, &who, &token) {
                            continue;
                        }
                        return None;
                    }
                    _ = state.core.closed() => return None,
                };
                if !still_valid(&state, &who, &token) {
                    return None;
                }
                let event = match next {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        let e = SseEvent::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(e), (rx, who, state, token, recheck)));
                    }
                    Err(RecvError::Closed) => return None,
                };
                let visible = match &who {
                    Principal::Agent(agent) => {
                        event.agent_id.as_deref() == Some(agent.as_str())
                            || event
                                .conversation_id
                                .as_deref()
                                .is_some_and(|c| state.core.agent_has_conversation(agent, c))
                    }
                    _ => true,
                };
                if !visible {
                    continue;
                }
                let data = serde_json::to_string(&event).unwrap_or_default();
                let sse = SseEvent::default().event(event.kind).data(data);
                return Some((Ok(sse), (rx, who, state, token, recheck)));
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// How an event stream was opened.
enum Credential {
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// The `sb_session` cookie.
    Session(String),
}

/// Whether the credential the stream was opened with still names the same
/// agent (the admin token is fixed for the process's life): a rotated
/// token, an ended session or a deactivated agent ends the stream.
fn still_valid(state: &AppState, who: &Principal, credential: &Credential) -> bool {
    match who {
        Principal::Admin => true,
        Principal::Agent(id) | Principal::Supervisor(id) => match credential {
            Credential::Bearer(token) => state
                .core
                .agent_by_token(token)
                .is_some_and(|agent| &agent.id == id),
            Credential::Session(token) => state
                .core
                .session(token)
                .is_some_and(|(agent, _)| &agent.id == id),
        },
    }
}
