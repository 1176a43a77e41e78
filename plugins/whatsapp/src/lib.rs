//! WhatsApp through Meta's WhatsApp Cloud API.
//!
//! Webhooks (`/webhooks/whatsapp`):
//! - `GET` is the subscription handshake: when `hub.mode` is `subscribe` and
//!   `hub.verify_token` equals the configured `verify_token`, the answer is
//!   `hub.challenge` as `text/plain`; anything else is refused with 403.
//! - `POST` carries notifications, verified first with `X-Hub-Signature-256`
//!   (`sha256=` + hex HMAC-SHA256 of the raw body keyed with `app_secret`).
//!   One payload can hold several entries, changes, messages and statuses;
//!   every message type becomes an inbound message (media as attachments
//!   holding the provider's media id, locations, shared contacts, button and
//!   list replies, reactions and unsupported messages as readable text) and
//!   every status (`sent`, `delivered`, `read`, `failed` with its errors) a
//!   status update.
//!
//! The sender's `wa_id` is their phone number (E.164 without the `+`); the
//! contact's profile name becomes the display name. One conversation per
//! sender: the thread key is the `wa_id`.
//!
//! Replies go to `POST {api_base}/{phone_number_id}/messages` with the
//! bearer `access_token`, from the business number the customer wrote to.
//!
//! Media a customer sent is opened with `fetch_media`: `GET
//! {api_base}/{media id}` answers a short-lived download URL, fetched with
//! the same bearer token — which is only ever sent to the Graph API's host
//! or Meta's media CDN (`*.fbsbx.com`), whatever the answer says.

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use serde::Deserialize;
use serde_json::json;
use switchboard_sdk::{
    Attachment, Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery,
    DeliveryError, DeliveryStatus, HttpRequest, HttpResponse, Identity, InboundMessage,
    Media as MediaFile, OutboundAction, OutboundMessage, PluginError, StatusUpdate, WebhookOutcome,
    config, http, signature, webhook,
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

struct WhatsApp;

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize, Default)]
struct Value {
    #[serde(default)]
    metadata: Option<BusinessNumber>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize, Default, Clone)]
struct BusinessNumber {
    #[serde(default)]
    display_phone_number: String,
    #[serde(default)]
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    #[serde(default)]
    wa_id: String,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    from: String,
    id: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(rename = "type", default)]
    kind: String,
    text: Option<Text>,
    image: Option<Media>,
    audio: Option<Media>,
    video: Option<Media>,
    document: Option<Media>,
    sticker: Option<Media>,
    location: Option<Location>,
    contacts: Option<Vec<SharedContact>>,
    interactive: Option<Interactive>,
    button: Option<Button>,
    reaction: Option<Reaction>,
    context: Option<Context>,
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct Text {
    body: String,
}

#[derive(Deserialize)]
struct Media {
    id: Option<String>,
    mime_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    #[serde(default)]
    animated: bool,
}

#[derive(Deserialize)]
struct Location {
    latitude: f64,
    longitude: f64,
    name: Option<String>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct SharedContact {
    name: Option<ContactName>,
    #[serde(default)]
    phones: Vec<ContactPhone>,
    #[serde(default)]
    emails: Vec<ContactEmail>,
}

#[derive(Deserialize)]
struct ContactName {
    formatted_name: Option<String>,
}

#[derive(Deserialize)]
struct ContactPhone {
    phone: Option<String>,
}

#[derive(Deserialize)]
struct ContactEmail {
    email: Option<String>,
}

#[derive(Deserialize)]
struct Interactive {
    button_reply: Option<Choice>,
    list_reply: Option<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    id: String,
    title: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Button {
    text: Option<String>,
    payload: Option<String>,
}

#[derive(Deserialize)]
struct Reaction {
    message_id: Option<String>,
    emoji: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    id: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
    title: Option<String>,
    message: Option<String>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

impl ApiError {
    fn describe(&self) -> String {
        let mut out = self.title.clone().unwrap_or_else(|| "error".into());
        if let Some(code) = self.code {
            out = format!("{out} ({code})");
        }
        if let Some(detail) = self
            .error_data
            .as_ref()
            .and_then(|d| d.details.clone())
            .or_else(|| self.message.clone())
            .filter(|d| !d.is_empty())
        {
            out = format!("{out}: {detail}");
        }
        out
    }
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    timestamp: Option<String>,
    #[serde(default)]
    errors: Vec<ApiError>,
}

fn seconds_to_ms(ts: Option<&str>) -> Option<u64> {
    ts.and_then(|t| t.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000))
}

fn media(kind: &str, m: &Media) -> Attachment {
    let default_type = match kind {
        "sticker" => "image/webp",
        _ => "application/octet-stream",
    };
    Attachment {
        content_type: m
            .mime_type
            .clone()
            .unwrap_or_else(|| default_type.to_string()),
        url: None,
        media_id: m.id.clone(),
        filename: m.filename.clone(),
        size: None,
        caption: m.caption.clone(),
    }
}

/// Turns one provider message into text, attachments and metadata.
fn content(m: &Message) -> (String, Vec<Attachment>, Vec<(String, String)>) {
    let mut meta = vec![("type".to_string(), m.kind.clone())];
    let (text, attachments) = match m.kind.as_str() {
        "text" => (
            m.text.as_ref().map(|t| t.body.clone()).unwrap_or_default(),
            Vec::new(),
        ),
        kind @ ("image" | "audio" | "video" | "document" | "sticker") => {
            let item = match kind {
                "image" => &m.image,
                "audio" => &m.audio,
                "video" => &m.video,
                "document" => &m.document,
                _ => &m.sticker,
            };
            match item {
                Some(item) => {
                    if item.animated {
                        meta.push(("animated".into(), "true".into()));
                    }
                    (
                        item.caption.clone().unwrap_or_default(),
                        vec![media(kind, item)],
                    )
                }
                None => (format!("[{kind}]"), Vec::new()),
            }
        }
        "location" => match &m.location {
            Some(l) => {
                meta.push(("latitude".into(), l.latitude.to_string()));
                meta.push(("longitude".into(), l.longitude.to_string()));
                let place = [l.name.as_deref(), l.address.as_deref()]
                    .into_iter()
                    .flatten()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                let coords = format!("{}, {}", l.latitude, l.longitude);
                let text = if place.is_empty() {
                    format!("Shared a location: {coords}")
                } else {
                    format!("Shared a location: {place} ({coords})")
                };
                (text, Vec::new())
            }
            None => ("Shared a location".into(), Vec::new()),
        },
        "contacts" => {
            let cards: Vec<String> = m
                .contacts
                .iter()
                .flatten()
                .map(|c| {
                    let name = c
                        .name
                        .as_ref()
                        .and_then(|n| n.formatted_name.clone())
                        .unwrap_or_else(|| "(no name)".into());
                    let reach: Vec<String> = c
                        .phones
                        .iter()
                        .filter_map(|p| p.phone.clone())
                        .chain(c.emails.iter().filter_map(|e| e.email.clone()))
                        .collect();
                    if reach.is_empty() {
                        name
                    } else {
                        format!("{name} ({})", reach.join(", "))
                    }
                })
                .collect();
            (format!("Shared contacts: {}", cards.join("; ")), Vec::new())
        }
        "interactive" => {
            let choice = m
                .interactive
                .as_ref()
                .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()));
            match choice {
                Some(c) => {
                    meta.push(("reply_id".into(), c.id.clone()));
                    if let Some(d) = &c.description {
                        meta.push(("reply_description".into(), d.clone()));
                    }
                    (c.title.clone(), Vec::new())
                }
                None => ("[interactive reply]".into(), Vec::new()),
            }
        }
        "button" => {
            let b = m.button.as_ref();
            if let Some(p) = b.and_then(|b| b.payload.clone()) {
                meta.push(("payload".into(), p));
            }
            (
                b.and_then(|b| b.text.clone()).unwrap_or_default(),
                Vec::new(),
            )
        }
        "reaction" => {
            let r = m.reaction.as_ref();
            if let Some(id) = r.and_then(|r| r.message_id.clone()) {
                meta.push(("reacted_to".into(), id));
            }
            let text = match r.and_then(|r| r.emoji.clone()).filter(|e| !e.is_empty()) {
                Some(emoji) => format!("Reacted {emoji} to a message"),
                None => "Removed a reaction".into(),
            };
            (text, Vec::new())
        }
        other => {
            let why = m
                .errors
                .iter()
                .map(ApiError::describe)
                .collect::<Vec<_>>()
                .join("; ");
            if !why.is_empty() {
                meta.push(("error".into(), why.clone()));
            }
            let what = if other.is_empty() { "unknown" } else { other };
            let text = if why.is_empty() {
                format!("[unsupported message type: {what}]")
            } else {
                format!("[unsupported message type: {what}: {why}]")
            };
            (text, Vec::new())
        }
    };
    if let Some(id) = m.context.as_ref().and_then(|c| c.id.clone()) {
        meta.push(("context_id".into(), id));
    }
    (text, attachments, meta)
}

fn events(payload: Payload) -> Vec<ChannelEvent> {
    let mut out = Vec::new();
    for change in payload.entry.into_iter().flat_map(|e| e.changes) {
        let value = change.value;
        let business = value.metadata.clone().unwrap_or_default();
        for m in &value.messages {
            let name = value
                .contacts
                .iter()
                .find(|c| c.wa_id == m.from)
                .or(value.contacts.first())
                .and_then(|c| c.profile.as_ref())
                .and_then(|p| p.name.clone());
            let (text, attachments, mut metadata) = content(m);
            metadata.push(("phone_number_id".into(), business.phone_number_id.clone()));
            metadata.push((
                "display_phone_number".into(),
                business.display_phone_number.clone(),
            ));
            out.push(ChannelEvent::Message(InboundMessage {
                provider_message_id: m.id.clone(),
                thread_key: m.from.clone(),
                identities: vec![
                    Identity::phone(format!("+{}", m.from.trim_start_matches('+'))).verified(),
                ],
                display_name: name,
                text,
                attachments,
                sent_at: seconds_to_ms(m.timestamp.as_deref()),
                metadata,
            }));
        }
        for s in &value.statuses {
            let status = match s.status.as_str() {
                "sent" => DeliveryStatus::Sent,
                "delivered" => DeliveryStatus::Delivered,
                "read" => DeliveryStatus::Read,
                "failed" => DeliveryStatus::Failed,
                // e.g. `deleted` or `warning`: nothing the host tracks.
                _ => continue,
            };
            let error = Some(
                s.errors
                    .iter()
                    .map(ApiError::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .filter(|e| !e.is_empty());
            out.push(ChannelEvent::Status(StatusUpdate {
                provider_message_id: s.id.clone(),
                status,
                error,
                at: seconds_to_ms(s.timestamp.as_deref()),
            }));
        }
    }
    out
}

fn handshake(request: &HttpRequest) -> Result<WebhookOutcome, PluginError> {
    let expected = config::get_or("verify_token", "");
    let mode = request.query_param("hub.mode");
    let token = request.query_param("hub.verify_token");
    let challenge = request.query_param("hub.challenge").unwrap_or_default();
    let matches = token
        .as_deref()
        .is_some_and(|t| signature::constant_time_eq(t.as_bytes(), expected.as_bytes()));
    if expected.is_empty() || mode.as_deref() != Some("subscribe") || !matches {
        return Err(PluginError::forbidden(
            "the verification token does not match",
        ));
    }
    Ok(WebhookOutcome::respond(
        HttpResponse::text(200, challenge),
        Vec::new(),
    ))
}

fn notification(request: &HttpRequest) -> Result<WebhookOutcome, PluginError> {
    let secret = config::get_or("app_secret", "");
    if secret.is_empty() {
        return Err(PluginError::unauthorized(
            "app_secret is not configured; refusing unsigned notifications",
        ));
    }
    signature::verify_meta(
        &secret,
        &request.body,
        request.header("x-hub-signature-256"),
    )?;
    Ok(WebhookOutcome::respond(
        HttpResponse::text(200, "EVENT_RECEIVED"),
        parse_notification(&request.body)?,
    ))
}

/// The events of a notification body whose signature has been checked. A
/// body that is not a WhatsApp Business notification is a `bad-request`
/// error. Makes no host calls, so it also runs natively (tests, fuzzing).
pub fn parse_notification(body: &[u8]) -> Result<Vec<ChannelEvent>, PluginError> {
    let payload: Payload = webhook::parse_json(body)?;
    if !payload.object.is_empty() && payload.object != "whatsapp_business_account" {
        return Err(PluginError::bad_request(format!(
            "unexpected object `{}`",
            payload.object
        )));
    }
    Ok(events(payload))
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

fn send(m: &OutboundMessage) -> Result<Delivery, DeliveryError> {
    let to = match &m.to {
        Identity::Phone(p) => p.trim_start_matches('+').to_string(),
        _ => m.thread_key.clone(),
    };
    let fallback = config::get_or("phone_number_id", "");
    let from = m
        .metadata_value("phone_number_id")
        .map(str::to_string)
        .or(Some(fallback).filter(|f| !f.is_empty()))
        .ok_or_else(|| {
            DeliveryError::permanent("no business phone_number_id to send from".to_string())
        })?;
    let token = config::get_or("access_token", "");
    if token.is_empty() {
        return Err(DeliveryError::permanent("access_token is not configured"));
    }
    let base = config::get_or("api_base", "https://graph.facebook.com/v21.0");
    let url = format!("{}/{from}/messages", base.trim_end_matches('/'));
    let mut bodies = Vec::new();
    if let Some(template) = &m.template {
        // An approved template, by name: what may open a conversation
        // outside the 24-hour window.
        let parameters: Vec<serde_json::Value> = template
            .parameters
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {"name": template.name, "language": {"code": template.language}},
        });
        if !parameters.is_empty() {
            body["template"]["components"] = json!([{"type": "body", "parameters": parameters}]);
        }
        bodies.push(body);
    } else if m.attachments.is_empty() {
        bodies.push(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "text",
            "text": { "preview_url": false, "body": m.text },
        }));
    }
    // One media message per file, by link (WhatsApp fetches it); the text
    // is the first file's caption.
    for (i, attachment) in m.attachments.iter().enumerate() {
        let link = attachment
            .url
            .as_deref()
            .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
            .ok_or_else(|| {
                DeliveryError::permanent(
                    "a file's link is not public: set the host's http.public_url so WhatsApp can fetch it",
                )
            })?;
        let kind = media_type(&attachment.content_type);
        let mut media = json!({ "link": link });
        if i == 0 && !m.text.trim().is_empty() && kind != "audio" {
            media["caption"] = json!(m.text);
        }
        if kind == "document"
            && let Some(name) = &attachment.filename
        {
            media["filename"] = json!(name);
        }
        bodies.push(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
            kind: media,
        }));
    }
    let mut first = None;
    for body in bodies {
        let response = http::deliver(http::Request::post(&url).bearer(&token).json(&body))?;
        let id = response
            .json::<SendResponse>()
            .ok()
            .and_then(|r| r.messages.into_iter().next())
            .map(|m| m.id);
        first = first.or(id);
    }
    Ok(Delivery {
        provider_message_id: first,
    })
}

/// The WhatsApp message type for a file: pictures, videos and audio play
/// inline; anything else is a document.
fn media_type(content_type: &str) -> &'static str {
    let t = content_type.to_ascii_lowercase();
    if t == "image/jpeg" || t == "image/png" {
        "image"
    } else if t.starts_with("video/") {
        "video"
    } else if t.starts_with("audio/") {
        "audio"
    } else {
        "document"
    }
}

/// What `GET {api_base}/{media id}` answers.
#[derive(Deserialize)]
struct MediaInfo {
    url: String,
    #[serde(default)]
    mime_type: Option<String>,
}

/// Whether the bearer token may go to `url`: the Graph API's own host, or
/// Meta's media CDN.
fn trusted_media_url(url: &str, base: &str) -> bool {
    let Some(host) = http::authority(url) else {
        return false;
    };
    http::authority(base).as_deref() == Some(host.as_str())
        || (url.starts_with("https://") && host.ends_with(".fbsbx.com"))
}

fn fetch_media(attachment: &Attachment) -> Result<MediaFile, PluginError> {
    let id = attachment
        .media_id
        .as_deref()
        .ok_or_else(|| PluginError::bad_request("the attachment has no WhatsApp media id"))?;
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(PluginError::bad_request("not a WhatsApp media id"));
    }
    let token = config::get_or("access_token", "");
    if token.is_empty() {
        return Err(PluginError::unavailable("access_token is not configured"));
    }
    let base = config::get_or("api_base", "https://graph.facebook.com/v21.0");
    let base = base.trim_end_matches('/');
    let info: MediaInfo = http::fetch(http::Request::get(format!("{base}/{id}")).bearer(&token))?
        .json()
        .map_err(|e| PluginError::unavailable(format!("media lookup: {e}")))?;
    if !trusted_media_url(&info.url, base) {
        return Err(PluginError::bad_request(
            "the media URL is not on Meta's hosts; the token was not sent",
        ));
    }
    let file = http::fetch(http::Request::get(&info.url).bearer(&token))?;
    let mut media = MediaFile::downloaded(attachment, file);
    // Graph's lookup names the type more reliably than the CDN's answer.
    if let Some(mime_type) = info.mime_type {
        media.content_type = mime_type;
    }
    Ok(media)
}

impl Channel for WhatsApp {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Messaging,
            display_name: "WhatsApp".into(),
            supports_attachments: true,
            rules: ChannelRules {
                // WhatsApp's customer service window: free text only within
                // 24 hours of the customer's last message.
                free_text_window_ms: Some(24 * 60 * 60 * 1000),
                supports_templates: true,
                can_start: true,
            },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        match request.method.as_str() {
            "GET" => handshake(&request),
            "POST" => notification(&request),
            _ => Ok(WebhookOutcome::respond(
                HttpResponse::empty(405),
                Vec::new(),
            )),
        }
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::Message(m) => send(&m),
            _ => Err(DeliveryError::permanent("WhatsApp carries no calls")),
        }
    }

    fn fetch_media(attachment: Attachment) -> Result<MediaFile, PluginError> {
        fetch_media(&attachment)
    }
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(WhatsApp);

#[cfg(test)]
mod tests {
    use super::trusted_media_url;

    #[test]
    fn the_token_goes_to_the_graph_api_and_meta_s_cdn_only() {
        let base = "https://graph.facebook.com/v21.0";
        assert!(trusted_media_url(
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            base
        ));
        assert!(trusted_media_url(
            "https://graph.facebook.com/media/1",
            base
        ));
        assert!(!trusted_media_url("https://evil.example/x", base));
        assert!(!trusted_media_url("https://fbsbx.com.evil.example/x", base));
        assert!(!trusted_media_url("http://lookaside.fbsbx.com/x", base));
        assert!(!trusted_media_url(
            "https://graph.facebook.com@evil.example/x",
            base
        ));
        // A mock provider in tests is the configured base itself.
        assert!(trusted_media_url(
            "http://127.0.0.1:9000/media/1",
            "http://127.0.0.1:9000/v21.0"
        ));
    }
}
