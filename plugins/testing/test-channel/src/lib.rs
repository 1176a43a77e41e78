//! A test-only channel: lets the core be tested end to end before real
//! provider channels exist.
//!
//! Webhook (`POST /webhooks/<name>`, JSON), either one message or lists:
//!
//! ```json
//! {"id": "m1", "thread": "t1", "from": {"email": "a@b.c", "phone": "+1…",
//!  "handle": "…"}, "also": [{"email": "…"}], "claims": {"email": "…",
//!  "phone": "…"}, "name": "Ann", "text": "hi"}
//! {"messages": [ … ], "statuses": [{"id": "p1", "status": "delivered"}]}
//! ```
//!
//! `from` (and `also`) identities are reported verified, `claims` claimed (as a pre-chat
//! form's would be). `thread` defaults to the first identity. With config `secret` set, the
//! header `x-test-secret` must match (else 401). Replies are POSTed to
//! `{api_base}/messages` as JSON; a 2xx answer's `id` becomes the provider
//! message id, 5xx/429 are retryable, other statuses are not.

use serde::Deserialize;
use switchboard_sdk::{
    Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery, DeliveryError,
    DeliveryStatus, HttpRequest, HttpResponse, Identity, InboundMessage, OutboundAction,
    PluginError, StatusUpdate, WebhookOutcome, config, http,
};

struct TestChannel;

#[derive(Deserialize, Default)]
struct From {
    email: Option<String>,
    phone: Option<String>,
    handle: Option<String>,
}

#[derive(Deserialize)]
struct Msg {
    id: String,
    thread: Option<String>,
    #[serde(default)]
    from: From,
    name: Option<String>,
    #[serde(default)]
    text: String,
    /// Identities the sender claims without proof.
    claims: Option<From>,
    /// More verified identities of the sender.
    #[serde(default)]
    also: Vec<From>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    One(Msg),
    Many {
        #[serde(default)]
        messages: Vec<Msg>,
        #[serde(default)]
        statuses: Vec<Status>,
    },
}

fn kind() -> ChannelKind {
    match config::get_or("kind", "chat").as_str() {
        "voice" => ChannelKind::Voice,
        "messaging" => ChannelKind::Messaging,
        "email" => ChannelKind::Email,
        _ => ChannelKind::Chat,
    }
}

fn message(m: Msg) -> Result<ChannelEvent, PluginError> {
    let mut identities = Vec::new();
    if let Some(e) = m.from.email {
        identities.push(Identity::email(e).verified());
    }
    if let Some(p) = m.from.phone {
        identities.push(Identity::phone(p).verified());
    }
    if let Some(h) = m.from.handle {
        identities.push(Identity::handle("test", h).verified());
    }
    for more in m.also {
        identities.extend(more.email.map(|e| Identity::email(e).verified()));
        identities.extend(more.phone.map(|p| Identity::phone(p).verified()));
    }
    // What the sender typed without proof, like a pre-chat form.
    if let Some(claims) = m.claims {
        identities.extend(claims.email.map(|e| Identity::email(e).claimed()));
        identities.extend(claims.phone.map(|p| Identity::phone(p).claimed()));
    }
    let thread = match (m.thread, identities.first().map(|i| &i.identity)) {
        (Some(t), _) => t,
        (None, Some(Identity::Email(e) | Identity::Phone(e))) => e.trim().to_lowercase(),
        (None, Some(Identity::Handle(h))) => h.value.clone(),
        (None, None) => {
            return Err(PluginError::bad_request(
                "a message needs `from` or `thread`",
            ));
        }
    };
    Ok(ChannelEvent::Message(InboundMessage {
        provider_message_id: m.id,
        thread_key: thread,
        identities,
        display_name: m.name,
        text: m.text,
        attachments: Vec::new(),
        sent_at: None,
        metadata: Vec::new(),
    }))
}

impl Channel for TestChannel {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: kind(),
            display_name: "Test channel".into(),
            supports_attachments: false,
            rules: ChannelRules {
                // `reply_window_ms`: a WhatsApp-like window, for tests of
                // the host's enforcement.
                free_text_window_ms: config::get("reply_window_ms").and_then(|w| w.parse().ok()),
                supports_templates: false,
                can_start: true,
            },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        let secret = config::get_or("secret", "");
        if !secret.is_empty() && request.header("x-test-secret") != Some(secret.as_str()) {
            return Err(PluginError::unauthorized("missing or wrong x-test-secret"));
        }
        if request.method != "POST" {
            return Ok(WebhookOutcome::respond(
                HttpResponse::empty(405),
                Vec::new(),
            ));
        }
        let payload: Payload = request.json()?;
        let (messages, statuses) = match payload {
            Payload::One(m) => (vec![m], Vec::new()),
            Payload::Many { messages, statuses } => (messages, statuses),
        };
        let mut events = Vec::new();
        for m in messages {
            events.push(message(m)?);
        }
        for s in statuses {
            let status = match s.status.as_str() {
                "sent" => DeliveryStatus::Sent,
                "delivered" => DeliveryStatus::Delivered,
                "read" => DeliveryStatus::Read,
                "failed" => DeliveryStatus::Failed,
                other => {
                    return Err(PluginError::bad_request(format!(
                        "unknown status `{other}`"
                    )));
                }
            };
            events.push(ChannelEvent::Status(StatusUpdate {
                provider_message_id: s.id,
                status,
                error: s.error,
                at: None,
            }));
        }
        let body = format!("{{\"accepted\":{}}}", events.len());
        Ok(WebhookOutcome::respond(
            HttpResponse::with_body(200, "application/json", body),
            events,
        ))
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        let OutboundAction::Message(m) = action else {
            return Err(DeliveryError::permanent(
                "the test channel only sends messages",
            ));
        };
        let to = match &m.to {
            Identity::Email(v) | Identity::Phone(v) => v.clone(),
            Identity::Handle(h) => h.value.clone(),
        };
        let url = format!(
            "{}/messages",
            config::get_or("api_base", "http://127.0.0.1")
        );
        let body = serde_json::json!({
            "message_id": m.message_id,
            "conversation_id": m.conversation_id,
            "thread": m.thread_key,
            "to": to,
            "text": m.text,
            "in_reply_to": m.in_reply_to,
        });
        let response = http::send(http::Request::post(url).json(&body))?;
        if !response.is_success() {
            return Err(DeliveryError::from_status(response.status, &response.body));
        }
        let id = response
            .json::<serde_json::Value>()
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
        Ok(Delivery {
            provider_message_id: id,
        })
    }
}

switchboard_sdk::register_channel!(TestChannel);
