//! SMS and MMS through Twilio Programmable Messaging.
//!
//! Point the Twilio number's "A message comes in" webhook at
//! `{public_base_url}/webhooks/sms`. Every request is verified with
//! `X-Twilio-Signature` (HMAC-SHA1 with `auth_token` over the public URL and
//! the sorted POST parameters), so `public_base_url` must be exactly the
//! scheme, host and port Twilio calls.
//!
//! - An incoming message (`MessageSid`, `From`, `To`, `Body`) becomes an
//!   inbound message; MMS media (`NumMedia`, `MediaUrl{n}`,
//!   `MediaContentType{n}`) become attachments. The thread key is the
//!   sender's number, so one conversation per customer number.
//! - A status callback (`MessageStatus`) for a message we sent becomes a
//!   status update (`sent`, `delivered`, `read`, `failed`/`undelivered` with
//!   `ErrorCode`); intermediate states (`queued`, `sending`...) are ignored.
//!
//! Replies go to `POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json`
//! (basic auth `account_sid:auth_token`) from the number the customer wrote
//! to, with `StatusCallback` = `{public_base_url}/webhooks/sms/status`; files
//! an agent sends go as MMS, one `MediaUrl` per file.
//!
//! `fetch_media` downloads a file a customer sent (`MediaUrl{n}`) with the
//! account's basic auth — only from the `api_base` host, whatever the
//! webhook said, so the credentials never go elsewhere. Twilio answers with
//! a redirect to a short-lived signed URL, followed once without them.

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use serde::Deserialize;
use switchboard_sdk::{
    Attachment, Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery,
    DeliveryError, DeliveryStatus, HttpRequest, HttpResponse, Identity, InboundMessage, Media,
    OutboundAction, OutboundMessage, PluginError, StatusUpdate, WebhookOutcome, config, http,
    signature,
    webhook::{field, required_field},
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

struct Sms;

/// The largest `NumMedia` Twilio sends (MMS carry at most 10 items).
const MAX_MEDIA: usize = 10;

fn empty_twiml() -> HttpResponse {
    HttpResponse::with_body(
        200,
        "text/xml",
        r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#,
    )
}

fn inbound(form: &[(String, String)]) -> Result<ChannelEvent, PluginError> {
    let sid = required_field(form, "MessageSid")
        .or_else(|_| required_field(form, "SmsSid"))?
        .to_string();
    let from = required_field(form, "From")?.to_string();
    let count: usize = field(form, "NumMedia")
        .unwrap_or("0")
        .trim()
        .parse()
        .map_err(|_| PluginError::bad_request("NumMedia is not a number"))?;
    let mut attachments = Vec::new();
    for n in 0..count.min(MAX_MEDIA) {
        let Some(url) = field(form, &format!("MediaUrl{n}")) else {
            continue;
        };
        attachments.push(Attachment {
            content_type: field(form, &format!("MediaContentType{n}"))
                .unwrap_or("application/octet-stream")
                .to_string(),
            url: Some(url.to_string()),
            media_id: None,
            filename: None,
            size: None,
            caption: None,
        });
    }
    let mut metadata = Vec::new();
    for (key, name) in [
        ("to", "To"),
        ("messaging_service_sid", "MessagingServiceSid"),
        ("from_city", "FromCity"),
        ("from_country", "FromCountry"),
    ] {
        if let Some(v) = field(form, name).filter(|v| !v.is_empty()) {
            metadata.push((key.to_string(), v.to_string()));
        }
    }
    Ok(ChannelEvent::Message(InboundMessage {
        provider_message_id: sid,
        thread_key: from.clone(),
        identities: vec![Identity::phone(from).verified()],
        display_name: None,
        text: field(form, "Body").unwrap_or_default().to_string(),
        attachments,
        sent_at: None,
        metadata,
    }))
}

fn status(form: &[(String, String)], value: &str) -> Result<Option<ChannelEvent>, PluginError> {
    let status = match value {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" => DeliveryStatus::Failed,
        _ => return Ok(None),
    };
    let sid = required_field(form, "MessageSid")
        .or_else(|_| required_field(form, "SmsSid"))?
        .to_string();
    let error = match (field(form, "ErrorCode"), field(form, "ErrorMessage")) {
        (None, None) => None,
        (code, message) => Some(
            [
                code.map(|c| format!("error {c}")),
                message.map(str::to_string),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
        ),
    };
    let error = error.or_else(|| (status == DeliveryStatus::Failed).then(|| value.to_string()));
    Ok(Some(ChannelEvent::Status(StatusUpdate {
        provider_message_id: sid,
        status,
        error,
        at: None,
    })))
}

/// The events of a verified webhook's form parameters: a status callback
/// (`MessageStatus`) or an incoming message. Parameters that do not make one
/// are a `bad-request` error. Makes no host calls, so it also runs natively
/// (tests, fuzzing).
pub fn events(form: &[(String, String)]) -> Result<Vec<ChannelEvent>, PluginError> {
    Ok(match field(form, "MessageStatus") {
        Some(value) => status(form, value)?.into_iter().collect(),
        None => vec![inbound(form)?],
    })
}

#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

fn send(m: &OutboundMessage) -> Result<Delivery, DeliveryError> {
    let to = match &m.to {
        Identity::Phone(p) => p.clone(),
        _ => m.thread_key.clone(),
    };
    let account = config::get_or("account_sid", "");
    let token = config::get_or("auth_token", "");
    if account.is_empty() || token.is_empty() {
        return Err(DeliveryError::permanent(
            "account_sid and auth_token must be configured",
        ));
    }
    let base = config::get_or("api_base", "https://api.twilio.com");
    let public = config::get_or("public_base_url", "");
    let url = format!(
        "{}/2010-04-01/Accounts/{account}/Messages.json",
        base.trim_end_matches('/')
    );
    let callback = format!("{}/webhooks/sms/status", public.trim_end_matches('/'));
    let mut form: Vec<(&str, &str)> = vec![("To", to.as_str()), ("Body", m.text.as_str())];
    // Answer from the number (or messaging service) the customer wrote to.
    let from_number = config::get_or("from_number", "");
    match (
        m.metadata_value("to"),
        m.metadata_value("messaging_service_sid"),
        from_number.as_str(),
    ) {
        (Some(number), _, _) => form.push(("From", number)),
        (None, Some(service), _) => form.push(("MessagingServiceSid", service)),
        (None, None, number) if !number.is_empty() => form.push(("From", number)),
        _ => {
            return Err(DeliveryError::permanent(
                "no number to send from (the conversation has no `to` and from_number is not set)",
            ));
        }
    }
    if !public.is_empty() {
        form.push(("StatusCallback", callback.as_str()));
    }
    // Files go as MMS: Twilio fetches each `MediaUrl` itself, so the link
    // must be public.
    for attachment in &m.attachments {
        match attachment.url.as_deref() {
            Some(link) if link.starts_with("https://") || link.starts_with("http://") => {
                form.push(("MediaUrl", link));
            }
            _ => {
                return Err(DeliveryError::permanent(
                    "a file's link is not public: set the host's http.public_url so Twilio can fetch it",
                ));
            }
        }
    }
    if m.attachments.len() > 10 {
        return Err(DeliveryError::permanent("an MMS carries at most 10 files"));
    }
    let response = http::deliver(
        http::Request::post(url)
            .basic_auth(&account, &token)
            .form(&form),
    )?;
    Ok(Delivery {
        provider_message_id: response.json::<Created>().ok().and_then(|c| c.sid),
    })
}

fn fetch_media(attachment: &Attachment) -> Result<Media, PluginError> {
    let url = attachment
        .url
        .as_deref()
        .ok_or_else(|| PluginError::bad_request("the attachment has no MediaUrl"))?;
    let base = config::get_or("api_base", "https://api.twilio.com");
    if http::authority(url).is_none() || http::authority(url) != http::authority(&base) {
        return Err(PluginError::bad_request(
            "the media URL is not on the Twilio API host; the credentials were not sent",
        ));
    }
    let account = config::get_or("account_sid", "");
    let token = config::get_or("auth_token", "");
    if account.is_empty() || token.is_empty() {
        return Err(PluginError::unavailable(
            "account_sid and auth_token must be configured",
        ));
    }
    let first = http::send(http::Request::get(url).basic_auth(&account, &token))?;
    let redirect = first
        .header("location")
        .filter(|l| l.starts_with("https://"))
        .map(str::to_string);
    let file = match (first.status, redirect) {
        (301 | 302 | 303 | 307 | 308, Some(location)) => http::fetch(http::Request::get(location))?,
        _ => http::checked(first)?,
    };
    Ok(Media::downloaded(attachment, file))
}

impl Channel for Sms {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Messaging,
            display_name: "SMS".into(),
            supports_attachments: true,
            rules: ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                can_start: true,
            },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        if request.method != "POST" {
            return Ok(WebhookOutcome::respond(
                HttpResponse::empty(405),
                Vec::new(),
            ));
        }
        let form = signature::verify_twilio_configured(&request)?;
        Ok(WebhookOutcome::respond(empty_twiml(), events(&form)?))
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::Message(m) => send(&m),
            _ => Err(DeliveryError::permanent("SMS carries no calls")),
        }
    }

    fn fetch_media(attachment: Attachment) -> Result<Media, PluginError> {
        fetch_media(&attachment)
    }
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(Sms);
