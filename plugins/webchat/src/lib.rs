//! Web chat: the website widget channel.
//!
//! A small dependency-free JavaScript widget (served by this plugin) lets a
//! visitor chat from any page that embeds it:
//!
//! ```html
//! <script src="https://cc.example.com/webhooks/webchat/widget.js"></script>
//! ```
//!
//! # Endpoints (under `/webhooks/webchat`)
//!
//! | method and path | what |
//! |---|---|
//! | `POST /webhooks/webchat` | a visitor message (JSON, below) |
//! | `GET /webhooks/webchat/messages?session_id=…&after=<seq>` | the agent replies of one session after `seq` |
//! | `GET /webhooks/webchat/widget.js` | the widget (`application/javascript`) |
//! | `GET /webhooks/webchat`, `GET /webhooks/webchat/demo` | a demo page embedding the widget |
//! | `OPTIONS` on any of them | CORS preflight (`204`) |
//!
//! Any other path is `404`; another method on a known path is `405`.
//!
//! A message:
//!
//! ```json
//! {"session_id": "wc-7f3a9c", "text": "Hello",
//!  "visitor": {"name": "Sheena", "email": "sheena@example.com", "phone": "+1 650-555-1234",
//!              "identifier_hash": "…"},
//!  "id": "m-1"}
//! ```
//!
//! `session_id` is 1–128 characters of `[A-Za-z0-9_-]`; `text` is required,
//! non-empty once trimmed and at most 4000 characters; `visitor` (the
//! optional pre-chat form) and `id` (a client message id of 1–128 characters
//! of `[A-Za-z0-9_.:-]`, which makes retries idempotent) are optional.
//! Anything else is answered `400`. The answer is
//! `{"session_id", "secret", "message_id"}`.
//!
//! The message becomes one inbound message: thread key = session id;
//! identities = the handle `webchat:<session_id>` (first, so replies go back
//! to the session; verified: only the session's holder can post to it),
//! then the visitor's email and phone when given — *claimed*: anyone can type
//! anyone's email into a form, so they never link the visitor to an
//! existing customer (the host gives the visitor a profile of its own, shown
//! as "claims to be …, unverified"); display
//! name = the visitor's name; metadata `session_id` and, when the request
//! came from a browser, `origin`.
//!
//! # Identity verification
//!
//! A website that knows who its signed-in visitor is vouches for them as
//! Chatwoot and Intercom do: its backend computes `identifier_hash` = hex
//! `HMAC-SHA256(identity_secret, identifier)`, where the identifier is the
//! visitor's email as sent (or, without an email, the phone as sent), and
//! the page passes it in `visitor`. With config `identity_secret` set and a
//! matching hash, the email and phone are *verified*: the visitor is linked
//! to the customer they belong to. A missing or wrong hash leaves them
//! claimed. The secret stays on the website's server; never put it in a
//! page.
//!
//! The provider message id is
//! `<session_id>:c:<id>` when the client sent an `id`, else
//! `<session_id>:<n>` from a per-session counter.
//!
//! # The session secret
//!
//! The secret of a session is hex `HMAC-SHA256(key, session_id)`, where `key`
//! is 32 random bytes the plugin generates on first use and keeps in its kv
//! store (`key`). A session is created by its first message (kv
//! `session/<id>`); every later message of that session, and every read of its
//! replies, must carry the secret in the `x-webchat-secret` header (or the
//! `secret` query parameter), checked in constant time, or it is refused
//! with `401` and nothing is stored. So a session id alone never lets anyone
//! post into or read someone else's chat.
//!
//! # Replies
//!
//! `deliver` appends an agent reply `{seq, id, text, at, author: "agent"}` to
//! the session's reply log (kv `replies/<session_id>`, the last 500 replies
//! and at most ~900 KB) and returns the host's message id as the provider
//! message id. The widget reads `GET /messages?after=<seq>&wait=1`: with
//! nothing new, the plugin asks the host to hold the request (header
//! `x-switchboard-long-poll`) until a reply of this channel is delivered or
//! 25 s pass, then answers again. The answer is `{"messages": [...], "next": <last seq>}` and every returned
//! reply (and every reply of the last 30 s the client already had) is
//! reported to the host as `delivered`, so agents see it arrive. Replies
//! without text (attachments only), calls and unknown sessions are refused
//! permanently.
//!
//! # CORS
//!
//! Config `allowed_origins` (a TOML array or a comma-separated string) lists
//! the origins (`scheme://host[:port]`, exact match, or `*` for any) whose
//! pages may call these endpoints. A request with an `Origin` header that is
//! listed, or that is the host's own origin (its `Host`), gets
//! `access-control-allow-origin: <origin>` and the allowed headers and
//! methods; any other origin is refused with `403` and nothing is stored.
//! Requests without `Origin` (servers, curl, a plain `<script>` tag) are
//! allowed.
//!
//! Every call runs in a fresh sandbox instance, so all state lives in the
//! plugin's kv store (`kv = true`).

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_sdk::{
    Channel, ChannelEvent, ChannelInfo, ChannelKind, Delivery, DeliveryError, DeliveryStatus,
    ErrorKind, HostError, HttpRequest, HttpResponse, Identity, InboundMessage, OutboundAction,
    PluginError, StatusUpdate, WebhookOutcome, config, kv, now_ms, random_bytes, signature,
    webhook,
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

/// The widget script.
const WIDGET_JS: &str = include_str!("widget.js");
/// The demo page; `{{BASE}}` is replaced with the endpoint path.
const DEMO_HTML: &str = include_str!("demo.html");

/// The channel name in the visitor's handle identity.
const HANDLE_CHANNEL: &str = "webchat";
/// The header carrying the session secret.
const SECRET_HEADER: &str = "x-webchat-secret";
/// Longest session id and client message id, in characters.
const MAX_ID_LEN: usize = 128;
/// Longest message text, in characters.
const MAX_TEXT_CHARS: usize = 4000;
/// Longest visitor name kept, in characters.
const MAX_NAME_CHARS: usize = 120;
/// Replies kept per session.
const MAX_REPLIES: usize = 500;
/// Largest serialized reply log (kv values are at most 1 MiB).
const MAX_LOG_BYTES: usize = 900 * 1024;

/// How long after a reply a poll keeps reporting it delivered, ms.
const RECENT_MS: u64 = 30_000;

const ALLOW_HEADERS: &str = "content-type, x-webchat-secret";
const ALLOW_METHODS: &str = "GET, POST, OPTIONS";

struct WebChat;

/// A visitor message as the widget posts it.
#[derive(Deserialize)]
struct Post {
    session_id: Option<String>,
    #[serde(default)]
    visitor: Option<Visitor>,
    text: Option<String>,
    #[serde(default)]
    id: Option<Value>,
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

/// What the kv store keeps about a session (`session/<id>`).
#[derive(Serialize, Deserialize, Default)]
struct Session {
    #[serde(default)]
    created_at: u64,
    /// Messages accepted so far (numbers the ids of messages without a client id).
    #[serde(default)]
    messages: u64,
    #[serde(default)]
    last_at: u64,
}

/// One agent reply in a session's log (`replies/<id>`).
#[derive(Serialize, Deserialize, Clone)]
struct Reply {
    seq: u64,
    id: String,
    text: String,
    at: u64,
    author: String,
}

/// The CORS verdict for one request.
enum Cors {
    /// No `Origin` header: not a cross-origin browser request.
    None,
    /// An allowed origin, echoed back.
    Allow(String),
}

impl Cors {
    fn check(request: &HttpRequest) -> Result<Cors, PluginError> {
        let Some(origin) = request.header("origin").map(str::trim) else {
            return Ok(Cors::None);
        };
        if origin_allowed(origin, request) {
            Ok(Cors::Allow(origin.to_string()))
        } else {
            Err(PluginError::forbidden(format!(
                "origin `{}` is not allowed to use web chat",
                origin.chars().take(200).collect::<String>()
            )))
        }
    }

    fn apply(&self, mut response: HttpResponse) -> HttpResponse {
        response = response.header("vary", "origin");
        if let Cors::Allow(origin) = self {
            response = response
                .header("access-control-allow-origin", origin.clone())
                .header("access-control-allow-headers", ALLOW_HEADERS)
                .header("access-control-allow-methods", ALLOW_METHODS)
                .header("access-control-max-age", "600");
        }
        response
    }

    fn origin(&self) -> Option<&str> {
        match self {
            Cors::None => None,
            Cors::Allow(o) => Some(o),
        }
    }
}

/// Whether a browser origin may call the endpoints: listed in
/// `allowed_origins` (or `*` is), or the host's own origin.
fn origin_allowed(origin: &str, request: &HttpRequest) -> bool {
    let listed = config::list("allowed_origins").iter().any(|allowed| {
        let allowed = allowed.trim().trim_end_matches('/');
        allowed == "*" || allowed.eq_ignore_ascii_case(origin)
    });
    listed || same_origin(origin, request)
}

/// Whether `origin` names the host the request was sent to (a page served
/// by the host itself, such as the demo page: browsers send `Origin` on
/// same-origin POSTs too).
fn same_origin(origin: &str, request: &HttpRequest) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    if !matches!(scheme, "http" | "https") || authority.is_empty() {
        return false;
    }
    ["host", "x-forwarded-host"]
        .iter()
        .filter_map(|h| request.header(h))
        .filter_map(|v| v.split(',').next())
        .any(|host| host.trim().eq_ignore_ascii_case(authority))
}

impl Channel for WebChat {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Chat,
            display_name: "Web chat".into(),
            supports_attachments: false,
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        let cors = Cors::check(&request)?;
        match route(&request, &cors) {
            Ok(outcome) => Ok(WebhookOutcome::respond(
                cors.apply(outcome.response),
                outcome.events,
            )),
            // A browser can only read an error that carries CORS headers:
            // answer client errors ourselves (still storing nothing).
            Err(e) if matches!(cors, Cors::Allow(_)) && is_client_error(e.kind) => Ok(
                WebhookOutcome::respond(cors.apply(error_response(&e)), Vec::new()),
            ),
            Err(e) => Err(e),
        }
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        let OutboundAction::Message(m) = action else {
            return Err(DeliveryError::permanent("web chat carries no calls"));
        };
        let session_id = match &m.to {
            Identity::Handle(h) if valid_id(&h.value, false) => h.value.clone(),
            _ => m.thread_key.clone(),
        };
        if !valid_id(&session_id, false) {
            return Err(DeliveryError::permanent(
                "the recipient is not a web chat session",
            ));
        }
        if m.text.trim().is_empty() {
            return Err(DeliveryError::permanent(if m.attachments.is_empty() {
                "nothing to send: the reply is empty"
            } else {
                "web chat does not support attachments"
            }));
        }
        if !m.attachments.is_empty() {
            switchboard_sdk::log::warn(format!(
                "message {}: attachments dropped, web chat carries text only",
                m.message_id
            ));
        }
        let session: Option<Session> = kv::get_json(&session_key(&session_id))
            .map_err(|e| DeliveryError::retryable(host_error("reading the session", &e)))?;
        if session.is_none() {
            return Err(DeliveryError::permanent(format!(
                "unknown web chat session `{session_id}`"
            )));
        }
        let key = replies_key(&session_id);
        let mut replies: Vec<Reply> = kv::get_json(&key)
            .map_err(|e| DeliveryError::retryable(host_error("reading the replies", &e)))?
            .unwrap_or_default();
        // A retry after a delivery whose outcome the host did not record.
        if replies.iter().any(|r| r.id == m.message_id) {
            return Ok(Delivery {
                provider_message_id: Some(m.message_id),
            });
        }
        let seq = replies.last().map_or(1, |r| r.seq.saturating_add(1));
        replies.push(Reply {
            seq,
            id: m.message_id.clone(),
            text: m.text,
            at: now_ms(),
            author: "agent".into(),
        });
        let bytes = cap_log(&mut replies)
            .ok_or_else(|| DeliveryError::permanent("the reply is too large for web chat"))?;
        kv::set(&key, &bytes)
            .map_err(|e| DeliveryError::retryable(host_error("saving the reply", &e)))?;
        Ok(Delivery {
            provider_message_id: Some(m.message_id),
        })
    }
}

/// Dispatches one request by subpath and method.
fn route(request: &HttpRequest, cors: &Cors) -> Result<WebhookOutcome, PluginError> {
    let subpath = request.subpath();
    let known = matches!(subpath, "/" | "/messages" | "/widget.js" | "/demo");
    if !known {
        return Err(PluginError::not_found(
            "no such web chat endpoint".to_string(),
        ));
    }
    let respond = |response| Ok(WebhookOutcome::respond(response, Vec::new()));
    match (request.method.as_str(), subpath) {
        ("OPTIONS", _) => respond(HttpResponse::empty(204).header("allow", ALLOW_METHODS)),
        ("POST", "/") => post_message(request, cors),
        ("GET", "/messages") => read_replies(request),
        ("GET" | "HEAD", "/widget.js") => respond(
            HttpResponse::with_body(200, "application/javascript; charset=utf-8", WIDGET_JS)
                .header("cache-control", "public, max-age=300")
                .header("x-content-type-options", "nosniff"),
        ),
        ("GET" | "HEAD", "/" | "/demo") => respond(demo_page(request)),
        _ => respond(
            HttpResponse::json(
                405,
                &json!({"error": {
                    "code": "method_not_allowed",
                    "message": format!("method {} is not allowed here", request.method),
                }}),
            )
            .header("allow", ALLOW_METHODS),
        ),
    }
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
    Ok(VisitorMessage {
        session_id,
        text,
        client_id,
        name,
        email,
        phone,
        identifier_hash,
    })
}

/// `POST /webhooks/webchat`: one visitor message.
fn post_message(request: &HttpRequest, cors: &Cors) -> Result<WebhookOutcome, PluginError> {
    let VisitorMessage {
        session_id,
        text,
        client_id,
        name,
        email,
        phone,
        identifier_hash,
    } = parse_post(&request.body)?;

    // Authenticate before writing anything.
    let session_key = session_key(&session_id);
    let existing: Option<Session> =
        kv::get_json(&session_key).map_err(|e| kv_error("reading the session", &e))?;
    let key = if existing.is_some() {
        let key = load_key()?.ok_or_else(|| PluginError::unauthorized("wrong session secret"))?;
        verify_secret(&key, &session_id, request)?;
        key
    } else {
        load_or_create_key()?
    };
    let now = now_ms();
    let mut session = existing.unwrap_or(Session {
        created_at: now,
        ..Session::default()
    });
    session.messages = session.messages.saturating_add(1);
    session.last_at = now;
    kv::set_json(&session_key, &session).map_err(|e| kv_error("saving the session", &e))?;

    let message_id = match &client_id {
        Some(id) => format!("{session_id}:c:{id}"),
        None => format!("{session_id}:{}", session.messages),
    };
    let vouched = vouched_for(
        email.as_deref().or(phone.as_deref()),
        identifier_hash.as_deref(),
    );
    let attest = |identity: Identity| {
        if vouched {
            identity.verified()
        } else {
            identity.claimed()
        }
    };
    let mut identities = vec![Identity::handle(HANDLE_CHANNEL, session_id.clone()).verified()];
    identities.extend(email.map(|e| attest(Identity::email(e))));
    identities.extend(phone.map(|p| attest(Identity::phone(p))));
    let mut metadata = vec![("session_id".to_string(), session_id.clone())];
    if let Some(origin) = cors.origin() {
        metadata.push(("origin".into(), origin.to_string()));
    }
    let event = ChannelEvent::Message(InboundMessage {
        provider_message_id: message_id.clone(),
        thread_key: session_id.clone(),
        identities,
        display_name: name,
        text,
        attachments: Vec::new(),
        sent_at: None,
        metadata,
    });
    let secret = signature::to_hex(&signature::hmac_sha256(&key, session_id.as_bytes()));
    let body = json!({
        "session_id": session_id,
        "secret": secret,
        "message_id": message_id,
    });
    Ok(WebhookOutcome::respond(
        HttpResponse::json(200, &body).header("cache-control", "no-store"),
        vec![event],
    ))
}

/// Asks the host to hold a read that found nothing (see the host's webhook
/// long-poll), for this long.
const LONG_POLL_HEADER: &str = "x-switchboard-long-poll";
const LONG_POLL_MS: u64 = 25_000;

/// `GET /webhooks/webchat/messages`: the agent replies after `after`; with
/// `wait=1` and nothing new, held by the host until a reply arrives (or
/// 25 s).
fn read_replies(request: &HttpRequest) -> Result<WebhookOutcome, PluginError> {
    let session_id = request
        .query_param("session_id")
        .ok_or_else(|| PluginError::bad_request("`session_id` is required"))?;
    if !valid_id(&session_id, false) {
        return Err(PluginError::bad_request(
            "`session_id` must be 1-128 characters of A-Z, a-z, 0-9, `_` and `-`",
        ));
    }
    let after = match request.query_param("after") {
        None => 0,
        Some(a) if a.is_empty() => 0,
        Some(a) => a
            .parse::<u64>()
            .map_err(|_| PluginError::bad_request("`after` must be a sequence number"))?,
    };
    let key = load_key()?.ok_or_else(|| PluginError::unauthorized("wrong session secret"))?;
    verify_secret(&key, &session_id, request)?;

    let replies: Vec<Reply> = kv::get_json(&replies_key(&session_id))
        .map_err(|e| kv_error("reading the replies", &e))?
        .unwrap_or_default();
    let fresh: Vec<&Reply> = replies.iter().filter(|r| r.seq > after).collect();
    let next = fresh.last().map_or(after, |r| r.seq);
    let now = now_ms();
    // Every reply returned now is delivered; so is every recent one the
    // client already had (`seq <= after`): reporting it again costs nothing
    // and covers a fetch that raced the host recording the reply as sent.
    let events = replies
        .iter()
        .filter(|r| r.seq <= next && (r.seq > after || now.saturating_sub(r.at) < RECENT_MS))
        .map(|r| {
            ChannelEvent::Status(StatusUpdate {
                provider_message_id: r.id.clone(),
                status: DeliveryStatus::Delivered,
                error: None,
                at: Some(now),
            })
        })
        .collect();
    let body = json!({ "messages": fresh, "next": next });
    let mut response = HttpResponse::json(200, &body).header("cache-control", "no-store");
    // Nothing new and the client is willing to wait: the host holds the
    // request until a reply of this channel is delivered, then asks again.
    let wait = request
        .query_param("wait")
        .is_some_and(|w| matches!(w.as_str(), "1" | "true"));
    if fresh.is_empty() && wait {
        response = response.header(LONG_POLL_HEADER, LONG_POLL_MS.to_string());
    }
    Ok(WebhookOutcome::respond(response, events))
}

/// The demo page, pointing at this plugin's own endpoint path.
fn demo_page(request: &HttpRequest) -> HttpResponse {
    let path = request.path();
    let subpath = request.subpath();
    let base = path
        .strip_suffix(subpath)
        .unwrap_or(path)
        .trim_end_matches('/');
    let base = if base.is_empty() {
        "/webhooks/webchat"
    } else {
        base
    };
    HttpResponse::with_body(
        200,
        "text/html; charset=utf-8",
        DEMO_HTML.replace("{{BASE}}", &escape_html(base)),
    )
    .header(
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    )
    .header("x-content-type-options", "nosniff")
    .header("cache-control", "no-cache")
}

/// Whether the website vouched for the visitor: `identifier_hash` is the
/// HMAC-SHA256 of the identifier under the configured `identity_secret`
/// (checked in constant time). Never without a secret.
fn vouched_for(identifier: Option<&str>, identifier_hash: Option<&str>) -> bool {
    let secret = config::get_or("identity_secret", "");
    match (identifier, identifier_hash) {
        (Some(identifier), Some(hash)) if !secret.is_empty() => {
            signature::verify_hmac_sha256_hex(secret.as_bytes(), identifier.as_bytes(), hash.trim())
        }
        _ => false,
    }
}

/// Checks the session secret (header, else `secret` query parameter) in
/// constant time.
fn verify_secret(key: &[u8], session_id: &str, request: &HttpRequest) -> Result<(), PluginError> {
    let secret = match request.header(SECRET_HEADER) {
        Some(s) => Some(s.to_string()),
        None => request.query_param("secret"),
    };
    let Some(secret) = secret.filter(|s| !s.trim().is_empty()) else {
        return Err(PluginError::unauthorized(
            "this session needs its secret (x-webchat-secret)",
        ));
    };
    if signature::verify_hmac_sha256_hex(key, session_id.as_bytes(), &secret) {
        Ok(())
    } else {
        Err(PluginError::unauthorized("wrong session secret"))
    }
}

/// The signing key, if one was generated.
fn load_key() -> Result<Option<Vec<u8>>, PluginError> {
    Ok(kv::get("key")
        .map_err(|e| kv_error("reading the key", &e))?
        .filter(|k| !k.is_empty()))
}

/// The signing key, generated (32 random bytes) on first use.
fn load_or_create_key() -> Result<Vec<u8>, PluginError> {
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

/// Trims the reply log to its caps and serializes it; `None` when even the
/// newest reply alone is too large.
fn cap_log(replies: &mut Vec<Reply>) -> Option<Vec<u8>> {
    if replies.len() > MAX_REPLIES {
        let excess = replies.len() - MAX_REPLIES;
        replies.drain(..excess);
    }
    let mut bytes = serde_json::to_vec(&*replies).ok()?;
    if bytes.len() > MAX_LOG_BYTES {
        let mut size = bytes.len();
        let mut drop = 0;
        while size > MAX_LOG_BYTES && drop + 1 < replies.len() {
            size =
                size.saturating_sub(serde_json::to_vec(&replies[drop]).map_or(0, |b| b.len() + 1));
            drop += 1;
        }
        replies.drain(..drop);
        bytes = serde_json::to_vec(&*replies).ok()?;
        if bytes.len() > MAX_LOG_BYTES {
            return None;
        }
    }
    Some(bytes)
}

fn session_key(session_id: &str) -> String {
    format!("session/{session_id}")
}

fn replies_key(session_id: &str) -> String {
    format!("replies/{session_id}")
}

/// A session id (`[A-Za-z0-9_-]`) or, with `client`, a client message id
/// (also `.` and `:`), 1–128 characters.
fn valid_id(id: &str, client: bool) -> bool {
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

fn is_client_error(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::BadRequest
            | ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
    )
}

/// An error in the host's JSON shape, for responses we build ourselves.
fn error_response(e: &PluginError) -> HttpResponse {
    let status = e.kind.http_status();
    HttpResponse::json(
        status,
        &json!({"error": {"code": "plugin_error", "message": e.message}}),
    )
}

fn host_error(what: &str, e: &HostError) -> String {
    let detail = match e {
        HostError::Denied(m) | HostError::Invalid(m) | HostError::Unavailable(m) => m,
    };
    format!("{what}: {detail}")
}

fn kv_error(what: &str, e: &HostError) -> PluginError {
    match e {
        HostError::Unavailable(_) => PluginError::unavailable(host_error(what, e)),
        _ => PluginError::internal(host_error(what, e)),
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(WebChat);
