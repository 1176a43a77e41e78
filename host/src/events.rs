//! Live events for `GET /api/events` (server-sent events).

use serde::Serialize;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

/// Something that changed.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// What happened, e.g. `task.reserved`, `message.created`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Unix ms.
    pub at: u64,
    /// The agent it concerns, if one: agents receive only their own events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The task, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The conversation, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The customer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The changed object.
    pub data: serde_json::Value,
}

/// A broadcast of events; slow subscribers miss events rather than slowing
/// the core (they see a `lagged` notice).
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
    /// Which conversation threads changed, `(channel, thread key)`: what
    /// held webhook reads wait on (cheaper than full events).
    threads: broadcast::Sender<Arc<(String, String)>>,
    closed: watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A new bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Events {
            tx,
            threads: broadcast::channel(4096).0,
            closed: watch::channel(false).0,
        }
    }
    /// Publishes an event. `make` runs only when someone listens, so the
    /// core does not serialize every change for nobody.
    pub fn publish(&self, make: impl FnOnce() -> Event) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(make());
        }
    }
    /// Says that a message of `channel`'s thread `thread` was added or
    /// changed.
    pub fn touched(&self, channel: &str, thread: &str) {
        if self.threads.receiver_count() > 0 {
            let _ = self
                .threads
                .send(Arc::new((channel.to_string(), thread.to_string())));
        }
    }

    /// Follows [`Events::touched`].
    pub fn subscribe_threads(&self) -> broadcast::Receiver<Arc<(String, String)>> {
        self.threads.subscribe()
    }

    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
    /// Ends every subscription's stream (at shutdown, so open event streams
    /// do not hold the server up).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }
    /// Whether [`Events::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves once [`Events::close`] was called.
    pub async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}
