//! The channel kind: what a channel carries, which decides an agent's
//! capacity, SLA targets and routing. A leaf, so configuration and every
//! domain module can name kinds without importing each other.

use serde::{Deserialize, Serialize};

use crate::wit::types as wit;

/// What a channel carries; decides capacity and SLA.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Calls.
    Voice,
    /// Web chat.
    Chat,
    /// WhatsApp, SMS.
    Messaging,
    /// Email.
    Email,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Voice, Kind::Chat, Kind::Messaging, Kind::Email];

    /// `voice`, `chat`, `messaging` or `email`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Voice => "voice",
            Kind::Chat => "chat",
            Kind::Messaging => "messaging",
            Kind::Email => "email",
        }
    }

    /// From the plugin contract.
    pub fn from_wit(kind: wit::ChannelKind) -> Kind {
        match kind {
            wit::ChannelKind::Voice => Kind::Voice,
            wit::ChannelKind::Chat => Kind::Chat,
            wit::ChannelKind::Messaging => Kind::Messaging,
            wit::ChannelKind::Email => Kind::Email,
        }
    }

    /// To the plugin contract.
    pub fn to_wit(self) -> wit::ChannelKind {
        match self {
            Kind::Voice => wit::ChannelKind::Voice,
            Kind::Chat => wit::ChannelKind::Chat,
            Kind::Messaging => wit::ChannelKind::Messaging,
            Kind::Email => wit::ChannelKind::Email,
        }
    }
}
