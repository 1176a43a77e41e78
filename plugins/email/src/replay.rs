//! Replay protection for Mailgun posts.
//!
//! Mailgun's signature covers only `timestamp` + `token`: it proves Mailgun
//! made that pair, not that the rest of the post is what Mailgun sent. So a
//! captured post could be replayed forever, with any other fields changed.
//! Two checks close that: the timestamp must be within [`WINDOW_SECS`] of
//! now, and a token is accepted once (Mailgun's own advice: "cache the token
//! and deny any subsequent request with the same token").
//!
//! Seen tokens live in the plugin's kv store under a bounded set of keys:
//! `seen/<minute mod 16>/<shard>` holds the tokens of one minute (of their
//! signed timestamp). A slot whose stored minute is older is simply
//! overwritten: anything that old is refused by the window anyway. Tokens
//! are spread over [`SHARDS`] keys per minute so that two posts arriving at
//! the same instant rarely read-modify-write the same key.

use serde::{Deserialize, Serialize};
use switchboard_sdk::{HostError, PluginError, kv, signature};

/// How far a post's timestamp may be from now, either way.
pub const WINDOW_SECS: u64 = 300;
/// Minutes of tokens kept: more than the window spans (2 × 5 minutes).
const SLOTS: u64 = 16;
/// Keys per minute.
const SHARDS: u8 = 16;
/// Mailgun tokens are 50 characters; anything far longer is not one.
const MAX_TOKEN: usize = 256;
/// Tokens per key before the store is considered full (keeps each value
/// well under the host's value limit).
const MAX_PER_KEY: usize = 2_000;

/// The tokens seen in one minute, in one shard.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Seen {
    /// The minute (unix seconds / 60) these tokens' timestamps fall in.
    pub minute: u64,
    /// The tokens.
    pub tokens: Vec<String>,
}

impl Seen {
    /// Records `token` of `minute`; false when it was already there. A
    /// stored set of another minute is stale and starts over.
    pub fn insert(&mut self, minute: u64, token: &str) -> bool {
        if self.minute != minute {
            self.minute = minute;
            self.tokens.clear();
        }
        if self.tokens.iter().any(|t| t == token) {
            return false;
        }
        self.tokens.push(token.to_string());
        true
    }
}

/// The signed timestamp, checked against the window around `now_secs`.
pub fn fresh(timestamp: &str, now_secs: u64) -> Result<u64, PluginError> {
    let ts: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| PluginError::unauthorized("the Mailgun `timestamp` is not a number"))?;
    if ts.abs_diff(now_secs) > WINDOW_SECS {
        return Err(PluginError::unauthorized(format!(
            "the Mailgun `timestamp` is more than {WINDOW_SECS} s from now: a replayed or \
             delayed post (check the server's clock)"
        )));
    }
    Ok(ts)
}

/// The kv key a token of `minute` is recorded under.
pub fn slot_key(minute: u64, token: &str) -> String {
    let shard = signature::sha256(token.as_bytes())[0] % SHARDS;
    format!("seen/{}/{shard}", minute % SLOTS)
}

/// Accepts a token once: refuses one already seen (unauthorized), records a
/// new one. Call after the signature is checked, before anything is kept.
pub fn use_token(token: &str, timestamp: u64) -> Result<(), PluginError> {
    if token.len() > MAX_TOKEN {
        return Err(PluginError::unauthorized("the Mailgun `token` is too long"));
    }
    let minute = timestamp / 60;
    let key = slot_key(minute, token);
    let mut seen: Seen = kv::get_json(&key)
        .map_err(|e| store_error(&e))?
        .unwrap_or_default();
    if !seen.insert(minute, token) {
        return Err(PluginError::unauthorized(
            "this Mailgun token was already used: a replayed post",
        ));
    }
    if seen.tokens.len() > MAX_PER_KEY {
        // Refusing (retryably) beats accepting a post we could not record.
        return Err(PluginError::unavailable(
            "too many mails this minute to record their tokens; retry later",
        ));
    }
    kv::set_json(&key, &seen).map_err(|e| store_error(&e))
}

fn store_error(e: &HostError) -> PluginError {
    PluginError::unavailable(format!("the replay store is unavailable: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let now = 1_800_000_000;
        assert_eq!(fresh("1800000000", now).unwrap(), now);
        assert!(fresh(&(now - WINDOW_SECS).to_string(), now).is_ok());
        assert!(fresh(&(now + WINDOW_SECS).to_string(), now).is_ok());
        assert!(
            fresh(&(now - 3600).to_string(), now).is_err(),
            "an hour old"
        );
        assert!(fresh(&(now + WINDOW_SECS + 1).to_string(), now).is_err());
        assert!(fresh("soon", now).is_err());
        assert!(fresh("99999999999999999999999", now).is_err());
    }

    #[test]
    fn a_token_is_accepted_once_per_minute_set() {
        let mut seen = Seen::default();
        assert!(seen.insert(100, "a"));
        assert!(seen.insert(100, "b"));
        assert!(!seen.insert(100, "a"), "reused");
        // A later minute in the same slot starts over.
        assert!(seen.insert(116, "a"));
        assert_eq!(seen.tokens, ["a"]);
    }

    #[test]
    fn keys_are_bounded() {
        let keys: std::collections::HashSet<String> = (0..10_000u64)
            .map(|i| slot_key(i / 7, &format!("token-{i}")))
            .collect();
        assert!(keys.len() <= (SLOTS as usize) * (SHARDS as usize));
    }
}
