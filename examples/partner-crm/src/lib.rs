//! The Acme CRM connector: an example of a CRM plugin built by a partner,
//! outside the Switchboard repository's workspace, against
//! `switchboard-sdk` alone.
//!
//! Acme's integration API is event based: Switchboard posts every customer
//! event as one JSON document to `{api_base}/switchboard/events`, and Acme
//! answers profile attributes at
//! `{api_base}/switchboard/customers/{id}/attributes`. Both carry the API key
//! in the `x-api-key` header.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_sdk::{
    Author, Crm, CrmEvent, Customer, Direction, Identity, Metadata, PluginError, TimelineEntry,
    config, http, now_ms,
};

struct AcmeCrm;

impl Crm for AcmeCrm {
    fn on_event(event: &CrmEvent) -> Result<(), PluginError> {
        let settings = Settings::read()?;
        let (document, key) = Event::from(event, settings.send_transcripts);
        let mut request = http::Request::post(format!("{}/switchboard/events", settings.api_base))
            .header("x-api-key", &settings.api_key)
            .json(&document);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        check(http::send(request)?).map(drop)
    }

    fn enrich(customer: &Customer) -> Result<Metadata, PluginError> {
        let settings = Settings::read()?;
        let url = format!(
            "{}/switchboard/customers/{}/attributes",
            settings.api_base,
            encode(&customer.id)
        );
        let response = http::send(
            http::Request::get(url)
                .header("x-api-key", &settings.api_key)
                .header("accept", "application/json"),
        )?;
        if response.status == 404 {
            // Acme does not know this customer (yet): nothing to add.
            return Ok(Vec::new());
        }
        let answer: Attributes = check(response)?
            .json()
            .map_err(|e| PluginError::unavailable(format!("Acme answered: {e}")))?;
        Ok(answer
            .attributes
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(s) => Some((name, s)),
                serde_json::Value::Number(n) => Some((name, n.to_string())),
                serde_json::Value::Bool(b) => Some((name, b.to_string())),
                _ => None,
            })
            .collect())
    }
}

switchboard_sdk::register_crm!(AcmeCrm);

/// The plugin's configuration (`[plugins.partner-crm.config]`).
struct Settings {
    api_base: String,
    api_key: String,
    send_transcripts: bool,
}

impl Settings {
    fn read() -> Result<Settings, PluginError> {
        Ok(Settings {
            api_base: config::require("api_base")?
                .trim_end_matches('/')
                .to_string(),
            api_key: config::require("api_key")?,
            send_transcripts: config::parse("send_transcripts")?.unwrap_or(true),
        })
    }
}

/// A 2xx answer, or the error that tells the host what to do: retry later
/// (`unavailable`: 408, 425, 429, 5xx) or dead-letter (`bad-request`).
fn check(response: http::Response) -> Result<http::Response, PluginError> {
    if response.is_success() {
        return Ok(response);
    }
    let text = response.text();
    let message = format!(
        "Acme answered {}: {}",
        response.status,
        text.chars().take(300).collect::<String>()
    );
    Err(
        if matches!(response.status, 408 | 425 | 429) || response.status >= 500 {
            PluginError::unavailable(message)
        } else {
            PluginError::bad_request(message)
        },
    )
}

/// What `GET …/attributes` answers.
#[derive(Deserialize)]
struct Attributes {
    #[serde(default)]
    attributes: BTreeMap<String, serde_json::Value>,
}

/// The document posted to `/switchboard/events`.
#[derive(Serialize)]
struct Event {
    /// `customer_created`, `customer_updated`, `customers_merged`,
    /// `interaction_logged`, `conversation_closed` or `note_added`.
    event: &'static str,
    /// When Switchboard sent it (unix ms).
    sent_at: u64,
    customer: Profile,
    #[serde(skip_serializing_if = "Option::is_none")]
    merged_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<Conversation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<Note>,
}

/// An agent's internal note on a conversation.
#[derive(Serialize)]
struct Note {
    id: String,
    at: u64,
    conversation_id: String,
    channel: String,
    author: String,
    text: String,
}

#[derive(Serialize)]
struct Profile {
    id: String,
    display_name: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    attributes: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Message {
    id: String,
    at: u64,
    channel: String,
    conversation_id: String,
    direction: &'static str,
    author: &'static str,
    text: String,
    attachments: usize,
}

#[derive(Serialize)]
struct Conversation {
    id: String,
    channel: String,
    disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<Vec<Message>>,
}

impl Event {
    /// The document for `event` and, for events that must not be recorded
    /// twice, an idempotency key (a retried event carries the same key, so
    /// Acme can drop a duplicate; an update is harmless to apply twice).
    fn from(event: &CrmEvent, send_transcripts: bool) -> (Event, Option<String>) {
        let document = |name: &'static str, customer: &Customer| Event {
            event: name,
            sent_at: now_ms(),
            customer: Profile::from(customer),
            merged_id: None,
            message: None,
            conversation: None,
            note: None,
        };
        match event {
            CrmEvent::CustomerCreated(c) => (
                document("customer_created", c),
                Some(format!("created-{}", c.id)),
            ),
            CrmEvent::CustomerUpdated(c) => (document("customer_updated", c), None),
            CrmEvent::CustomersMerged(m) => {
                let mut doc = document("customers_merged", &m.survivor);
                doc.merged_id = Some(m.merged_id.clone());
                (doc, Some(format!("merged-{}", m.merged_id)))
            }
            CrmEvent::InteractionLogged(i) => {
                let mut doc = document("interaction_logged", &i.customer);
                doc.message = Some(Message::from(&i.entry));
                (doc, Some(format!("message-{}", i.entry.id)))
            }
            CrmEvent::ConversationClosed(c) => {
                let mut doc = document("conversation_closed", &c.customer);
                doc.conversation = Some(Conversation {
                    id: c.conversation_id.clone(),
                    channel: c.channel.clone(),
                    disposition: c.disposition.clone(),
                    transcript: send_transcripts
                        .then(|| c.transcript.iter().map(Message::from).collect()),
                });
                (doc, Some(format!("closed-{}", c.conversation_id)))
            }
            CrmEvent::NoteAdded(n) => {
                let mut doc = document("note_added", &n.customer);
                doc.note = Some(Note {
                    id: n.id.clone(),
                    at: n.at,
                    conversation_id: n.conversation_id.clone(),
                    channel: n.channel.clone(),
                    author: n.author.clone(),
                    text: n.text.clone(),
                });
                (doc, Some(format!("note-{}", n.id)))
            }
            // The partner's CRM takes the erasure like any event; its
            // receiver deletes what it holds about the profile.
            CrmEvent::CustomerErased(e) => (
                document("customer_erased", &e.customer),
                Some(format!("erased-{}", e.customer.id)),
            ),
        }
    }
}

impl Profile {
    fn from(c: &Customer) -> Profile {
        let mut emails = Vec::new();
        let mut phones = Vec::new();
        // Only what the customer is known by: a claim is not theirs.
        for identity in c.verified_identities() {
            match identity {
                Identity::Email(e) => emails.push(e.clone()),
                Identity::Phone(p) => phones.push(p.clone()),
                Identity::Handle(_) => {}
            }
        }
        Profile {
            id: c.id.clone(),
            display_name: c.display_name.clone(),
            emails,
            phones,
            attributes: c.attributes.iter().cloned().collect(),
        }
    }
}

impl Message {
    fn from(e: &TimelineEntry) -> Message {
        Message {
            id: e.id.clone(),
            at: e.at,
            channel: e.channel.clone(),
            conversation_id: e.conversation_id.clone(),
            direction: match e.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            },
            author: match e.author {
                Author::Customer => "customer",
                Author::Agent => "agent",
                Author::Bot => "bot",
                Author::System => "system",
            },
            text: e.text.clone(),
            attachments: e.attachments.len(),
        }
    }
}

/// Percent-encodes a path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
