//! Limits on new sessions, so nobody can fill the queue with anonymous
//! chats (see "Floods" in the crate docs).
//!
//! Only starting a session is limited: messages of an existing session
//! carry its secret and are never slowed by someone else's flood.
//!
//! Counters live in the plugin's kv store under a fixed set of keys (a
//! client address or origin hashes to one of [`ADDRESS_SLOTS`] /
//! [`ORIGIN_SLOTS`]; two that share a slot share its count), so a flood
//! from many addresses cannot grow the store. Every call runs in its own
//! instance and kv has no atomic increment: two sessions started at the
//! same instant may both count from the same value, so the limits are
//! approximate by a few.

use serde::{Deserialize, Serialize};
use switchboard_sdk::{PluginError, config, kv, signature};

use crate::kv_error;

/// The header the host sets to the client's address (the peer, or what a
/// trusted reverse proxy forwarded).
pub const CLIENT_IP_HEADER: &str = "x-switchboard-client-ip";

/// Counter keys per dimension.
const ADDRESS_SLOTS: u16 = 4096;
const ORIGIN_SLOTS: u16 = 256;
/// The unverified-session count is kept per ten minutes, six of them.
const BUCKET_MS: u64 = 600_000;
const BUCKETS: u64 = 6;

/// The configured limits; 0 turns one off.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// New sessions per client address per minute.
    pub per_address_per_minute: u32,
    /// New sessions per browser origin per minute.
    pub per_origin_per_minute: u32,
    /// Sessions without a verified visitor started in the last hour.
    pub unverified_per_hour: u32,
}

impl Limits {
    /// From the plugin's config (`new_sessions_per_address_per_minute`,
    /// `new_sessions_per_origin_per_minute`,
    /// `max_unverified_sessions_per_hour`).
    pub fn from_config() -> Limits {
        let get = |key: &str, default: u32| {
            config::get(key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        Limits {
            per_address_per_minute: get("new_sessions_per_address_per_minute", 10),
            per_origin_per_minute: get("new_sessions_per_origin_per_minute", 60),
            unverified_per_hour: get("max_unverified_sessions_per_hour", 1000),
        }
    }
}

/// A count in one window (a minute, or ten minutes).
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Window {
    /// Which window (unix ms / window length).
    pub index: u64,
    /// Sessions started in it.
    pub count: u32,
}

impl Window {
    /// The count in window `index` (a stored older window counts 0).
    pub fn count_in(&self, index: u64) -> u32 {
        if self.index == index { self.count } else { 0 }
    }

    /// Counts one more in window `index`.
    pub fn add(&mut self, index: u64) {
        *self = Window {
            index,
            count: self.count_in(index).saturating_add(1),
        };
    }
}

/// Why a new session was refused, and when to try again.
#[derive(Debug, PartialEq)]
pub struct Refused {
    /// For the visitor.
    pub message: String,
    /// Seconds until it may try again.
    pub retry_after_secs: u64,
}

/// The counters one new session touches.
struct Counter {
    key: String,
    index: u64,
    limit: u32,
    window_ms: u64,
    what: &'static str,
}

/// Admits or refuses a new session from `address` (the host's client
/// address header) and `origin` (a browser's allowed `Origin`), counting it
/// when admitted. A verified visitor (vouched for by the website) is not
/// held to the unverified cap.
pub fn admit(
    limits: Limits,
    address: Option<&str>,
    origin: Option<&str>,
    verified: bool,
    now_ms: u64,
) -> Result<Result<(), Refused>, PluginError> {
    let minute = now_ms / 60_000;
    let mut counters = Vec::new();
    if let Some(address) = address.filter(|_| limits.per_address_per_minute > 0) {
        counters.push(Counter {
            key: format!("flood/address/{}", slot(address, ADDRESS_SLOTS)),
            index: minute,
            limit: limits.per_address_per_minute,
            window_ms: 60_000,
            what: "from your address",
        });
    }
    if let Some(origin) = origin.filter(|_| limits.per_origin_per_minute > 0) {
        counters.push(Counter {
            key: format!("flood/origin/{}", slot(origin, ORIGIN_SLOTS)),
            index: minute,
            limit: limits.per_origin_per_minute,
            window_ms: 60_000,
            what: "from this website",
        });
    }
    let mut windows = Vec::with_capacity(counters.len());
    for counter in &counters {
        let window: Window = kv::get_json(&counter.key)
            .map_err(|e| kv_error("reading a rate counter", &e))?
            .unwrap_or_default();
        if window.count_in(counter.index) >= counter.limit {
            return Ok(Err(refused(counter.what, counter.window_ms, now_ms)));
        }
        windows.push(window);
    }
    let bucket = now_ms / BUCKET_MS;
    let mut unverified = None;
    if !verified && limits.unverified_per_hour > 0 {
        let buckets = read_buckets()?;
        if open_unverified(&buckets, bucket) >= limits.unverified_per_hour {
            return Ok(Err(Refused {
                message: "too many chats are waiting to be answered; please try again later".into(),
                retry_after_secs: ((BUCKET_MS - now_ms % BUCKET_MS) / 1000).max(1),
            }));
        }
        unverified = Some(buckets[(bucket % BUCKETS) as usize]);
    }
    for (counter, mut window) in counters.iter().zip(windows) {
        window.add(counter.index);
        kv::set_json(&counter.key, &window).map_err(|e| kv_error("saving a rate counter", &e))?;
    }
    if let Some(mut window) = unverified {
        window.add(bucket);
        kv::set_json(&bucket_key(bucket), &window)
            .map_err(|e| kv_error("saving a rate counter", &e))?;
    }
    Ok(Ok(()))
}

/// Unverified sessions started in the last hour (this bucket and the five
/// before it).
pub fn open_unverified(buckets: &[Window], bucket: u64) -> u32 {
    buckets
        .iter()
        .filter(|w| w.index + BUCKETS > bucket && w.index <= bucket)
        .map(|w| w.count)
        .fold(0u32, u32::saturating_add)
}

fn read_buckets() -> Result<Vec<Window>, PluginError> {
    (0..BUCKETS)
        .map(|i| {
            kv::get_json(&bucket_key(i))
                .map(Option::unwrap_or_default)
                .map_err(|e| kv_error("reading a rate counter", &e))
        })
        .collect()
}

fn bucket_key(bucket: u64) -> String {
    format!("flood/unverified/{}", bucket % BUCKETS)
}

fn refused(what: &str, window_ms: u64, now_ms: u64) -> Refused {
    Refused {
        message: format!("too many new chats {what}; please try again in a minute"),
        retry_after_secs: ((window_ms - now_ms % window_ms) / 1000).max(1),
    }
}

/// Which of `slots` counters `value` counts in.
fn slot(value: &str, slots: u16) -> u16 {
    let hash = signature::sha256(value.as_bytes());
    u16::from_be_bytes([hash[0], hash[1]]) % slots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_only_its_own_period() {
        let mut w = Window::default();
        w.add(7);
        w.add(7);
        assert_eq!(w.count_in(7), 2);
        assert_eq!(w.count_in(8), 0);
        w.add(8);
        assert_eq!(w, Window { index: 8, count: 1 });
    }

    #[test]
    fn the_unverified_count_spans_the_last_hour() {
        let buckets = [
            Window {
                index: 100,
                count: 5,
            },
            Window {
                index: 95,
                count: 7,
            },
            Window {
                index: 94,
                count: 100,
            },
            Window {
                index: 99,
                count: 1,
            },
        ];
        // 100 and 99 and 95 are within six buckets of 100; 94 is not.
        assert_eq!(open_unverified(&buckets, 100), 13);
        assert_eq!(open_unverified(&buckets, 106), 0);
    }

    #[test]
    fn slots_are_bounded_and_stable() {
        assert_eq!(
            slot("203.0.113.9", ADDRESS_SLOTS),
            slot("203.0.113.9", ADDRESS_SLOTS)
        );
        assert!((0..10_000).all(|i| slot(&format!("10.0.{i}"), ORIGIN_SLOTS) < ORIGIN_SLOTS));
    }
}
