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
//!  "id": "m-1", "consent": true, "consent_text": "I agree that this chat is stored."}
//! ```
//!
//! `session_id` is 1–128 characters of `[A-Za-z0-9_-]`; `text` is required,
//! non-empty once trimmed and at most 4000 characters; `visitor` (the
//! optional pre-chat form) and `id` (a client message id of 1–128 characters
//! of `[A-Za-z0-9_.:-]`, which makes retries idempotent) are optional, and
//! so are `consent` (`true` when the visitor ticked the site's consent box)
//! and `consent_text` (what it said), which the host records on her profile
//! (metadata `switchboard-consent: granted` and `switchboard-consent-text`).
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
//! The secret of a session is `<expires>.<mac>`: `expires` the unix second
//! the session ends (`session_ttl_hours` after its first message, default
//! 24), `mac` hex `HMAC-SHA256(key, "<session_id>.<expires>")`, where `key`
//! is 32 random bytes the plugin generates on first use and keeps in its kv
//! store (`key`). A session is created by its first message (kv
//! `session/<id>`); every later message of that session, and every read of its
//! replies, must carry the secret in the `x-webchat-secret` header — only
//! there: a query parameter ends up in access logs — checked in constant
//! time, or it is refused with `401` and nothing is stored. So a session id
//! alone never lets anyone post into or read someone else's chat, and a
//! leaked secret stops working when its session ends (the widget then starts
//! a new one).
//!
//! # Floods
//!
//! Starting a session is limited, so that nobody can fill the queue with
//! anonymous chats: per client address (the host's `x-switchboard-client-ip`:
//! the peer, or what a trusted reverse proxy forwarded) at most
//! `new_sessions_per_address_per_minute` (default 10), per browser origin at
//! most `new_sessions_per_origin_per_minute` (default 60), and at most
//! `max_unverified_sessions_per_hour` (default 1000) sessions whose visitor
//! is not vouched for started in the last hour. Past a limit, a first
//! message is answered `429` with `Retry-After` and nothing is stored.
//! Messages of existing sessions are never limited by it; 0 turns a limit
//! off.
//!
//! # Replies
//!
//! `deliver` appends an agent reply `{seq, id, text, at, author: "agent"}` to
//! the session's reply log (kv `replies/<session_id>`, the last 500 replies
//! and at most ~900 KB) and returns the host's message id as the provider
//! message id. The widget reads `GET /messages?after=<seq>&wait=1&closed=<0|1>&place=<n>`:
//! with nothing new, the plugin asks the host to hold the request (header
//! `x-switchboard-long-poll`) until something happens in the session or
//! `long_poll_seconds` (default 25) pass, then answers again. The answer is
//! `{"messages": [...], "next": <last seq>, "agents_available": <n>, "queue": {"position",
//! "wait_ms"} | null, "closed": <bool>}`: how many agents could take a chat now (the widget
//! shows an away notice at 0), where the chat waits for an agent and about how long (the
//! widget shows "You are number 2 in the queue · about 4 minutes"), and whether the conversation was closed by an agent or the bot (the
//! widget says so; the visitor's next message starts a new one; a read
//! whose `closed` differs is answered at once, and so is one whose `place` (when given) — the
//! queue position the widget shows, 0 for none — is no longer right: a visitor who writes again
//! while waiting sees her place at once, and a held read brings the new one when it ends). Each reply carries the
//! agent's `name` when the host gave it. Every returned
//! reply (and every reply of the last 30 s the client already had) is
//! reported to the host as `delivered`, so agents see it arrive. Files an
//! agent sends are listed in the reply (`files`) and downloaded from `GET
//! /files` with the session secret. Empty replies, calls and unknown
//! sessions are refused permanently.
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
use serde_json::json;
use switchboard_sdk::{
    Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery, DeliveryError,
    DeliveryStatus, ErrorKind, HostError, HttpRequest, HttpResponse, Identity, InboundMessage,
    OutboundAction, PluginError, StatusUpdate, WebhookOutcome, config, kv, now_ms, signature,
};

mod cors;
mod flood;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod post;
mod session;

use cors::{ALLOW_METHODS, Cors};
use post::valid_id;
pub use post::{VisitorMessage, parse_post};
use session::{Session, load_key, load_or_create_key, replies_key, session_key};

/// The widget script.
const WIDGET_JS: &str = include_str!("widget.js");
/// The demo page; `{{BASE}}` is replaced with the endpoint path.
const DEMO_HTML: &str = include_str!("demo.html");

/// The channel name in the visitor's handle identity.
const HANDLE_CHANNEL: &str = "webchat";
/// Replies kept per session.
const MAX_REPLIES: usize = 500;
/// Largest serialized reply log (kv values are at most 1 MiB).
const MAX_LOG_BYTES: usize = 900 * 1024;

/// How long after a reply a poll keeps reporting it delivered, ms.
const RECENT_MS: u64 = 30_000;

struct WebChat;

/// One agent reply in a session's log (`replies/<id>`).
#[derive(Serialize, Deserialize, Clone)]
struct Reply {
    seq: u64,
    id: String,
    text: String,
    at: u64,
    author: String,
    /// The agent's display name, when the host gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// Files the agent sent with it; the visitor downloads each from
    /// `GET /files?session_id=…&reply=<id>&n=<index>` with the session
    /// secret.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<ReplyFile>,
    /// The survey this reply asks (`csat`, `nps`, `ces`): the widget shows
    /// a rating whose click sends the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    survey: Option<String>,
}

/// A file in a reply. The host's link stays in the plugin's store: the
/// visitor is shown the rest ([`Reply::view`]).
#[derive(Serialize, Deserialize, Clone)]
struct ReplyFile {
    name: String,
    content_type: String,
    size: Option<u64>,
    link: String,
}

impl Reply {
    /// The reply as the visitor's widget gets it.
    fn view(&self) -> serde_json::Value {
        let mut view = json!({
            "seq": self.seq,
            "id": self.id,
            "text": self.text,
            "at": self.at,
            "author": self.author,
        });
        if let Some(name) = &self.name {
            view["name"] = name.as_str().into();
        }
        if let Some(survey) = &self.survey {
            view["survey"] = survey.as_str().into();
        }
        if !self.files.is_empty() {
            view["files"] = self
                .files
                .iter()
                .map(|f| json!({"name": f.name, "content_type": f.content_type, "size": f.size}))
                .collect();
        }
        view
    }
}

impl Channel for WebChat {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Chat,
            display_name: "Web chat".into(),
            supports_attachments: true,
            rules: ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                // A visitor is reached only while the widget is open.
                can_start: false,
            },
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
        if m.text.trim().is_empty() && m.attachments.is_empty() {
            return Err(DeliveryError::permanent(
                "nothing to send: the reply is empty",
            ));
        }
        let files = m
            .attachments
            .iter()
            .map(|a| {
                Ok(ReplyFile {
                    name: a.filename.clone().unwrap_or_else(|| "file".into()),
                    content_type: a.content_type.clone(),
                    size: a.size,
                    link: a
                        .url
                        .clone()
                        .ok_or_else(|| DeliveryError::permanent("a file without a link"))?,
                })
            })
            .collect::<Result<Vec<_>, DeliveryError>>()?;
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
            name: m
                .metadata
                .iter()
                .find(|(k, _)| k == switchboard_sdk::AGENT_NAME_KEY)
                .map(|(_, v)| v.chars().take(80).collect()),
            files,
            survey: m
                .metadata
                .iter()
                .find(|(k, v)| {
                    k == switchboard_sdk::SURVEY_KEY && matches!(v.as_str(), "csat" | "nps" | "ces")
                })
                .map(|(_, v)| v.clone()),
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
    let known = matches!(
        subpath,
        "/" | "/messages" | "/files" | "/widget.js" | "/demo"
    );
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
        ("GET", "/files") => download(request),
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
        consent,
    } = parse_post(&request.body)?;

    let vouched = vouched_for(
        email.as_deref().or(phone.as_deref()),
        identifier_hash.as_deref(),
    );
    // Authenticate (or, for a new session, check the flood limits) before
    // writing anything.
    let session_key = session_key(&session_id);
    let existing: Option<Session> =
        kv::get_json(&session_key).map_err(|e| kv_error("reading the session", &e))?;
    let key = if existing.is_some() {
        let key = load_key()?.ok_or_else(|| PluginError::unauthorized("wrong session secret"))?;
        session::verify(&key, &session_id, request)?;
        key
    } else {
        let address = request.header(flood::CLIENT_IP_HEADER);
        let limits = flood::Limits::from_config();
        if let Err(refused) = flood::admit(limits, address, cors.origin(), vouched, now_ms())? {
            let body = json!({"error": {"code": "too_many_requests", "message": refused.message}});
            return Ok(WebhookOutcome::respond(
                HttpResponse::json(429, &body)
                    .header("retry-after", refused.retry_after_secs.to_string()),
                Vec::new(),
            ));
        }
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
    // The host records it on her profile (contract 0.4's consent keys).
    if let Some(text) = consent {
        metadata.push(("switchboard-consent".into(), "granted".into()));
        if !text.is_empty() {
            metadata.push(("switchboard-consent-text".into(), text));
        }
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
    let secret = session::secret(&key, &session_id, session.created_at, session::ttl_secs());
    let body = json!({
        "session_id": session_id,
        "secret": secret,
        "message_id": message_id,
        "agents_available": switchboard_sdk::agents_available(ChannelKind::Chat),
    });
    Ok(WebhookOutcome::respond(
        HttpResponse::json(200, &body).header("cache-control", "no-store"),
        vec![event],
    ))
}

/// Where the visitor's chat waits for an agent, for the widget: `{position,
/// wait_ms}` (`wait_ms` null when nobody is there), or null.
fn queue_view(visitor: &Identity, session_id: &str) -> serde_json::Value {
    match switchboard_sdk::queue_place(visitor, session_id) {
        Some(q) => json!({"position": q.position, "wait_ms": q.estimated_wait_ms}),
        None => serde_json::Value::Null,
    }
}

/// Asks the host to hold a read that found nothing (see the host's webhook
/// long-poll).
const LONG_POLL_HEADER: &str = "x-switchboard-long-poll";
/// How long, unless the config's `long_poll_seconds` says otherwise: under
/// the 30 s most proxies and the host allow.
const LONG_POLL_SECONDS: u64 = 25;
/// What the held read waits on: the session (the conversation's thread).
const LONG_POLL_KEY_HEADER: &str = "x-switchboard-long-poll-key";

/// How long a read waits for a reply, in ms (`long_poll_seconds`).
fn long_poll_ms() -> u64 {
    config::get("long_poll_seconds")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(LONG_POLL_SECONDS)
        .saturating_mul(1_000)
}

/// `GET /webhooks/webchat/messages`: the agent replies after `after`; with
/// `wait=1` and nothing new, held by the host until a reply arrives (or
/// `long_poll_seconds`).
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
    session::verify(&key, &session_id, request)?;

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
    let messages: Vec<serde_json::Value> = fresh.iter().map(|r| r.view()).collect();
    // Whether anyone is there to answer: the widget says so when nobody is.
    let available = switchboard_sdk::agents_available(ChannelKind::Chat);
    // Whether an agent (or the bot) closed the conversation: the widget
    // says so, and the visitor's next message starts a new one.
    let visitor = Identity::handle(HANDLE_CHANNEL, session_id.clone());
    let closed = !switchboard_sdk::conversation_open(&visitor, &session_id);
    let queue = queue_view(&visitor, &session_id);
    let body = json!({
        "messages": messages,
        "next": next,
        "agents_available": available,
        "queue": queue,
        "closed": closed,
    });
    let mut response = HttpResponse::json(200, &body).header("cache-control", "no-store");
    // Nothing new and the client is willing to wait: the host holds the
    // request until something happens in this session, then asks again.
    // The widget says what it knows (`closed=1` once told): a change is
    // news too.
    let wait = request
        .query_param("wait")
        .is_some_and(|w| matches!(w.as_str(), "1" | "true"));
    let known_closed = request
        .query_param("closed")
        .is_some_and(|c| matches!(c.as_str(), "1" | "true"));
    // Her place as the widget last showed it (`place`, 0: none): a new
    // place is news too, so the notice follows the queue. A client that
    // does not say (an older widget) is held as before.
    let place = queue["position"].as_u64().unwrap_or(0);
    let place_known = request
        .query_param("place")
        .and_then(|p| p.parse::<u64>().ok())
        .is_none_or(|known| known == place);
    if fresh.is_empty() && wait && closed == known_closed && place_known {
        // Woken only by what happens in this session.
        response = response
            .header(LONG_POLL_HEADER, long_poll_ms().to_string())
            .header(LONG_POLL_KEY_HEADER, session_id.clone());
    }
    Ok(WebhookOutcome::respond(response, events))
}

/// `GET /files?session_id=…&reply=<message id>&n=<index>`: a file an agent
/// sent in this session, for the visitor holding its secret (anyone else
/// is refused like a wrong secret): a redirect to the host's link to it.
fn download(request: &HttpRequest) -> Result<WebhookOutcome, PluginError> {
    let session_id = request
        .query_param("session_id")
        .filter(|s| valid_id(s, false))
        .ok_or_else(|| PluginError::bad_request("a valid `session_id` is required"))?;
    let reply = request
        .query_param("reply")
        .ok_or_else(|| PluginError::bad_request("`reply` is required"))?;
    let n = request
        .query_param("n")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| PluginError::bad_request("`n` must be a file's index"))?;
    let key = load_key()?.ok_or_else(|| PluginError::unauthorized("wrong session secret"))?;
    session::verify(&key, &session_id, request)?;
    let replies: Vec<Reply> = kv::get_json(&replies_key(&session_id))
        .map_err(|e| kv_error("reading the replies", &e))?
        .unwrap_or_default();
    let file = replies
        .iter()
        .find(|r| r.id == reply)
        .and_then(|r| r.files.get(n))
        .ok_or_else(|| PluginError::not_found("no such file in this chat"))?;
    // The bytes come from the host itself: the visitor, having proved the
    // session, is sent on to the host's signed, expiring link (the plugin
    // never holds a whole file in its memory).
    Ok(WebhookOutcome::respond(
        HttpResponse::empty(303)
            .header("location", file.link.clone())
            .header("cache-control", "private, no-store")
            .header("referrer-policy", "no-referrer"),
        Vec::new(),
    ))
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
