//! The event feed out: admin-configured webhooks that receive the event
//! history — every task change, agent status and message (never its
//! words) — in order, signed, retried with backoff, with dead letters and
//! redrive. What a BI tool or a data warehouse subscribes to.
//!
//! Each feed keeps a cursor into the history (`feedcur/<id>`): the
//! delivery loop (`delivery.rs`) POSTs the events after it in batches and
//! moves it on once the receiver answers 2xx, so delivery is at least
//! once and in order (a receiver dedupes by `seq`). A batch that keeps
//! failing is dead-lettered after `[feeds] max_attempts` and the feed goes
//! on; a redrive sends the dead letters again, before newer events.

mod delivery;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::config::FeedsConfig;
use crate::store::{Batch, HistoryEvent, Store, StoreError, keys};

pub use delivery::{SIGNATURE_HEADER, sign};

/// What went wrong with a feed request.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// No such feed.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An outbound webhook, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feed {
    /// `fd_…`.
    pub id: String,
    /// Where events are POSTed (http or https).
    pub url: String,
    /// Which kinds it receives: exact (`task.completed`) or a prefix
    /// (`task.*`); empty: all.
    pub events: Vec<String>,
    /// The HMAC key of its signatures.
    pub secret: String,
    /// When it was made (unix ms).
    pub created_at: u64,
}

impl Feed {
    /// Whether the feed receives events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty()
            || self.events.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => kind.starts_with(prefix),
                None => p == kind,
            })
    }
}

/// `POST /api/feeds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedInput {
    /// Where to POST (http or https, at most 2048 characters).
    pub url: String,
    /// Event kinds, exact or ending in `*` (`task.*`); absent or empty:
    /// all.
    #[serde(default)]
    pub events: Vec<String>,
    /// The signing secret (16-256 characters); absent: one is made and
    /// shown once in the answer.
    #[serde(default)]
    pub secret: Option<String>,
    /// Start after this history seq (0: everything the history still
    /// holds); absent: with the next event.
    #[serde(default)]
    pub after: Option<u64>,
}

/// A feed as the API shows it: no secret, with its delivery state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeedView {
    /// `fd_…`.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Which kinds it receives (empty: all).
    pub events: Vec<String>,
    /// When it was made (unix ms).
    pub created_at: u64,
    /// The last history seq delivered or given up on.
    pub delivered_seq: u64,
    /// The newest seq in the history: how far behind the feed is.
    pub history_seq: u64,
    /// Failed tries of the batch now being sent.
    pub attempts: u32,
    /// Why the last try failed, while it is being retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Events given up on, waiting for a redrive.
    pub dead_letters: usize,
    /// Dead letters redriven and not yet delivered.
    pub redriving: usize,
}

/// `POST /api/feeds`' answer: the feed, and its secret this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedFeed {
    /// The feed.
    #[serde(flatten)]
    pub feed: FeedView,
    /// The signing secret; not shown again.
    pub secret: String,
}

/// How a feed's delivery is going, in memory.
#[derive(Debug, Default, Clone)]
struct Progress {
    attempts: u32,
    last_error: Option<String>,
}

/// Every feed and its delivery loop.
pub struct Feeds {
    store: Store,
    config: FeedsConfig,
    /// Running loops, by feed id.
    loops: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    progress: Arc<Mutex<HashMap<String, Progress>>>,
    /// Tells loops to stop at shutdown.
    closed: tokio::sync::watch::Sender<bool>,
}

const MAX_FEEDS: usize = 32;
const MAX_PATTERNS: usize = 32;

impl Feeds {
    /// The feeds as stored; nothing runs until [`Feeds::start`].
    pub fn new(store: Store, config: FeedsConfig) -> Arc<Feeds> {
        Arc::new(Feeds {
            store,
            config,
            loops: Mutex::default(),
            progress: Arc::default(),
            closed: tokio::sync::watch::channel(false).0,
        })
    }

    /// Starts a delivery loop per stored feed.
    pub fn start(self: &Arc<Self>) -> Result<(), StoreError> {
        for feed in self.store.scan_json::<Feed>(keys::FEEDS)? {
            self.spawn(feed);
        }
        Ok(())
    }

    /// Stops every loop (each finishes the POST it is in).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    fn spawn(self: &Arc<Self>, feed: Feed) {
        let id = feed.id.clone();
        let handle = tokio::spawn(delivery::run(self.clone(), feed));
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = loops.insert(id, handle) {
            old.abort();
        }
    }

    /// Adds a feed and starts delivering to it.
    pub async fn create(self: &Arc<Self>, input: FeedInput) -> Result<CreatedFeed, FeedError> {
        validate(&input)?;
        if self.store.scan_keys(keys::FEEDS)?.len() >= MAX_FEEDS {
            return Err(FeedError::Invalid(format!(
                "at most {MAX_FEEDS} feeds; delete one first"
            )));
        }
        let secret = match input.secret {
            Some(s) => s,
            None => {
                let mut bytes = [0u8; 24];
                getrandom::fill(&mut bytes)
                    .map_err(|e| FeedError::Invalid(format!("no randomness for a secret: {e}")))?;
                format!("whsec_{}", hex::encode(bytes))
            }
        };
        let feed = Feed {
            id: format!("fd_{:012}", self.store.next_id()?),
            url: input.url,
            events: input.events,
            secret: secret.clone(),
            created_at: now_ms(),
        };
        let after = input
            .after
            .unwrap_or_else(|| self.store.history_last())
            .min(self.store.history_last());
        let mut batch = Batch::new();
        batch.put_json(keys::feed(&feed.id), &feed);
        batch.put(keys::feed_cursor(&feed.id), after.to_string());
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        let view = self.view(&feed)?;
        self.spawn(feed);
        Ok(CreatedFeed { feed: view, secret })
    }

    /// Every feed.
    pub fn list(&self) -> Result<Vec<FeedView>, FeedError> {
        self.store
            .scan_json::<Feed>(keys::FEEDS)?
            .iter()
            .map(|f| self.view(f))
            .collect()
    }

    /// One feed.
    pub fn get(&self, id: &str) -> Result<FeedView, FeedError> {
        self.view(&self.feed(id)?)
    }

    fn feed(&self, id: &str) -> Result<Feed, FeedError> {
        self.store
            .get_json(&keys::feed(id))?
            .ok_or_else(|| FeedError::NotFound(format!("no feed {id}")))
    }

    fn view(&self, feed: &Feed) -> Result<FeedView, FeedError> {
        let progress = self
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&feed.id)
            .cloned()
            .unwrap_or_default();
        Ok(FeedView {
            id: feed.id.clone(),
            url: feed.url.clone(),
            events: feed.events.clone(),
            created_at: feed.created_at,
            delivered_seq: self.cursor(&feed.id)?,
            history_seq: self.store.history_last(),
            attempts: progress.attempts,
            last_error: progress.last_error,
            dead_letters: self.store.scan_keys(&keys::feed_dead_of(&feed.id))?.len(),
            redriving: self.store.scan_keys(&keys::feed_retry_of(&feed.id))?.len(),
        })
    }

    fn cursor(&self, id: &str) -> Result<u64, StoreError> {
        Ok(self
            .store
            .get_string(&keys::feed_cursor(id))?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Removes a feed, its cursor and its dead letters; its loop stops.
    pub async fn delete(&self, id: &str) -> Result<FeedView, FeedError> {
        let view = self.get(id)?;
        if let Some(handle) = self
            .loops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
        {
            handle.abort();
        }
        let mut batch = Batch::new();
        batch.delete(keys::feed(id));
        batch.delete(keys::feed_cursor(id));
        for prefix in [keys::feed_dead_of(id), keys::feed_retry_of(id)] {
            for key in self.store.scan_keys(&prefix)? {
                batch.delete(format!("{prefix}{key}"));
            }
        }
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        Ok(view)
    }

    /// The events a feed gave up on, oldest first.
    pub fn dead_letters(&self, id: &str) -> Result<Vec<HistoryEvent>, FeedError> {
        self.feed(id)?;
        Ok(self.store.scan_json(&keys::feed_dead_of(id))?)
    }

    /// Sends a feed's dead letters again, before its newer events; how
    /// many.
    pub async fn redrive(&self, id: &str) -> Result<usize, FeedError> {
        self.feed(id)?;
        let dead: Vec<HistoryEvent> = self.store.scan_json(&keys::feed_dead_of(id))?;
        let mut batch = Batch::new();
        for event in &dead {
            batch.delete(keys::feed_dead(id, event.seq));
            batch.put_json(keys::feed_retry(id, event.seq), event);
        }
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        Ok(dead.len())
    }

    fn set_progress(&self, id: &str, progress: Progress) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), progress);
    }
}

fn validate(input: &FeedInput) -> Result<(), FeedError> {
    let bad = |m: String| Err(FeedError::Invalid(m));
    let url: http::Uri = match input.url.parse() {
        Ok(u) if input.url.len() <= 2048 => u,
        _ => return bad(format!("`url` is not a URL: {:?}", input.url)),
    };
    if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
        return bad("`url` must be an http:// or https:// URL with a host".into());
    }
    if input.events.len() > MAX_PATTERNS {
        return bad(format!("at most {MAX_PATTERNS} event patterns"));
    }
    for p in &input.events {
        let body = p.strip_suffix('*').unwrap_or(p);
        let ok = !p.is_empty()
            && p.len() <= 64
            && body
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_');
        if !ok {
            return bad(format!(
                "event pattern {p:?}: lowercase kinds like `task.completed`, or a prefix ending in `*`"
            ));
        }
    }
    if let Some(s) = &input.secret
        && !(16..=256).contains(&s.len())
    {
        return bad("`secret` must be 16-256 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, events: &[&str]) -> FeedInput {
        FeedInput {
            url: url.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            secret: None,
            after: None,
        }
    }

    #[test]
    fn patterns_are_exact_kinds_or_prefixes() {
        let feed = Feed {
            id: "fd".into(),
            url: "http://x".into(),
            events: vec!["task.*".into(), "agent.status".into()],
            secret: "s".into(),
            created_at: 0,
        };
        assert!(feed.wants("task.completed") && feed.wants("agent.status"));
        assert!(!feed.wants("message.in") && !feed.wants("agent.statuses"));
    }

    #[test]
    fn only_web_urls_and_plain_patterns_are_accepted() {
        assert!(validate(&input("https://bi.example.com/hook", &["task.*"])).is_ok());
        for bad in ["ftp://x/y", "not a url", "/relative", "http://"] {
            assert!(validate(&input(bad, &[])).is_err(), "{bad}");
        }
        for bad in ["Task.*", "", "task.*.x*", "a b"] {
            assert!(validate(&input("http://x/", &[bad])).is_err(), "{bad}");
        }
    }
}
