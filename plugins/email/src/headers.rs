//! Email header values read with `mail-parser`: message ids, addresses and
//! dates are parsed by the library (comments, quoting, encoded words,
//! obsolete syntax), never by hand.
//!
//! Mailgun hands headers over one by one (form fields and the
//! `message-headers` list), so each value is parsed as a one-header message
//! `Name: value`.

use mail_parser::{Address, DateTime, HeaderName, HeaderValue, Message, MessageParser};

/// Parses `name: value` as a message holding only that header and reads it
/// with `read`. Line breaks in `value` are flattened first, so a value can
/// never smuggle in another header.
fn with_header<T>(
    name: &str,
    value: &str,
    read: impl FnOnce(&Message<'_>) -> Option<T>,
) -> Option<T> {
    let flat: String = value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect();
    let raw = format!("{name}: {}\r\n\r\n", flat.trim());
    let message = MessageParser::default().parse_headers(raw.as_bytes())?;
    read(&message)
}

/// The message ids in a `Message-Id`, `In-Reply-To` or `References` value,
/// in order and without duplicates, each in its canonical `<id>` form.
pub fn message_ids(value: &str) -> Vec<String> {
    let parsed = with_header("References", value, |m| {
        let ids = match m.header(HeaderName::References)? {
            HeaderValue::Text(id) => vec![id.to_string()],
            HeaderValue::TextList(ids) => ids.iter().map(|id| id.to_string()).collect(),
            _ => Vec::new(),
        };
        Some(ids)
    })
    .unwrap_or_default();
    let mut ids: Vec<String> = Vec::new();
    for id in parsed {
        let id = id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        if id.is_empty() || !writable_id(id) {
            continue;
        }
        let canonical = format!("<{id}>");
        if !ids.contains(&canonical) {
            ids.push(canonical);
        }
    }
    ids
}

/// Whether an id can be written back (`<id>`, space-separated in a reply's
/// `References`) and read as the same id. One with angle brackets,
/// whitespace or control characters inside cannot: it would thread the
/// customer's answer somewhere else.
fn writable_id(id: &str) -> bool {
    !id.chars()
        .any(|c| c == '<' || c == '>' || c.is_whitespace() || c.is_control())
}

/// The first message id in a value, in its canonical `<id>` form.
pub fn message_id(value: &str) -> Option<String> {
    message_ids(value).into_iter().next()
}

/// One mailbox: the display name, if any, and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, e.g. `Sheena Nelson`.
    pub name: Option<String>,
    /// The address, e.g. `sheena.nelson@example.com`.
    pub address: String,
}

/// The first mailbox of an address-list value such as a `From` header
/// (`"Sheena Nelson" <sheena.nelson@example.com>`, `a@b.c (Ann)`, a group...).
pub fn first_mailbox(value: &str) -> Option<Mailbox> {
    with_header("From", value, |m| {
        let addr = match m.header(HeaderName::From)? {
            HeaderValue::Address(address) => first_addr(address)?,
            _ => return None,
        };
        let address = addr.address()?.trim();
        if !looks_like_address(address) {
            return None;
        }
        let name = addr
            .name()
            .map(str::trim)
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(address))
            .map(String::from);
        Some(Mailbox {
            name,
            address: address.to_string(),
        })
    })
}

fn first_addr<'a, 'x>(address: &'a Address<'x>) -> Option<&'a mail_parser::Addr<'x>> {
    address.iter().find(|a| a.address().is_some())
}

/// Whether `address` has the `local@domain` shape of an email address.
pub fn looks_like_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// A `Date` header value as unix milliseconds, when it parses as a valid
/// date after 1970.
pub fn date_ms(value: &str) -> Option<u64> {
    with_header("Date", value, |m| match m.header(HeaderName::Date)? {
        HeaderValue::DateTime(date) => to_ms(date),
        _ => None,
    })
}

fn to_ms(date: &DateTime) -> Option<u64> {
    if !date.is_valid() {
        return None;
    }
    u64::try_from(date.to_timestamp()).ok()?.checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_canonical_and_deduplicated() {
        assert_eq!(
            message_ids("<CAB7d9f2a+x1@mail.example.com> <reply-1@shop.example.com>"),
            [
                "<CAB7d9f2a+x1@mail.example.com>",
                "<reply-1@shop.example.com>"
            ]
        );
        assert_eq!(message_ids(" <a@b>\r\n\t<c@d> <a@b>"), ["<a@b>", "<c@d>"]);
        assert_eq!(message_id("<only@one>"), Some("<only@one>".into()));
        // Broken clients send ids without brackets.
        assert_eq!(message_id("bare@id"), Some("<bare@id>".into()));
        assert!(message_ids("").is_empty());
        assert!(message_ids("<>").is_empty());
    }

    #[test]
    fn ids_that_would_not_read_back_are_dropped() {
        // Found by fuzzing (email_headers): these came out as `<a<b@c>` and
        // the like, which a reply's `References` wrote back and the next
        // mail read as another id, threading the answer elsewhere.
        assert_eq!(message_ids("<a<b@c> <ok@x>"), ["<ok@x>"]);
        assert_eq!(message_ids("x<>@y <d@e>"), ["<d@e>"]);
        assert_eq!(message_ids("<a\0b@c> <d@e>"), ["<d@e>"]);
        assert!(message_ids("<a b@c>").is_empty());
        let found = "\0\"Nelson, Sheena\"<>@\0<>";
        let ids = message_ids(found);
        assert_eq!(message_ids(&ids.join(" ")), ids);
    }

    #[test]
    fn ids_cannot_inject_headers() {
        assert_eq!(message_ids("<a@b>\r\nFrom: x@y"), ["<a@b>"]);
    }

    #[test]
    fn mailboxes_parse_names_and_addresses() {
        assert_eq!(
            first_mailbox("Sheena Nelson <sheena.nelson@example.com>"),
            Some(Mailbox {
                name: Some("Sheena Nelson".into()),
                address: "sheena.nelson@example.com".into()
            })
        );
        assert_eq!(
            first_mailbox("\"Nelson, Sheena\" <s@example.com>, other@example.com")
                .and_then(|m| m.name),
            Some("Nelson, Sheena".into())
        );
        assert_eq!(
            first_mailbox("=?utf-8?q?Ren=C3=A9e?= <r@example.com>").and_then(|m| m.name),
            Some("Renée".into())
        );
        assert_eq!(
            first_mailbox("plain@example.com"),
            Some(Mailbox {
                name: None,
                address: "plain@example.com".into()
            })
        );
        assert_eq!(first_mailbox("not an address"), None);
        assert_eq!(first_mailbox(""), None);
    }

    #[test]
    fn dates_parse_to_milliseconds() {
        assert_eq!(
            date_ms("Mon, 09 Jun 2025 22:00:00 +0000"),
            Some(1_749_506_400_000)
        );
        assert_eq!(
            date_ms("Mon, 09 Jun 2025 15:00:00 -0700"),
            Some(1_749_506_400_000)
        );
        assert_eq!(date_ms("yesterday"), None);
        assert_eq!(date_ms(""), None);
    }
}
