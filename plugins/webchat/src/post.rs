//! The visitor message: what `POST /webhooks/webchat` may carry, parsed
//! and checked without host calls (so it also runs natively: tests,
//! fuzzing).

use serde::Deserialize;
use serde_json::Value;
use switchboard_sdk::{PluginError, webhook};

/// Longest session id and client message id, in characters.
const MAX_ID_LEN: usize = 128;
/// Longest message text, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 4000;
/// Longest visitor name kept, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 120;
/// Longest consent text kept, in characters.
const MAX_CONSENT_CHARS: usize = 300;

/// A visitor message as the widget posts it.
#[derive(Deserialize)]
struct Post {
    session_id: Option<String>,
    #[serde(default)]
    visitor: Option<Visitor>,
    text: Option<String>,
    #[serde(default)]
    id: Option<Value>,
    /// The visitor ticked the site's consent box (`data-consent`).
    #[serde(default)]
    consent: Option<bool>,
    /// What the box said.
    #[serde(default)]
    consent_text: Option<String>,
}

/// The optional pre-chat form.
#[derive(Deserialize, Default)]
struct Visitor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    /// The website's proof of who the visitor is (see "Identity
    /// verification").
    #[serde(default)]
    identifier_hash: Option<String>,
}

/// A visitor message as posted, checked against the rules above.
pub struct VisitorMessage {
    /// The session (1-128 of `[A-Za-z0-9_-]`).
    pub session_id: String,
    /// The text, trimmed, non-empty, at most 4000 characters.
    pub text: String,
    /// The client's message id, when it sent one.
    pub client_id: Option<String>,
    /// The visitor's name, trimmed and cut to 120 characters.
    pub name: Option<String>,
    /// The email the visitor typed, trimmed.
    pub email: Option<String>,
    /// The phone the visitor typed, trimmed.
    pub phone: Option<String>,
    /// The website's `identifier_hash`, unchecked.
    pub identifier_hash: Option<String>,
    /// The text of the consent the visitor gave in the widget, when she
    /// gave it (`consent: true`; the text trimmed, cut to 300 characters,
    /// possibly empty).
    pub consent: Option<String>,
}

/// Parses and checks the body of `POST /webhooks/webchat`; anything that
/// breaks the rules is a `bad-request` error. Makes no host calls, so it
/// also runs natively (tests, fuzzing).
pub fn parse_post(body: &[u8]) -> Result<VisitorMessage, PluginError> {
    let post: Post = webhook::parse_json(body)?;
    let session_id = post
        .session_id
        .ok_or_else(|| PluginError::bad_request("`session_id` is required"))?;
    if !valid_id(&session_id, false) {
        return Err(PluginError::bad_request(
            "`session_id` must be 1-128 characters of A-Z, a-z, 0-9, `_` and `-`",
        ));
    }
    let text = post
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PluginError::bad_request("`text` is required and must not be empty"))?
        .to_string();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(PluginError::bad_request(format!(
            "`text` is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    let client_id = match post.id {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if valid_id(&s, true) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(PluginError::bad_request(
                "`id` must be 1-128 characters of A-Z, a-z, 0-9, `_`, `.`, `:` and `-`",
            ));
        }
    };
    let visitor = post.visitor.unwrap_or_default();
    let identifier_hash = visitor.identifier_hash.clone();
    let name = clean(visitor.name).map(|n| n.chars().take(MAX_NAME_CHARS).collect::<String>());
    let email = clean(visitor.email);
    if let Some(e) = &email
        && !plausible_email(e)
    {
        return Err(PluginError::bad_request(
            "`visitor.email` is not an email address",
        ));
    }
    let phone = clean(visitor.phone);
    if let Some(p) = &phone
        && !plausible_phone(p)
    {
        return Err(PluginError::bad_request(
            "`visitor.phone` is not a phone number",
        ));
    }
    let consent = (post.consent == Some(true)).then(|| {
        post.consent_text
            .unwrap_or_default()
            .trim()
            .chars()
            .take(MAX_CONSENT_CHARS)
            .collect()
    });
    Ok(VisitorMessage {
        session_id,
        text,
        client_id,
        name,
        email,
        phone,
        identifier_hash,
        consent,
    })
}

/// A session id (`[A-Za-z0-9_-]`) or, with `client`, a client message id
/// (also `.` and `:`), 1–128 characters.
pub(crate) fn valid_id(id: &str, client: bool) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b == b'-'
                || b == b'_'
                || (client && matches!(b, b'.' | b':'))
        })
}

/// A trimmed, non-empty form value.
fn clean(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A loose check (the host normalizes): one `@` between non-empty parts, no
/// spaces or controls, a dotted domain.
fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// A loose check (the host parses it properly): digits and the usual
/// separators, 6–15 digits.
fn plausible_phone(phone: &str) -> bool {
    let digits = phone.bytes().filter(u8::is_ascii_digit).count();
    phone.len() <= 32
        && (6..=15).contains(&digits)
        && phone
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b' '))
}
