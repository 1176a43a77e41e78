//! Sessions: what the kv store keeps about one visitor's chat, its signing
//! key, and the session secret (see "The session secret" in the crate
//! docs).

use serde::{Deserialize, Serialize};
use switchboard_sdk::{HttpRequest, PluginError, config, kv, now_ms, random_bytes, signature};

use crate::kv_error;

/// The header carrying the session secret.
pub const SECRET_HEADER: &str = "x-webchat-secret";

/// What the kv store keeps about a session (`session/<id>`).
#[derive(Serialize, Deserialize, Default)]
pub struct Session {
    /// When its first message came (unix ms).
    #[serde(default)]
    pub created_at: u64,
    /// Messages accepted so far (numbers the ids of messages without a client id).
    #[serde(default)]
    pub messages: u64,
    /// When its latest message came (unix ms).
    #[serde(default)]
    pub last_at: u64,
}

/// How long a session lasts after its first message, in seconds.
pub fn ttl_secs() -> u64 {
    config::get_or("session_ttl_hours", "24")
        .trim()
        .parse::<u64>()
        .unwrap_or(24)
        .max(1)
        * 3600
}

/// The secret of a session created at `created_at` (unix ms) that lasts
/// `ttl_secs`.
pub fn secret(key: &[u8], session_id: &str, created_at: u64, ttl_secs: u64) -> String {
    let expires = created_at / 1000 + ttl_secs;
    let mac = signature::hmac_sha256(key, format!("{session_id}.{expires}").as_bytes());
    format!("{expires}.{}", signature::to_hex(&mac))
}

/// Checks a session secret against the key (in constant time) and the
/// clock (`now_secs`).
pub fn check_secret(
    key: &[u8],
    session_id: &str,
    secret: &str,
    now_secs: u64,
) -> Result<(), PluginError> {
    let (expires, mac) = secret.trim().split_once('.').unwrap_or(("", ""));
    let expires: u64 = expires.parse().unwrap_or(0);
    let message = format!("{session_id}.{expires}");
    if !signature::verify_hmac_sha256_hex(key, message.as_bytes(), mac) {
        return Err(PluginError::unauthorized("wrong session secret"));
    }
    if now_secs >= expires {
        return Err(PluginError::unauthorized(
            "this session has ended; start a new one",
        ));
    }
    Ok(())
}

/// Checks the request's session secret: the `x-webchat-secret` header only
/// (a query parameter would end up in access logs).
pub fn verify(key: &[u8], session_id: &str, request: &HttpRequest) -> Result<(), PluginError> {
    let Some(secret) = request
        .header(SECRET_HEADER)
        .filter(|s| !s.trim().is_empty())
    else {
        return Err(PluginError::unauthorized(
            "this session needs its secret (x-webchat-secret header)",
        ));
    };
    check_secret(key, session_id, secret, now_ms() / 1000)
}

/// The signing key, if one was generated.
pub fn load_key() -> Result<Option<Vec<u8>>, PluginError> {
    Ok(kv::get("key")
        .map_err(|e| kv_error("reading the key", &e))?
        .filter(|k| !k.is_empty()))
}

/// The signing key, generated (32 random bytes) on first use.
pub fn load_or_create_key() -> Result<Vec<u8>, PluginError> {
    if let Some(key) = load_key()? {
        return Ok(key);
    }
    let key = random_bytes(32);
    if key.len() != 32 {
        return Err(PluginError::internal("no randomness for the session key"));
    }
    kv::set("key", &key).map_err(|e| kv_error("saving the key", &e))?;
    // Two first calls racing: use whichever key was stored last.
    Ok(load_key()?.unwrap_or(key))
}

/// The kv key of a session.
pub fn session_key(session_id: &str) -> String {
    format!("session/{session_id}")
}

/// The kv key of a session's reply log.
pub fn replies_key(session_id: &str) -> String {
    format!("replies/{session_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_secret_works_for_its_session_until_it_expires() {
        let created = 1_800_000_000_000;
        let secret = secret(KEY, "wc-1", created, 3600);
        let start = created / 1000;
        assert!(check_secret(KEY, "wc-1", &secret, start).is_ok());
        assert!(check_secret(KEY, "wc-1", &secret, start + 3599).is_ok());
        let expired = check_secret(KEY, "wc-1", &secret, start + 3600).unwrap_err();
        assert!(expired.message.contains("ended"), "{}", expired.message);
        // Not for another session, key or a moved expiry.
        assert!(check_secret(KEY, "wc-2", &secret, start).is_err());
        assert!(check_secret(b"another key", "wc-1", &secret, start).is_err());
        let (_, mac) = secret.split_once('.').unwrap();
        let later = format!("{}.{mac}", start + 999_999);
        assert!(check_secret(KEY, "wc-1", &later, start + 7200).is_err());
        for junk in ["", ".", "abc", "1.", ".00", "99999999999999999999999.00"] {
            assert!(check_secret(KEY, "wc-1", junk, start).is_err(), "{junk:?}");
        }
    }
}
