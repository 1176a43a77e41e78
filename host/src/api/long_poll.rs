//! Held webhook reads (long-polls), by what they wait on: a plugin answering
//! a read with `x-switchboard-long-poll: <ms>` and
//! `x-switchboard-long-poll-key: <thread key>` is asked again only when a
//! message of *that* thread changes (without a key: any thread of the
//! channel). A post to one web chat wakes its own session, not every reader
//! of the channel. Reads held at once are capped in all, per client address
//! and per key.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::config::HttpConfig;
use crate::core::Core;

/// Wake-ups remembered, so a read that registers just after one sees it.
const RECENT: usize = 4096;

/// What a read waits on: `(channel, thread key)`; an empty key waits on the
/// whole channel.
type Key = (String, String);

#[derive(Default)]
struct Waiting {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
    by_key: HashMap<Key, (usize, Arc<Notify>)>,
    /// Counts wake-ups.
    generation: u64,
    /// The latest wake-ups: generation and key.
    recent: VecDeque<(u64, Key)>,
}

/// The held reads of the host.
#[derive(Default)]
pub struct LongPolls {
    waiting: Mutex<Waiting>,
}

/// A read held on a key; counted until dropped.
pub struct Held {
    polls: Arc<LongPolls>,
    key: Key,
    client: Option<IpAddr>,
    /// Notified when the key (or its channel) is woken.
    pub notify: Arc<Notify>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut w = self.polls.lock();
        w.total -= 1;
        if let Some(client) = self.client
            && let Some(n) = w.by_client.get_mut(&client)
        {
            *n -= 1;
            if *n == 0 {
                w.by_client.remove(&client);
            }
        }
        if let Some((n, _)) = w.by_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                w.by_key.remove(&self.key);
            }
        }
    }
}

/// Why a read was not held.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Too many reads held in all, for the client, or for the key.
    Busy(&'static str),
}

impl LongPolls {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current wake-up count: pass it to [`LongPolls::hold`] after
    /// asking the plugin, to learn whether its thread changed meanwhile.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Reads held right now.
    pub fn waiting(&self) -> usize {
        self.lock().total
    }

    /// Holds a read on `channel`'s `thread` (empty: the whole channel) for
    /// `client`, within the limits. Also says whether the thread was woken
    /// since generation `since` (then the caller asks again at once).
    pub fn hold(
        self: &Arc<Self>,
        channel: &str,
        thread: &str,
        client: Option<IpAddr>,
        since: u64,
        limits: &HttpConfig,
    ) -> Result<(Held, bool), Refused> {
        let key: Key = (channel.to_string(), thread.to_string());
        let mut w = self.lock();
        if w.total >= limits.max_long_polls {
            return Err(Refused::Busy("too many reads are waiting"));
        }
        if let Some(client) = client
            && w.by_client.get(&client).copied().unwrap_or(0) >= limits.max_long_polls_per_client
        {
            return Err(Refused::Busy(
                "too many reads are waiting from this address",
            ));
        }
        if w.by_key
            .get(&key)
            .is_some_and(|(n, _)| *n >= limits.max_long_polls_per_session)
        {
            return Err(Refused::Busy("too many reads are waiting on this session"));
        }
        let woken = w
            .recent
            .iter()
            .rev()
            .take_while(|(generation, _)| *generation > since)
            .any(|(_, k)| k.0 == key.0 && (key.1.is_empty() || k.1 == key.1));
        w.total += 1;
        if let Some(client) = client {
            *w.by_client.entry(client).or_default() += 1;
        }
        let entry = w
            .by_key
            .entry(key.clone())
            .or_insert_with(|| (0, Arc::default()));
        entry.0 += 1;
        let notify = entry.1.clone();
        drop(w);
        Ok((
            Held {
                polls: self.clone(),
                key,
                client,
                notify,
            },
            woken,
        ))
    }

    /// A message of `channel`'s `thread` changed: wakes the reads held on
    /// it (and on the whole channel).
    pub fn wake(&self, channel: &str, thread: &str) {
        let mut w = self.lock();
        w.generation += 1;
        let generation = w.generation;
        if w.recent.len() >= RECENT {
            w.recent.pop_front();
        }
        w.recent
            .push_back((generation, (channel.to_string(), thread.to_string())));
        for key in [(channel, thread), (channel, "")] {
            let key = (key.0.to_string(), key.1.to_string());
            if let Some((_, notify)) = w.by_key.get(&key) {
                notify.notify_waiters();
            }
        }
    }

    /// Wakes every held read (wake-ups were missed).
    fn wake_all(&self) {
        let mut w = self.lock();
        w.generation += 1;
        for (_, notify) in w.by_key.values() {
            notify.notify_waiters();
        }
    }

    /// Follows the core's thread changes until it shuts down.
    pub async fn follow(self: Arc<Self>, core: Arc<Core>) {
        use tokio::sync::broadcast::error::RecvError;
        let mut threads = core.subscribe_threads();
        loop {
            tokio::select! {
                touched = threads.recv() => match touched {
                    Ok(touched) => self.wake(&touched.0, &touched.1),
                    Err(RecvError::Lagged(_)) => self.wake_all(),
                    Err(RecvError::Closed) => return,
                },
                _ = core.closed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;

    use super::*;

    fn limits() -> HttpConfig {
        HttpConfig {
            max_long_polls: 3,
            max_long_polls_per_client: 2,
            max_long_polls_per_session: 1,
            ..HttpConfig::default()
        }
    }

    #[tokio::test]
    async fn only_the_thread_concerned_is_woken() {
        let polls = Arc::new(LongPolls::default());
        let since = polls.generation();
        let (mine, woken) = polls.hold("webchat", "s1", None, since, &limits()).unwrap();
        assert!(!woken);
        let (other, _) = polls.hold("webchat", "s2", None, since, &limits()).unwrap();
        {
            let (mine_n, other_n) = (mine.notify.notified(), other.notify.notified());
            tokio::pin!(mine_n, other_n);
            mine_n.as_mut().enable();
            other_n.as_mut().enable();
            polls.wake("webchat", "s1");
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(mine_n.as_mut().poll(&mut cx).is_ready());
            assert!(other_n.as_mut().poll(&mut cx).is_pending());
        }
        // A read registering after the wake-up learns of it.
        drop(mine);
        let (_again, woken) = polls.hold("webchat", "s1", None, since, &limits()).unwrap();
        assert!(woken);
    }

    #[test]
    fn held_reads_are_capped_and_released() {
        let polls = Arc::new(LongPolls::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = polls.hold("webchat", "s1", Some(a), 0, &limits()).unwrap();
        assert!(
            matches!(polls.hold("webchat", "s1", None, 0, &limits()), Err(Refused::Busy(m)) if m.contains("session"))
        );
        let _second = polls.hold("webchat", "s2", Some(a), 0, &limits()).unwrap();
        assert!(
            matches!(polls.hold("webchat", "s3", Some(a), 0, &limits()), Err(Refused::Busy(m)) if m.contains("address"))
        );
        let _third = polls.hold("webchat", "s3", None, 0, &limits()).unwrap();
        assert!(
            matches!(polls.hold("webchat", "s4", None, 0, &limits()), Err(Refused::Busy(m)) if m.contains("too many reads are waiting"))
        );
        drop(first);
        assert!(polls.hold("webchat", "s1", Some(a), 0, &limits()).is_ok());
    }
}
