//! # Email channel (Mailgun)
//!
//! Turns mail received by a Mailgun inbound route into customer messages,
//! and sends agents' replies through Mailgun's messages API in the same
//! thread.
//!
//! ## Webhook
//!
//! `POST /webhooks/email` — the target of a Mailgun route
//! `forward("https://<host>/webhooks/email")`. The body is
//! `application/x-www-form-urlencoded`, or `multipart/form-data` when the
//! mail has attachments (see [`post`]). Fields used: `recipient`, `sender`,
//! `from`, `subject`, `body-plain`, `stripped-text`, `message-headers` (a
//! JSON list of `[name, value]` pairs), `Message-Id`, `attachment-N` files,
//! and `timestamp`/`token`/`signature`.
//!
//! 1. The signature is checked before any other field is looked at:
//!    `signature` must be hex HMAC-SHA256 of `timestamp` + `token`, keyed
//!    with the `signing_key`. A missing field, a mismatch, or no configured
//!    `signing_key` is `unauthorized` (the host answers 401, stores nothing).
//!    That signature proves only that Mailgun made the `timestamp`/`token`
//!    pair — the other fields are not signed — so a `timestamp` more than
//!    5 minutes from now, or a `token` already used, is `unauthorized` too
//!    (see [`replay`]): a captured post cannot be replayed or altered later.
//! 2. A body that does not parse is `bad-request` (400); a method other than
//!    `POST` gets 405 and no events; another sub-path gets 404.
//! 3. One message results: the sender's email (`sender`, else the address in
//!    `From`) as identity, the `From` display name, `stripped-text` (else
//!    `body-plain`) as text, the files as attachments (type, name, size;
//!    posted files are handed to the host to keep, see [`keep_files`]), `Date` (else `timestamp`) as sent-at,
//!    the `Message-Id` as provider id (the host's idempotency key), and
//!    metadata `subject`, `message_id`, `references`, `in_reply_to`, `body`
//!    (the full `body-plain`) and `recipient`.
//!
//! ## Threads
//!
//! Message ids are kept in their `<id>` form. The thread key of a mail is:
//! the first id of its `References`; else its `In-Reply-To` id; else its own
//! `Message-Id` (a new thread). When that parent id is one of our own
//! replies, it is mapped to the thread the reply was sent in: `deliver`
//! records `thread/<Mailgun id of the reply>` → thread key in the plugin's
//! kv store. So an answer to our reply lands in the conversation it
//! belongs to, even from clients that only send `In-Reply-To`.
//!
//! ## Replies
//!
//! `deliver` posts to `{api_base}/v3/{domain}/messages` (basic auth `api` /
//! `api_key`): `from` = `from_address`, `to` = the customer's address,
//! `subject` = `Re: ` + the subject of the latest inbound mail (one prefix
//! only; `Your message` when there was none), `text`, `h:In-Reply-To` = that
//! mail's `Message-Id`, `h:References` = its references plus its id; files
//! the agent attached go as `attachment` parts of a multipart form (their
//! bytes read from the host with `attachment_data`). A 2xx
//! answer's `id` is the provider message id; 408/425/429/5xx and transport
//! failures are retryable, other statuses are permanent. Calls (connect,
//! hang up) are refused permanently.
//!
//! ## Configuration
//!
//! | key | meaning |
//! |---|---|
//! | `api_base` | Mailgun API root, `https://api.mailgun.net` (EU: `https://api.eu.mailgun.net`) |
//! | `domain` | the sending domain, e.g. `mg.example.com` |
//! | `api_key` | the Mailgun API key |
//! | `signing_key` | the HTTP webhook signing key inbound posts are checked with |
//! | `from_address` | the `From` of replies, e.g. `Support <support@example.com>` |

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use switchboard_sdk::{
    Attachment, Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules, Delivery,
    DeliveryError, HostError, HttpRequest, HttpResponse, InboundMessage, Media, OutboundAction,
    OutboundMessage, PluginError, WebhookOutcome, config, http, kv, log, signature,
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod headers;
pub mod inbound;
pub mod outbound;
pub mod post;
pub mod replay;

use post::Post;

/// Ids longer than this are not looked up in (or written to) the kv store,
/// whose keys are limited.
const MAX_KV_ID: usize = 400;

/// The kv key mapping one of our sent mails to its thread.
fn thread_kv_key(provider_id: &str) -> Option<String> {
    (provider_id.len() <= MAX_KV_ID).then(|| format!("thread/{provider_id}"))
}

/// The thread a mail we sent belongs to, when we sent it.
fn sent_thread(provider_id: &str) -> Result<Option<String>, PluginError> {
    let Some(key) = thread_kv_key(provider_id) else {
        return Ok(None);
    };
    match kv::get(&key) {
        Ok(value) => Ok(value.and_then(|v| String::from_utf8(v).ok())),
        Err(HostError::Invalid(_)) => Ok(None),
        Err(HostError::Denied(e) | HostError::Unavailable(e)) => Err(PluginError::unavailable(
            format!("the thread store is unavailable: {e}"),
        )),
    }
}

/// Checks Mailgun's signature fields. Runs before any other field is used.
fn verify(post: &Post) -> Result<(), PluginError> {
    let signing_key = config::get("signing_key").unwrap_or_default();
    if signing_key.trim().is_empty() {
        return Err(PluginError::unauthorized(
            "`signing_key` is not configured: unsigned mail is refused",
        ));
    }
    let field = |name: &str| {
        post.non_empty(name)
            .ok_or_else(|| PluginError::unauthorized(format!("missing `{name}`")))
    };
    let (timestamp, token) = (field("timestamp")?, field("token")?);
    signature::verify_mailgun(signing_key.trim(), timestamp, token, field("signature")?)?;
    let timestamp = replay::fresh(timestamp, switchboard_sdk::now_ms() / 1000)?;
    replay::use_token(token.trim(), timestamp)
}

/// Hands the files posted with the mail to the host to keep (Mailgun keeps
/// no copy of a forwarded mail's files): each attachment's `url` becomes the
/// host's reference, so agents can open it. A file the host refuses (over
/// its size limit) stays listed without one; a host that cannot write
/// fails the webhook, so Mailgun tries again.
fn keep_files(post: &Post, message: &mut InboundMessage) -> Result<(), PluginError> {
    for (attachment, data) in message.attachments.iter_mut().zip(&post.file_data) {
        if data.is_empty() {
            continue;
        }
        match switchboard_sdk::keep_attachment(
            &attachment.content_type,
            attachment.filename.as_deref(),
            data,
        ) {
            Ok(reference) => attachment.url = Some(reference),
            Err(HostError::Unavailable(e)) => {
                return Err(PluginError::unavailable(format!(
                    "the host could not keep an attachment: {e}"
                )));
            }
            Err(e) => log::warn(format!("an attachment is listed but not kept: {e:?}")),
        }
    }
    Ok(())
}

/// Downloads a file of a stored message (`store(notify=…)` routes) from
/// Mailgun's storage with the API key — only from Mailgun's own hosts (or
/// the configured `api_base`'s), so the key never goes anywhere else.
fn fetch_stored(attachment: &Attachment) -> Result<Media, PluginError> {
    let url = attachment
        .url
        .as_deref()
        .ok_or_else(|| PluginError::bad_request("the attachment has no stored-message URL"))?;
    let base = config::get_or("api_base", "https://api.mailgun.net");
    let authority = http::authority(url);
    let host = authority.as_deref().map(|a| {
        a.rsplit_once(':')
            .map_or(a, |(h, _)| h)
            .to_ascii_lowercase()
    });
    let mailgun = url.starts_with("https://")
        && host
            .as_deref()
            .is_some_and(|h| h.ends_with(".mailgun.net") || h == "mailgun.net");
    if authority.is_none() || !(mailgun || authority == http::authority(&base)) {
        return Err(PluginError::bad_request(
            "the attachment URL is not on Mailgun's storage; the API key was not sent",
        ));
    }
    let key = config::get_or("api_key", "");
    if key.is_empty() {
        return Err(PluginError::unavailable("api_key must be configured"));
    }
    let file = http::fetch(http::Request::get(url).basic_auth("api", &key))?;
    Ok(Media::downloaded(attachment, file))
}

struct Email;

impl Channel for Email {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Email,
            display_name: "Email".into(),
            supports_attachments: true,
            rules: ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                can_start: true,
            },
        }
    }

    fn handle_webhook(mut request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        if request.subpath() != "/" {
            return Err(PluginError::not_found(
                "the Mailgun route posts to /webhooks/email",
            ));
        }
        if request.method != "POST" {
            return Ok(WebhookOutcome::respond(
                HttpResponse::empty(405).header("allow", "POST"),
                Vec::new(),
            ));
        }
        let body = std::mem::take(&mut request.body);
        let post = Post::parse(request.header("content-type"), body)?;
        verify(&post)?;
        let mut message = inbound::message(&post, sent_thread)?;
        keep_files(&post, &mut message)?;
        Ok(WebhookOutcome::ok(vec![ChannelEvent::Message(message)]))
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::Message(m) => send(&m),
            OutboundAction::ConnectCall(_)
            | OutboundAction::EndCall(_)
            | OutboundAction::CallCustomer(_) => {
                Err(DeliveryError::permanent("the email channel has no calls"))
            }
        }
    }

    fn fetch_media(attachment: Attachment) -> Result<Media, PluginError> {
        fetch_stored(&attachment)
    }
}

/// A required configuration value for sending; missing is permanent (the
/// admin has to fix the configuration).
fn setting(key: &str) -> Result<String, DeliveryError> {
    config::get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| DeliveryError::permanent(format!("configuration key `{key}` is not set")))
}

/// Sends one reply through Mailgun.
fn send(m: &OutboundMessage) -> Result<Delivery, DeliveryError> {
    let api_base = config::get_or("api_base", "https://api.mailgun.net");
    let domain = setting("domain")?;
    let api_key = setting("api_key")?;
    let from_address = setting("from_address")?;
    let fields = outbound::form(m, &from_address).map_err(DeliveryError::permanent)?;
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let url = format!(
        "{}/v3/{}/messages",
        api_base.trim().trim_end_matches('/'),
        domain
    );
    let request = http::Request::post(url).basic_auth("api", &api_key);
    let request = if m.attachments.is_empty() {
        request.form(&pairs)
    } else {
        // Mailgun takes attachments as files in a multipart form; the host
        // hands over the bytes of what the agent sent.
        let mut files = Vec::new();
        for attachment in &m.attachments {
            let link = attachment
                .url
                .as_deref()
                .ok_or_else(|| DeliveryError::permanent("a file without a link"))?;
            let data = switchboard_sdk::attachment_data(link).map_err(|e| {
                DeliveryError::permanent(format!("the file could not be read: {e:?}"))
            })?;
            files.push((attachment, data));
        }
        let parts: Vec<http::FilePart<'_>> = files
            .iter()
            .map(|(attachment, data)| http::FilePart {
                field: "attachment",
                filename: attachment.filename.as_deref().unwrap_or("attachment"),
                content_type: &attachment.content_type,
                data,
            })
            .collect();
        request.multipart(&pairs, &parts)
    };
    let response = http::deliver(request)?;
    let id = response.json::<serde_json::Value>().ok().and_then(|v| {
        v.get("id")
            .and_then(|i| i.as_str())
            .and_then(headers::message_id)
    });
    if let Some(id) = &id {
        remember_thread(id, &m.thread_key);
    }
    Ok(Delivery {
        provider_message_id: id,
    })
}

/// Records the thread of a mail we sent, so answers to it find their
/// conversation. The mail is already sent: a failure here is only logged
/// (answers that carry `References` still thread correctly).
fn remember_thread(provider_id: &str, thread_key: &str) {
    let Some(key) = thread_kv_key(provider_id) else {
        return;
    };
    if let Err(e) = kv::set(&key, thread_key.as_bytes()) {
        log::warn(format!(
            "could not record the thread of sent mail {provider_id}: {e:?}"
        ));
    }
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(Email);
