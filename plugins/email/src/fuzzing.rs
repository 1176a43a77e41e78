//! The properties of the Mailgun post parser (form and MIME), the header
//! readers and threading, checked by the fuzz targets `email_post` and
//! `email_headers` (`fuzz/`) and, for a bounded time, by `cargo test`.

use arbitrary::{Result, Unstructured};
use serde_json::{Value, json};
use switchboard_sdk::fuzzing::{assert_client_error, encode_form, object, pairs, word};
use switchboard_sdk::{ErrorKind, Identity, OutboundMessage, PluginError};

use crate::headers::{date_ms, first_mailbox, looks_like_address, message_id, message_ids};
use crate::inbound::{self, keys};
use crate::outbound;
use crate::post::Post;

/// The fields of a Mailgun post.
const FIELDS: &[&str] = &[
    "recipient",
    "sender",
    "from",
    "From",
    "subject",
    "body-plain",
    "stripped-text",
    "message-headers",
    "Message-Id",
    "attachment-1",
    "attachment-count",
    "attachments",
    "timestamp",
    "token",
    "signature",
    "References",
    "In-Reply-To",
    "Date",
];

/// Header names inside `message-headers`.
const HEADERS: &[&str] = &[
    "From",
    "Message-Id",
    "Message-ID",
    "References",
    "In-Reply-To",
    "Date",
    "Subject",
];

/// The pieces header values are made of.
const TOKENS: &[&str] = &[
    "<m1@mail.example.com>",
    "<ours@shop>",
    "bare@id",
    "<",
    ">",
    "<>",
    "@",
    " ",
    "\t",
    "\r\n",
    ",",
    ";",
    ":",
    "\"",
    "\"Nelson, Sheena\"",
    "(comment)",
    "=?utf-8?q?Ren=C3=A9e?=",
    "=?utf-8?b?w6k=?=",
    "Sheena Nelson",
    "sheena@example.com",
    "<s@example.com>",
    "Mon, 09 Jun 2025 22:00:00 +0000",
    "Fri, 31 Dec 9999 23:59:59 -9999",
    "1749420000",
    "group:",
    "\\",
    "é",
    "\u{0}",
];

/// A header value: tokens run together, or arbitrary text.
fn header_value(u: &mut Unstructured<'_>) -> Result<String> {
    let mut value = String::new();
    for _ in 0..u.int_in_range(0..=8)? {
        value.push_str(&word(u, TOKENS)?);
    }
    Ok(value)
}

/// A field value: a header value, or JSON for the fields that hold JSON.
fn field_value(u: &mut Unstructured<'_>, name: &str) -> Result<String> {
    let value = match name {
        "message-headers" if u.ratio(3, 4)? => {
            let list = (0..u.int_in_range(0..=6)?)
                .map(|_| Ok(json!([word(u, HEADERS)?, header_value(u)?])))
                .collect::<Result<Vec<_>>>()?;
            Value::Array(list).to_string()
        }
        "attachments" if u.ratio(3, 4)? => {
            let list = (0..u.int_in_range(0..=3)?)
                .map(|_| object(u, &["url", "content-type", "name", "size"], TOKENS, 1))
                .collect::<Result<Vec<_>>>()?;
            Value::Array(list).to_string()
        }
        _ => header_value(u)?,
    };
    Ok(value)
}

/// A `multipart/form-data` body with boundary `b`, sometimes damaged.
fn multipart(u: &mut Unstructured<'_>, fields: &[(String, String)]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=\"");
        body.extend_from_slice(name.as_bytes());
        body.push(b'"');
        if u.ratio(1, 4)? {
            body.extend_from_slice(format!("; filename=\"{}\"", word(u, TOKENS)?).as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if u.ratio(1, 3)? {
            let ct = word(
                u,
                &["text/plain; charset=utf-8", "application/pdf", "image"],
            )?;
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        if u.ratio(1, 4)? {
            let cte = word(u, &["base64", "quoted-printable", "8bit"])?;
            body.extend_from_slice(format!("Content-Transfer-Encoding: {cte}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--b--\r\n");
    if u.ratio(1, 4)? {
        let cut = u.choose_index(body.len() + 1)?;
        body.truncate(cut);
        body.extend_from_slice(u.arbitrary()?);
    }
    Ok(body)
}

/// A request body and its `Content-Type`, shaped like Mailgun's posts or
/// not at all.
fn request(u: &mut Unstructured<'_>) -> Result<(Option<String>, Vec<u8>)> {
    let mut fields = Vec::new();
    // What a message needs, most of the time, then anything.
    for (name, usual) in [
        (
            "sender",
            &["sheena@example.com", "Sheena Nelson <s@example.com>"][..],
        ),
        ("Message-Id", &["<m2@mail.example.com>", "bare@id"][..]),
    ] {
        if u.ratio(3, 4)? {
            let value = if u.ratio(2, 3)? {
                u.choose(usual)?.to_string()
            } else {
                header_value(u)?
            };
            fields.push((name.to_string(), value));
        }
    }
    for (name, _) in pairs(u, FIELDS, &[])? {
        let value = field_value(u, &name)?;
        fields.push((name, value));
    }
    Ok(match u.choose_index(4)? {
        0 => (
            Some("multipart/form-data; boundary=b".into()),
            multipart(u, &fields)?,
        ),
        1 => (
            Some("application/x-www-form-urlencoded".into()),
            encode_form(&fields),
        ),
        2 => (u.arbitrary()?, multipart(u, &fields)?),
        _ => (u.arbitrary()?, u.arbitrary()?),
    })
}

/// Any post parses into one message or a client error (or the thread
/// store's own error). A message comes from one verified email address,
/// has a `<id>`, and a reply to it keeps the thread: `In-Reply-To` is its
/// id and `References` its references followed by its id.
pub fn post(u: &mut Unstructured<'_>) -> Result<()> {
    let (content_type, body) = request(u)?;
    let known_thread: Option<String> = u.arbitrary()?;
    let store_down = u.ratio(1, 8)?;
    let post = match Post::parse(content_type.as_deref(), body) {
        Ok(post) => post,
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    let resolve = |_: &str| {
        if store_down {
            Err(PluginError::unavailable("the thread store is down"))
        } else {
            Ok(known_thread.clone())
        }
    };
    let m = match inbound::message(&post, resolve) {
        Ok(m) => m,
        Err(e) if store_down && e.kind == ErrorKind::Unavailable => return Ok(()),
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    let [sender] = m.identities.as_slice() else {
        panic!("one sender identity: {m:?}");
    };
    let Identity::Email(address) = &sender.identity else {
        panic!("the sender is an email address: {m:?}");
    };
    assert!(sender.is_verified() && looks_like_address(address), "{m:?}");
    assert!(m.provider_message_id.starts_with('<') && m.provider_message_id.ends_with('>'));
    assert!(!m.thread_key.is_empty() || known_thread.as_deref() == Some(""));

    let reply = OutboundMessage {
        message_id: "msg_1".into(),
        conversation_id: "conv_1".into(),
        thread_key: m.thread_key.clone(),
        to: sender.identity.clone(),
        text: "On its way".into(),
        attachments: Vec::new(),
        in_reply_to: Some(m.provider_message_id.clone()),
        metadata: m.metadata.clone(),
        template: None,
    };
    let form = outbound::form(&reply, "support@shop.example.com").expect("a reply to an email");
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("h:In-Reply-To"), Some(m.provider_message_id.as_str()));
    let mut expected = m
        .metadata
        .iter()
        .find(|(k, _)| k == keys::REFERENCES)
        .map(|(_, v)| message_ids(v))
        .unwrap_or_default();
    if !expected.contains(&m.provider_message_id) {
        expected.push(m.provider_message_id.clone());
    }
    assert_eq!(
        get("h:References").map(message_ids),
        Some(expected),
        "{m:?}"
    );
    Ok(())
}

/// The header readers take any value: ids come out canonical (`<id>`,
/// no duplicates) and read back the same when written out, as a reply's
/// `References` is; a mailbox has an address; a date is whole seconds.
pub fn headers(u: &mut Unstructured<'_>) -> Result<()> {
    let value = if u.ratio(1, 4)? {
        u.arbitrary::<String>()?
    } else {
        header_value(u)?
    };
    let ids = message_ids(&value);
    for (i, id) in ids.iter().enumerate() {
        assert!(
            id.len() > 2 && id.starts_with('<') && id.ends_with('>'),
            "{ids:?}"
        );
        assert!(!ids[..i].contains(id), "{ids:?}");
    }
    assert_eq!(message_id(&value), ids.first().cloned());
    assert_eq!(message_ids(&ids.join(" ")), ids, "from {value:?}");
    if let Some(mailbox) = first_mailbox(&value) {
        assert!(looks_like_address(&mailbox.address), "{mailbox:?}");
        if let Some(name) = &mailbox.name {
            assert!(!name.is_empty() && name.trim() == name, "{mailbox:?}");
        }
    }
    if let Some(ms) = date_ms(&value) {
        assert_eq!(ms % 1000, 0);
    }
    let _ = outbound::reply_subject(Some(&value));
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;
    use switchboard_sdk::fuzzing::test_budget_ms;

    use super::*;

    #[test]
    fn posts_parse_and_thread_or_fail_cleanly() {
        arbtest(post).budget_ms(test_budget_ms());
    }

    #[test]
    fn a_soft_line_break_before_the_boundary_parses() {
        // Found by fuzzing (email_post): mail-parser 0.11 subtracts past
        // zero decoding this part, a panic with overflow checks on (see the
        // mail-parser profile in plugins/Cargo.toml).
        let body = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n--b--\r\n";
        let post = Post::parse(Some("multipart/form-data; boundary=b"), body.to_vec()).unwrap();
        assert!(post.field("x").is_some());
    }

    #[test]
    fn header_values_read_back_the_same() {
        arbtest(headers).budget_ms(test_budget_ms());
    }
}
