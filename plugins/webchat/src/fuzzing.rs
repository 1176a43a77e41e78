//! The property of the visitor-message parser, checked by the fuzz target
//! `webchat_post` (`fuzz/`) and, for a bounded time, by `cargo test`.

use arbitrary::{Result, Unstructured};
use serde_json::Value;
use switchboard_sdk::fuzzing::{assert_client_error, object, word};

use crate::post::{MAX_NAME_CHARS, MAX_TEXT_CHARS, parse_post, valid_id};

/// The fields of a visitor message.
const KEYS: &[&str] = &[
    "session_id",
    "text",
    "visitor",
    "id",
    "name",
    "email",
    "phone",
    "identifier_hash",
];

/// Values a widget sends, valid and not.
const WORDS: &[&str] = &[
    "wc-7f3a9c",
    "Hello",
    "  ",
    "",
    "sheena@example.com",
    "a@b",
    "@b.c",
    "x@.c",
    "+1 650-555-1234",
    "12345",
    "1234567890123456",
    "m-1",
    "m:1.2",
    "a/b",
    "Sheena",
];

/// A body: a visitor message with arbitrary fields and values, or
/// arbitrary bytes.
fn body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    if u.ratio(1, 5)? {
        return u.arbitrary();
    }
    let mut post = object(u, KEYS, WORDS, 2)?;
    if let Value::Object(map) = &mut post {
        for key in ["session_id", "text"] {
            if u.ratio(4, 5)? {
                map.insert(key.into(), Value::String(word(u, WORDS)?));
            }
        }
        if u.ratio(1, 2)? {
            map.insert("visitor".into(), object(u, KEYS, WORDS, 0)?);
        }
    }
    Ok(serde_json::to_vec(&post).expect("a JSON value serializes"))
}

/// Any body becomes a visitor message that follows the documented rules,
/// or a client error.
pub fn post(u: &mut Unstructured<'_>) -> Result<()> {
    let m = match parse_post(&body(u)?) {
        Ok(m) => m,
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    assert!(valid_id(&m.session_id, false));
    assert!(!m.text.is_empty() && m.text.trim() == m.text);
    assert!(m.text.chars().count() <= MAX_TEXT_CHARS);
    if let Some(id) = &m.client_id {
        assert!(valid_id(id, true) || id.parse::<serde_json::Number>().is_ok());
    }
    if let Some(name) = &m.name {
        assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
    }
    for typed in [&m.email, &m.phone].into_iter().flatten() {
        assert!(!typed.is_empty() && typed.trim() == typed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;
    use switchboard_sdk::fuzzing::test_budget_ms;

    use super::*;

    #[test]
    fn visitor_messages_parse_or_fail_cleanly() {
        arbtest(post).budget_ms(test_budget_ms());
    }
}
