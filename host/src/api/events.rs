//! `GET /api/events`: server-sent events. Supervisors and the admin see
//! everything; an agent sees events about itself and its own tasks'
//! conversations.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::auth::Principal;

/// The event stream.
pub async fn stream(
    who: Principal,
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.core.subscribe();
    let stream =
        futures_util::stream::unfold((rx, who, state), |(mut rx, who, state)| async move {
            loop {
                let next = tokio::select! {
                    e = rx.recv() => e,
                    _ = state.core.closed() => return None,
                };
                let event = match next {
                    Ok(e) => e,
                    Err(RecvError::Lagged(n)) => {
                        let e = SseEvent::default()
                            .event("lagged")
                            .data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(e), (rx, who, state)));
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
                return Some((Ok(sse), (rx, who, state)));
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
