//! The property of the notification parser, checked by the fuzz target
//! `whatsapp_notification` (`fuzz/`) and, for a bounded time, by
//! `cargo test`.

use arbitrary::{Result, Unstructured};
use serde_json::{Map, Value, json};
use switchboard_sdk::fuzzing::{assert_client_error, json, object, word};
use switchboard_sdk::{ChannelEvent, Identity};

/// The fields of a notification's messages and statuses.
const KEYS: &[&str] = &[
    "text",
    "body",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "id",
    "mime_type",
    "caption",
    "filename",
    "animated",
    "location",
    "latitude",
    "longitude",
    "name",
    "address",
    "contacts",
    "phones",
    "phone",
    "emails",
    "email",
    "formatted_name",
    "interactive",
    "button_reply",
    "list_reply",
    "title",
    "description",
    "button",
    "payload",
    "reaction",
    "message_id",
    "emoji",
    "context",
    "errors",
    "code",
    "message",
    "error_data",
    "details",
    "status",
    "timestamp",
    "from",
    "type",
];

/// Values WhatsApp sends.
const WORDS: &[&str] = &[
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "unsupported",
    "sent",
    "delivered",
    "read",
    "failed",
    "deleted",
    "16505551234",
    "+16505551234",
    "1749420000",
    "",
    "wamid.HBgL",
];

/// A message or status: most of the time each of `required` (what the
/// parser needs to accept it), a field named after its `type`, and a
/// few arbitrary others.
fn record(u: &mut Unstructured<'_>, required: &[&str]) -> Result<Value> {
    let mut map = Map::new();
    for &key in required {
        if u.ratio(9, 10)? {
            map.insert(key.into(), Value::String(word(u, WORDS)?));
        }
    }
    if let Some(Value::String(kind)) = map.get("type").cloned() {
        map.insert(kind, object(u, KEYS, WORDS, 1)?);
    }
    let extra = if u.ratio(1, 4)? {
        u.int_in_range(1..=2)?
    } else {
        0
    };
    for _ in 0..extra {
        map.insert(word(u, KEYS)?, json(u, KEYS, WORDS, 2)?);
    }
    Ok(Value::Object(map))
}

/// Up to `max` records.
fn records(u: &mut Unstructured<'_>, max: usize, required: &[&str]) -> Result<Vec<Value>> {
    (0..u.int_in_range(0..=max)?)
        .map(|_| record(u, required))
        .collect()
}

/// A notification body: built like WhatsApp's, or arbitrary bytes.
fn body(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    if u.ratio(1, 5)? {
        return u.arbitrary();
    }
    let mut changes = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let messages = records(u, 3, &["from", "id", "type", "timestamp"])?;
        let statuses = records(u, 2, &["id", "status", "timestamp"])?;
        let mut contacts = Vec::new();
        for _ in 0..u.int_in_range(0..=2)? {
            contacts.push(if u.ratio(1, 5)? {
                object(u, &["wa_id", "profile", "name"], WORDS, 2)?
            } else {
                json!({"wa_id": word(u, WORDS)?, "profile": {"name": word(u, WORDS)?}})
            });
        }
        let metadata = if u.ratio(1, 5)? {
            object(u, &["display_phone_number", "phone_number_id"], WORDS, 0)?
        } else {
            json!({"display_phone_number": word(u, WORDS)?, "phone_number_id": word(u, WORDS)?})
        };
        changes.push(json!({"value": {
            "metadata": metadata,
            "contacts": contacts,
            "messages": messages,
            "statuses": statuses,
        }}));
    }
    let object = word(u, &["whatsapp_business_account", "", "page"])?;
    let payload = json!({"object": object, "entry": [{"changes": changes}]});
    Ok(serde_json::to_vec(&payload).expect("a JSON value serializes"))
}

/// Any body becomes events or a client error, and every message comes
/// from a verified phone number (`+` and the sender's `wa_id`).
pub fn notification(u: &mut Unstructured<'_>) -> Result<()> {
    let body = body(u)?;
    let events = match crate::parse_notification(&body) {
        Ok(events) => events,
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    for event in events {
        match event {
            ChannelEvent::Message(m) => {
                let [sender] = m.identities.as_slice() else {
                    panic!("one sender identity: {m:?}");
                };
                assert!(sender.is_verified());
                let Identity::Phone(phone) = &sender.identity else {
                    panic!("the sender is a phone number: {m:?}");
                };
                assert_eq!(
                    phone.strip_prefix('+'),
                    Some(m.thread_key.trim_start_matches('+'))
                );
            }
            ChannelEvent::Status(_) => {}
            ChannelEvent::Call(c) => panic!("WhatsApp carries no calls: {c:?}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;
    use switchboard_sdk::fuzzing::test_budget_ms;

    use super::*;

    #[test]
    fn notifications_parse_or_fail_cleanly() {
        arbtest(notification).budget_ms(test_budget_ms());
    }
}
