//! A verified Mailgun post turned into one [`InboundMessage`].

use serde::Deserialize;
use switchboard_sdk::{Attachment, Identity, InboundMessage, PluginError};

use crate::headers::{self, first_mailbox, message_id, message_ids};
use crate::post::Post;

/// Metadata keys stored with each inbound message and handed back to
/// `deliver` for the reply.
pub mod keys {
    /// The `Subject`.
    pub const SUBJECT: &str = "subject";
    /// The message's own `Message-Id`, `<id>` form.
    pub const MESSAGE_ID: &str = "message_id";
    /// The `References` ids, space-separated.
    pub const REFERENCES: &str = "references";
    /// The `In-Reply-To` id.
    pub const IN_REPLY_TO: &str = "in_reply_to";
    /// The full plain-text body (`body-plain`), quotes and signature included.
    pub const BODY: &str = "body";
    /// The address the customer wrote to.
    pub const RECIPIENT: &str = "recipient";
}

/// The `message-headers` field: every header of the original mail as
/// `[name, value]` pairs.
fn parse_message_headers(post: &Post) -> Result<Vec<(String, String)>, PluginError> {
    match post.non_empty("message-headers") {
        None => Ok(Vec::new()),
        Some(json) => serde_json::from_str(json).map_err(|e| {
            PluginError::bad_request(format!("`message-headers` is not a list of pairs: {e}"))
        }),
    }
}

/// An entry of the `attachments` field Mailgun sends for stored messages
/// (`store(notify=…)` routes): the file stays at Mailgun, at `url`.
#[derive(Deserialize)]
struct StoredAttachment {
    url: Option<String>,
    #[serde(rename = "content-type")]
    content_type: Option<String>,
    name: Option<String>,
    size: Option<u64>,
}

fn stored_attachments(post: &Post) -> Vec<Attachment> {
    let Some(json) = post.non_empty("attachments") else {
        return Vec::new();
    };
    serde_json::from_str::<Vec<StoredAttachment>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|a| Attachment {
            content_type: a
                .content_type
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "application/octet-stream".into()),
            url: a.url,
            media_id: None,
            filename: a.name,
            size: a.size,
            caption: None,
        })
        .collect()
}

/// Header look-up over a post: the `message-headers` list first (the mail's
/// own headers), then a top-level form field of the same name. Names are
/// case-insensitive.
struct Headers<'a> {
    post: &'a Post,
    list: Vec<(String, String)>,
}

impl Headers<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .chain(self.post.fields.iter())
            .find(|(n, v)| n.eq_ignore_ascii_case(name) && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Builds the message of a post whose signature has been checked.
///
/// `resolve` maps the provider id of a mail we sent to the thread key it
/// was sent in (`Ok(None)` when unknown).
pub fn message(
    post: &Post,
    resolve: impl Fn(&str) -> Result<Option<String>, PluginError>,
) -> Result<InboundMessage, PluginError> {
    let headers = Headers {
        post,
        list: parse_message_headers(post)?,
    };

    let from = headers.get("From").and_then(first_mailbox);
    let address = post
        .non_empty("sender")
        .and_then(first_mailbox)
        .map(|m| m.address)
        .or_else(|| from.as_ref().map(|m| m.address.clone()))
        .ok_or_else(|| PluginError::bad_request("no sender address (`sender` or `from`)"))?;
    let display_name = from.and_then(|m| m.name);

    let own_id = headers
        .get("Message-Id")
        .and_then(message_id)
        .or_else(|| {
            // A mail without a Message-Id: Mailgun's token for this post
            // still makes redeliveries idempotent. Its tokens are
            // alphanumeric; any other would not read back as the same id.
            post.non_empty("token")
                .map(str::trim)
                .filter(|t| {
                    t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                })
                .map(|t| format!("<mailgun-{t}@switchboard.invalid>"))
        })
        .ok_or_else(|| PluginError::bad_request("no usable `Message-Id` and no `token`"))?;
    let references = headers
        .get("References")
        .map(message_ids)
        .unwrap_or_default();
    let in_reply_to = headers.get("In-Reply-To").and_then(message_id);

    let thread_key = match references.first().or(in_reply_to.as_ref()) {
        Some(parent) => resolve(parent)?.unwrap_or_else(|| parent.clone()),
        None => own_id.clone(),
    };

    let body = post.field("body-plain").unwrap_or("");
    let text = post
        .non_empty("stripped-text")
        .unwrap_or(body)
        .trim_end()
        .to_string();

    let sent_at = headers.get("Date").and_then(headers::date_ms).or_else(|| {
        post.field("timestamp")
            .and_then(|t| t.trim().parse::<u64>().ok())
            .and_then(|s| s.checked_mul(1000))
    });

    let mut attachments = post.files.clone();
    attachments.extend(stored_attachments(post));

    let subject = post
        .non_empty("subject")
        .or_else(|| headers.get("Subject"))
        .map(str::trim);
    let references = references.join(" ");
    let metadata: Vec<(String, String)> = [
        (keys::SUBJECT, subject.unwrap_or("")),
        (keys::MESSAGE_ID, own_id.as_str()),
        (keys::REFERENCES, references.as_str()),
        (keys::IN_REPLY_TO, in_reply_to.as_deref().unwrap_or("")),
        (keys::BODY, body),
        (
            keys::RECIPIENT,
            post.field("recipient").unwrap_or("").trim(),
        ),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    Ok(InboundMessage {
        provider_message_id: own_id,
        thread_key,
        identities: vec![Identity::email(address).verified()],
        display_name,
        text,
        attachments,
        sent_at,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(pairs: &[(&str, &str)]) -> Post {
        Post {
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Post::default()
        }
    }

    fn unknown(_: &str) -> Result<Option<String>, PluginError> {
        Ok(None)
    }

    fn email(m: &InboundMessage) -> &str {
        match m.identities.as_slice() {
            [i] if let Identity::Email(e) = &i.identity => e,
            other => panic!("expected one email identity, got {other:?}"),
        }
    }

    fn meta<'a>(m: &'a InboundMessage, key: &str) -> Option<&'a str> {
        m.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_new_mail_starts_its_own_thread() {
        let p = post(&[
            ("sender", "Sheena.Nelson@example.com"),
            ("from", "Sheena Nelson <sheena.nelson@example.com>"),
            ("subject", "Order 4821"),
            ("body-plain", "Hello,\r\n\r\nwhere is it?\r\n\r\nSheena\r\n"),
            ("stripped-text", "Hello,\r\n\r\nwhere is it?"),
            ("recipient", "support@shop.example.com"),
            ("timestamp", "1749420000"),
            (
                "message-headers",
                r#"[["Message-ID", "<m1@mail.example.com>"], ["Date", "Mon, 09 Jun 2025 22:00:00 +0000"]]"#,
            ),
        ]);
        let m = message(&p, unknown).unwrap();
        assert_eq!(m.provider_message_id, "<m1@mail.example.com>");
        assert_eq!(m.thread_key, "<m1@mail.example.com>");
        assert_eq!(email(&m), "Sheena.Nelson@example.com");
        assert_eq!(m.display_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(m.text, "Hello,\r\n\r\nwhere is it?");
        assert_eq!(m.sent_at, Some(1_749_506_400_000));
        assert_eq!(meta(&m, keys::SUBJECT), Some("Order 4821"));
        assert_eq!(meta(&m, keys::MESSAGE_ID), Some("<m1@mail.example.com>"));
        assert_eq!(
            meta(&m, keys::BODY),
            Some("Hello,\r\n\r\nwhere is it?\r\n\r\nSheena\r\n")
        );
        assert_eq!(meta(&m, keys::RECIPIENT), Some("support@shop.example.com"));
        assert_eq!(meta(&m, keys::REFERENCES), None);
    }

    #[test]
    fn replies_join_the_root_of_their_references() {
        let p = post(&[
            ("from", "s@example.com"),
            ("Message-Id", "<m2@x>"),
            (
                "message-headers",
                r#"[["In-Reply-To", "<ours@shop>"], ["references", "<m1@x> <ours@shop>"]]"#,
            ),
            ("timestamp", "10"),
        ]);
        let m = message(&p, unknown).unwrap();
        assert_eq!(m.thread_key, "<m1@x>");
        assert_eq!(email(&m), "s@example.com");
        assert_eq!(m.display_name, None);
        assert_eq!(m.sent_at, Some(10_000));
        assert_eq!(meta(&m, keys::REFERENCES), Some("<m1@x> <ours@shop>"));
        assert_eq!(meta(&m, keys::IN_REPLY_TO), Some("<ours@shop>"));
    }

    #[test]
    fn in_reply_to_maps_through_sent_mail() {
        let p = post(&[
            ("sender", "s@example.com"),
            ("Message-Id", "<m3@x>"),
            ("message-headers", r#"[["In-Reply-To", "<ours@shop>"]]"#),
        ]);
        let resolve = |id: &str| Ok((id == "<ours@shop>").then(|| "<m1@x>".to_string()));
        assert_eq!(message(&p, resolve).unwrap().thread_key, "<m1@x>");
        // Unknown: the parent id itself is the thread.
        assert_eq!(message(&p, unknown).unwrap().thread_key, "<ours@shop>");
    }

    #[test]
    fn text_falls_back_to_the_full_body() {
        let p = post(&[
            ("sender", "s@example.com"),
            ("Message-Id", "<m@x>"),
            ("body-plain", "only body\r\n"),
            ("stripped-text", "  "),
        ]);
        assert_eq!(message(&p, unknown).unwrap().text, "only body");
    }

    #[test]
    fn bad_input_is_a_bad_request() {
        let no_sender = post(&[("Message-Id", "<m@x>")]);
        assert!(message(&no_sender, unknown).is_err());
        let bad_headers = post(&[
            ("sender", "s@example.com"),
            ("Message-Id", "<m@x>"),
            ("message-headers", "{not json"),
        ]);
        assert!(message(&bad_headers, unknown).is_err());
        let no_id = post(&[("sender", "s@example.com")]);
        assert!(message(&no_id, unknown).is_err());
        let token_only = post(&[("sender", "s@example.com"), ("token", "abc")]);
        assert_eq!(
            message(&token_only, unknown).unwrap().provider_message_id,
            "<mailgun-abc@switchboard.invalid>"
        );
    }

    #[test]
    fn only_id_safe_tokens_stand_in_for_a_message_id() {
        // Found by fuzzing (email_post): a token with spaces or brackets
        // made an id that a reply wrote back and the next mail read as
        // another one.
        for token in ["a b", "<m1@x>", "x>y", "a\0b"] {
            let p = post(&[("sender", "s@example.com"), ("token", token)]);
            let e = message(&p, unknown).unwrap_err();
            assert_eq!(e.kind, switchboard_sdk::ErrorKind::BadRequest, "{token:?}");
        }
        let p = post(&[("sender", "s@example.com"), ("token", " 9f2c-A_1.b ")]);
        assert_eq!(
            message(&p, unknown).unwrap().provider_message_id,
            "<mailgun-9f2c-A_1.b@switchboard.invalid>"
        );
    }

    #[test]
    fn stored_attachments_keep_their_url() {
        let p = post(&[
            ("sender", "s@example.com"),
            ("Message-Id", "<m@x>"),
            (
                "attachments",
                r#"[{"url": "https://storage.mailgun.net/v3/a", "content-type": "image/png", "name": "a.png", "size": 12}]"#,
            ),
        ]);
        let m = message(&p, unknown).unwrap();
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].content_type, "image/png");
        assert_eq!(m.attachments[0].filename.as_deref(), Some("a.png"));
        assert_eq!(
            m.attachments[0].url.as_deref(),
            Some("https://storage.mailgun.net/v3/a")
        );
    }
}
