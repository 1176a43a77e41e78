//! What the connector sends and reads, without any I/O: the configuration,
//! contact, activity and note bodies, enrichment, and how CRM answers are
//! classified. Everything here is unit-tested natively.

use serde_json::{Map, Value, json};
use switchboard_sdk::{
    Author, ConversationNote, Customer, Direction, Identity, PluginError, TimelineEntry,
};

/// Where a contact field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The profile's best known name.
    DisplayName,
    /// The profile's first email.
    Email,
    /// The profile's first phone number.
    Phone,
    /// A profile attribute.
    Attribute(String),
}

impl Source {
    fn parse(raw: &str) -> Result<Source, String> {
        match raw.trim() {
            "display_name" => Ok(Source::DisplayName),
            "email" => Ok(Source::Email),
            "phone" => Ok(Source::Phone),
            other => match other.strip_prefix("attribute:") {
                Some(name) if !name.trim().is_empty() => {
                    Ok(Source::Attribute(name.trim().to_string()))
                }
                _ => Err(format!(
                    "`{raw}` is not a source (display_name, email, phone or attribute:<name>)"
                )),
            },
        }
    }

    /// The value for `customer`, if it has one.
    pub fn value(&self, customer: &Customer) -> Option<String> {
        let value = match self {
            Source::DisplayName => customer.display_name.clone(),
            Source::Email => emails(customer).next().map(str::to_string),
            Source::Phone => phones(customer).next().map(str::to_string),
            Source::Attribute(name) => attribute(customer, name).map(str::to_string),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

/// The connector's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API root, without a trailing `/`.
    pub api_base: String,
    /// The bearer token.
    pub token: String,
    /// First-byte timeout of each request.
    pub request_timeout_ms: u64,
    /// Contact field → source.
    pub fields: Vec<(String, Source)>,
    /// Contact field (dotted path) → profile attribute.
    pub enrich_fields: Vec<(String, String)>,
}

/// A configuration problem. The event is dead-lettered (not retried): the
/// admin fixes the configuration and redrives.
fn misconfigured(message: impl Into<String>) -> PluginError {
    PluginError::bad_request(format!("rest-crm configuration: {}", message.into()))
}

impl Settings {
    /// Reads the settings through `get` (the host's `config-get`).
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Settings, PluginError> {
        let value = |key: &str| get(key).filter(|v| !v.trim().is_empty());
        let api_base = value("api_base")
            .ok_or_else(|| misconfigured("`api_base` is not set"))?
            .trim()
            .trim_end_matches('/')
            .to_string();
        if !api_base.starts_with("http://") && !api_base.starts_with("https://") {
            return Err(misconfigured(format!(
                "`api_base` must be an http(s) URL, not `{api_base}`"
            )));
        }
        let token = value("token")
            .ok_or_else(|| misconfigured("`token` is not set"))?
            .trim()
            .to_string();
        let request_timeout_ms = match value("request_timeout_ms") {
            None => 3_000,
            Some(raw) => raw
                .trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| misconfigured("`request_timeout_ms` must be a positive number"))?,
        };
        let fields = match get("fields") {
            None => default_fields(),
            Some(raw) => table("fields", &raw)?
                .into_iter()
                .map(|(field, source)| {
                    Source::parse(&source)
                        .map(|s| (field.clone(), s))
                        .map_err(|e| misconfigured(format!("`fields.{field}`: {e}")))
                })
                .collect::<Result<_, _>>()?,
        };
        let enrich_fields = match get("enrich_fields") {
            None => vec![
                ("owner".to_string(), "account_owner".to_string()),
                ("tier".to_string(), "tier".to_string()),
            ],
            Some(raw) => table("enrich_fields", &raw)?,
        };
        if let Some((field, _)) = enrich_fields.iter().find(|(_, a)| a.trim().is_empty()) {
            return Err(misconfigured(format!(
                "`enrich_fields.{field}` names no attribute"
            )));
        }
        Ok(Settings {
            api_base,
            token,
            request_timeout_ms,
            fields,
            enrich_fields,
        })
    }

    /// The contact fields to write for `customer`: the mapped fields it has
    /// values for, and `external_id` (the host's customer id).
    pub fn contact_body(&self, customer: &Customer) -> Value {
        let mut body = Map::new();
        for (field, source) in &self.fields {
            if let Some(value) = source.value(customer) {
                body.insert(field.clone(), Value::String(value));
            }
        }
        body.insert("external_id".into(), Value::String(customer.id.clone()));
        Value::Object(body)
    }

    /// The profile attributes a CRM contact yields: every `enrich_fields`
    /// entry the contact has a scalar value for, as strings.
    pub fn attributes_from(&self, contact: &Value) -> Vec<(String, String)> {
        self.enrich_fields
            .iter()
            .filter_map(|(field, attribute)| {
                let value = field.split('.').try_fold(contact, |v, part| v.get(part))?;
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                (!text.trim().is_empty()).then(|| (attribute.clone(), text))
            })
            .collect()
    }
}

fn default_fields() -> Vec<(String, Source)> {
    vec![
        ("email".to_string(), Source::Email),
        ("name".to_string(), Source::DisplayName),
        ("phone".to_string(), Source::Phone),
    ]
}

/// A config table of strings (passed by the host as a JSON object).
fn table(key: &str, raw: &str) -> Result<Vec<(String, String)>, PluginError> {
    let parsed: Map<String, Value> = serde_json::from_str(raw)
        .map_err(|_| misconfigured(format!("`{key}` must be a table of strings")))?;
    parsed
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(misconfigured(format!("`{key}.{k}` must be a string"))),
        })
        .collect()
}

/// The customer's emails, in profile order.
pub fn emails(customer: &Customer) -> impl Iterator<Item = &str> {
    customer.verified_identities().filter_map(|i| match i {
        Identity::Email(e) => Some(e.as_str()),
        _ => None,
    })
}

/// The customer's phone numbers, in profile order.
pub fn phones(customer: &Customer) -> impl Iterator<Item = &str> {
    customer.verified_identities().filter_map(|i| match i {
        Identity::Phone(p) => Some(p.as_str()),
        _ => None,
    })
}

/// A profile attribute.
pub fn attribute<'a>(customer: &'a Customer, name: &str) -> Option<&'a str> {
    customer
        .attributes
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

fn author(a: Author) -> &'static str {
    match a {
        Author::Customer => "customer",
        Author::Agent => "agent",
        Author::Bot => "bot",
        Author::System => "system",
    }
}

/// `POST {api_base}/contacts/{id}/activities` for one message.
pub fn activity_body(entry: &TimelineEntry) -> Value {
    json!({
        "type": "message",
        "channel": entry.channel,
        "direction": direction(entry.direction),
        "author": author(entry.author),
        "text": entry.text,
        "at": entry.at,
        "conversation_id": entry.conversation_id,
        "message_id": entry.id,
    })
}

/// `POST {api_base}/contacts/{id}/notes` for a closed conversation: the
/// transcript as `[author] text` lines.
pub fn note_body(
    conversation_id: &str,
    channel: &str,
    disposition: Option<&str>,
    transcript: &[TimelineEntry],
) -> Value {
    let body = transcript
        .iter()
        .map(|e| format!("[{}] {}", author(e.author), e.text))
        .collect::<Vec<_>>()
        .join("\n");
    json!({
        "title": format!("Conversation on {channel}"),
        "body": body,
        "disposition": disposition,
        "conversation_id": conversation_id,
    })
}

/// The note for an agent's internal note on a conversation.
pub fn internal_note_body(note: &ConversationNote) -> Value {
    json!({
        "title": format!("Internal note by {}", note.author),
        "body": note.text,
        "internal": true,
        "conversation_id": note.conversation_id,
        "channel": note.channel,
        "at": note.at,
    })
}

/// The contacts in a search answer (`{"contacts": [...]}`); anything else
/// reads as none.
pub fn contacts(answer: &Value) -> Vec<Value> {
    answer
        .get("contacts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A contact's (or a create answer's) `id`, as a string.
pub fn contact_id(contact: &Value) -> Option<String> {
    match contact.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// How a non-2xx answer is reported: 408, 425, 429 and 5xx are
/// `unavailable` (the host retries), anything else `bad-request` (the host
/// dead-letters).
pub fn status_error(status: u16, what: &str, body: &[u8]) -> PluginError {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    let message = format!("CRM answered {status} to {what}: {}", text.trim());
    if matches!(status, 408 | 425 | 429) || status >= 500 {
        PluginError::unavailable(message)
    } else {
        PluginError::bad_request(message)
    }
}

/// Percent-encodes a query value or path segment (everything but RFC 3986
/// unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use switchboard_sdk::ErrorKind;

    fn retryable(e: &PluginError) -> bool {
        e.kind == ErrorKind::Unavailable
    }

    fn config(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |key| map.get(key).cloned()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("api_base", "https://crm.test/api/"), ("token", "t0k")]
    }

    fn ann() -> Customer {
        Customer {
            id: "cust-1".into(),
            display_name: Some("Ann Lee".into()),
            identities: vec![
                Identity::handle("webchat", "s1").verified(),
                Identity::phone("+16505551234").verified(),
                Identity::email("ann@example.com").verified(),
                Identity::email("ann@work.example.com").verified(),
                // A claim is not the customer's: never sent to the CRM.
                Identity::email("someone-else@example.com").claimed(),
            ],
            attributes: vec![("plan".into(), "gold".into())],
        }
    }

    fn entry(author: Author, direction: Direction, text: &str) -> TimelineEntry {
        TimelineEntry {
            id: "m1".into(),
            at: 1_700_000_000_000,
            channel: "whatsapp".into(),
            conversation_id: "conv-1".into(),
            direction,
            author,
            text: text.into(),
            attachments: Vec::new(),
            status: None,
        }
    }

    #[test]
    fn a_claim_never_finds_or_fills_a_contact() {
        let s = Settings::read(config(&base())).unwrap();
        let visitor = Customer {
            id: "cust-2".into(),
            display_name: None,
            identities: vec![
                Identity::handle("webchat", "s2").verified(),
                Identity::email("ann@example.com").claimed(),
                Identity::phone("+16505551234").claimed(),
            ],
            attributes: Vec::new(),
        };
        assert_eq!(emails(&visitor).count(), 0);
        assert_eq!(phones(&visitor).count(), 0);
        assert_eq!(s.contact_body(&visitor), json!({"external_id": "cust-2"}));
    }

    #[test]
    fn defaults_map_name_email_and_phone() {
        let s = Settings::read(config(&base())).unwrap();
        assert_eq!(s.api_base, "https://crm.test/api");
        assert_eq!(s.request_timeout_ms, 3_000);
        assert_eq!(
            s.contact_body(&ann()),
            json!({"name": "Ann Lee", "email": "ann@example.com", "phone": "+16505551234",
                   "external_id": "cust-1"})
        );
        let vip = json!({"id": "c1", "tier": "vip", "owner": "Dana"});
        assert_eq!(
            s.attributes_from(&vip),
            vec![
                ("account_owner".to_string(), "Dana".to_string()),
                ("tier".to_string(), "vip".to_string())
            ]
        );
    }

    #[test]
    fn configured_fields_read_attributes_and_skip_missing_values() {
        let mut pairs = base();
        pairs.push((
            "fields",
            r#"{"full_name": "display_name", "plan": "attribute:plan", "region": "attribute:region"}"#,
        ));
        pairs.push((
            "enrich_fields",
            r#"{"account.tier": "tier", "score": "score", "vip": "vip", "gone": "gone"}"#,
        ));
        pairs.push(("request_timeout_ms", "500"));
        let s = Settings::read(config(&pairs)).unwrap();
        assert_eq!(s.request_timeout_ms, 500);
        assert_eq!(
            s.contact_body(&ann()),
            json!({"full_name": "Ann Lee", "plan": "gold", "external_id": "cust-1"})
        );
        let contact = json!({"id": 7, "account": {"tier": "vip"}, "score": 42, "vip": true,
                             "gone": null});
        let mut attrs = s.attributes_from(&contact);
        attrs.sort();
        assert_eq!(
            attrs,
            vec![
                ("score".to_string(), "42".to_string()),
                ("tier".to_string(), "vip".to_string()),
                ("vip".to_string(), "true".to_string())
            ]
        );
        assert_eq!(contact_id(&contact).as_deref(), Some("7"));
    }

    #[test]
    fn empty_enrich_fields_disable_enrichment() {
        let mut pairs = base();
        pairs.push(("enrich_fields", "{}"));
        let s = Settings::read(config(&pairs)).unwrap();
        assert!(s.enrich_fields.is_empty());
    }

    #[test]
    fn bad_configuration_is_a_permanent_error() {
        for pairs in [
            vec![("token", "t")],
            vec![("api_base", "https://crm.test")],
            vec![("api_base", "crm.test"), ("token", "t")],
            vec![
                ("api_base", "https://crm.test"),
                ("token", "t"),
                ("fields", r#"{"name": "nickname"}"#),
            ],
            vec![
                ("api_base", "https://crm.test"),
                ("token", "t"),
                ("fields", r#"{"name": 3}"#),
            ],
            vec![
                ("api_base", "https://crm.test"),
                ("token", "t"),
                ("fields", "not json"),
            ],
            vec![
                ("api_base", "https://crm.test"),
                ("token", "t"),
                ("request_timeout_ms", "soon"),
            ],
        ] {
            let e = Settings::read(config(&pairs)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::BadRequest, "{pairs:?}: {}", e.message);
            assert!(!e.message.contains("t0k"));
        }
    }

    #[test]
    fn activities_and_notes() {
        let e = entry(Author::Customer, Direction::Inbound, "hi");
        assert_eq!(
            activity_body(&e),
            json!({"type": "message", "channel": "whatsapp", "direction": "inbound",
                   "author": "customer", "text": "hi", "at": 1_700_000_000_000u64,
                   "conversation_id": "conv-1", "message_id": "m1"})
        );
        let transcript = [
            e,
            entry(Author::Agent, Direction::Outbound, "hello"),
            entry(Author::Customer, Direction::Inbound, "thanks"),
        ];
        assert_eq!(
            note_body("conv-1", "whatsapp", Some("resolved"), &transcript),
            json!({"title": "Conversation on whatsapp",
                   "body": "[customer] hi\n[agent] hello\n[customer] thanks",
                   "disposition": "resolved", "conversation_id": "conv-1"})
        );
        assert_eq!(note_body("c", "sms", None, &[])["disposition"], Value::Null);
    }

    #[test]
    fn statuses_are_classified() {
        for status in [408, 425, 429, 500, 502, 503] {
            assert!(retryable(&status_error(status, "GET /contacts", b"")));
        }
        for status in [400, 401, 403, 404, 409, 422] {
            let e = status_error(status, "POST /contacts", b"{\"error\":\"invalid\"}");
            assert_eq!(e.kind, ErrorKind::BadRequest);
            assert!(e.message.contains(&status.to_string()));
            assert!(e.message.contains("invalid"));
        }
    }

    #[test]
    fn search_answers_and_encoding() {
        assert_eq!(contacts(&json!({"ok": true})), Vec::<Value>::new());
        assert_eq!(contacts(&json!({"contacts": [{"id": "c1"}]})).len(), 1);
        assert_eq!(contact_id(&json!({"id": ""})), None);
        assert_eq!(encode("ann+x@example.com"), "ann%2Bx%40example.com");
        assert_eq!(encode("+16505551234"), "%2B16505551234");
        assert_eq!(encode("a b/c~d"), "a%20b%2Fc~d");
    }
}
