//! Identity normalization: the same person written two ways must match.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What kind of address an identity is.
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
pub enum IdentityKind {
    /// An email address, trimmed and lowercased.
    Email,
    /// A phone number in E.164.
    Phone,
    /// A channel handle, `channel:value`.
    Handle,
}

impl IdentityKind {
    /// `email`, `phone` or `handle`.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Email => "email",
            IdentityKind::Phone => "phone",
            IdentityKind::Handle => "handle",
        }
    }
}

/// How the host knows an identity belongs to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// Authenticated by the provider (or vouched for by the website): links
    /// and merges profiles.
    Verified,
    /// Typed by the sender: shown as a claim, never evidence.
    Claimed,
}

impl Trust {
    /// From the plugin contract.
    pub fn from_wit(trust: crate::wit::types::Trust) -> Trust {
        match trust {
            crate::wit::types::Trust::Verified => Trust::Verified,
            crate::wit::types::Trust::Claimed => Trust::Claimed,
        }
    }

    /// To the plugin contract.
    pub fn to_wit(self) -> crate::wit::types::Trust {
        match self {
            Trust::Verified => crate::wit::types::Trust::Verified,
            Trust::Claimed => crate::wit::types::Trust::Claimed,
        }
    }
}

/// A normalized identity, as stored and compared.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Identity {
    /// The kind.
    pub kind: IdentityKind,
    /// The normalized value: `sheena@example.com`, `+16505551234`,
    /// `webchat:session-42`.
    pub value: String,
}

/// An identity that cannot be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not an email address.
    #[error("`{0}` is not an email address")]
    Email(String),
    /// Not a phone number.
    #[error("`{0}` is not a phone number: {1}")]
    Phone(String, String),
    /// An empty handle, or a channel with a `:` (which would read back as
    /// another handle from `channel:value`).
    #[error("a handle needs a channel (without `:`) and a value")]
    Handle,
    /// Not `kind:value`.
    #[error("expected `email:…`, `phone:…` or `handle:<channel>:<value>`, got `{0}`")]
    Syntax(String),
    /// Not a region code (the default region for national numbers).
    #[error("`{0}` is not a region code (e.g. US, GB, DE)")]
    Region(String),
}

/// Normalizes identities with a default region for national phone numbers.
#[derive(Debug, Clone)]
pub struct Normalizer {
    region: phonenumber::country::Id,
}

impl Normalizer {
    /// A normalizer for `region` (ISO 3166 alpha-2, e.g. `US`).
    pub fn new(region: &str) -> Result<Self, IdentityError> {
        let region = phonenumber::country::Id::from_str(&region.trim().to_ascii_uppercase())
            .map_err(|_| IdentityError::Region(region.to_string()))?;
        Ok(Normalizer { region })
    }

    /// Trims and lowercases an email.
    pub fn email(&self, raw: &str) -> Result<Identity, IdentityError> {
        let value = raw.trim().to_lowercase();
        let valid = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !value.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if !valid {
            return Err(IdentityError::Email(raw.to_string()));
        }
        Ok(Identity {
            kind: IdentityKind::Email,
            value,
        })
    }

    /// Parses a phone number (E.164, international or national in the
    /// default region) into E.164.
    pub fn phone(&self, raw: &str) -> Result<Identity, IdentityError> {
        let trimmed = raw.trim();
        // Providers prefix numbers with a scheme (`whatsapp:+1…`, `tel:+1…`).
        let trimmed = trimmed
            .strip_prefix("whatsapp:")
            .or_else(|| trimmed.strip_prefix("tel:"))
            .unwrap_or(trimmed);
        let e164 = |text: &str| {
            phonenumber::parse(Some(self.region), text)
                .map(|number| number.format().mode(phonenumber::Mode::E164).to_string())
                .map_err(|e| IdentityError::Phone(raw.to_string(), e.to_string()))
        };
        // Some numbers parse with a national prefix kept (`+49 0…`) that
        // their E.164 form, parsed again, drops: keep the form that parses
        // to itself, or a look-up by the stored value would miss it.
        let mut value = e164(trimmed)?;
        for _ in 0..3 {
            let again = e164(&value)?;
            if again == value {
                if value.len() < 4 {
                    return Err(IdentityError::Phone(raw.to_string(), "too short".into()));
                }
                return Ok(Identity {
                    kind: IdentityKind::Phone,
                    value,
                });
            }
            value = again;
        }
        Err(IdentityError::Phone(
            raw.to_string(),
            "no stable E.164 form".into(),
        ))
    }

    /// A channel handle. The channel cannot hold a `:`: the stored form is
    /// `channel:value`, read back by splitting at the first `:`.
    pub fn handle(&self, channel: &str, value: &str) -> Result<Identity, IdentityError> {
        let (channel, value) = (channel.trim(), value.trim());
        if channel.is_empty() || value.is_empty() || channel.contains(':') {
            return Err(IdentityError::Handle);
        }
        Ok(Identity {
            kind: IdentityKind::Handle,
            value: format!("{channel}:{value}"),
        })
    }

    /// Parses `email:a@b.c`, `phone:+1555…` or `handle:webchat:abc`.
    pub fn parse(&self, text: &str) -> Result<Identity, IdentityError> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| IdentityError::Syntax(text.to_string()))?;
        match kind.trim().to_ascii_lowercase().as_str() {
            "email" => self.email(value),
            "phone" => self.phone(value),
            "handle" => {
                let (channel, value) = value
                    .split_once(':')
                    .ok_or_else(|| IdentityError::Syntax(text.to_string()))?;
                self.handle(channel, value)
            }
            _ => Err(IdentityError::Syntax(text.to_string())),
        }
    }

    /// Normalizes an identity a plugin attested.
    pub fn from_wit(
        &self,
        identity: &crate::wit::types::Identity,
    ) -> Result<Identity, IdentityError> {
        use crate::wit::types::Identity as W;
        match identity {
            W::Email(e) => self.email(e),
            W::Phone(p) => self.phone(p),
            W::Handle(h) => self.handle(&h.channel, &h.value),
        }
    }
}

impl Identity {
    /// A handle's channel and value (`webchat`, the session id); `None`
    /// for an email or a phone.
    pub fn handle_parts(&self) -> Option<(&str, &str)> {
        (self.kind == IdentityKind::Handle)
            .then(|| self.value.split_once(':'))
            .flatten()
    }

    /// The index key, `kind:value`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }

    /// The identity as plugins see it.
    pub fn to_wit(&self) -> crate::wit::types::Identity {
        use crate::wit::types::{Handle, Identity as W};
        match self.kind {
            IdentityKind::Email => W::Email(self.value.clone()),
            IdentityKind::Phone => W::Phone(self.value.clone()),
            IdentityKind::Handle => {
                let (channel, value) = self.value.split_once(':').unwrap_or(("", &self.value));
                W::Handle(Handle {
                    channel: channel.to_string(),
                    value: value.to_string(),
                })
            }
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_trim_and_lowercase() {
        let n = Normalizer::new("US").unwrap();
        assert_eq!(
            n.email("Sheena.Nelson@Example.com ").unwrap(),
            n.email("sheena.nelson@example.com").unwrap()
        );
        assert!(n.email("not an email").is_err());
        assert!(n.email("@example.com").is_err());
    }

    #[test]
    fn phones_become_e164() {
        let n = Normalizer::new("US").unwrap();
        for raw in [
            "+1 (650) 555-1234",
            "16505551234",
            "+16505551234",
            "(650) 555-1234",
            "whatsapp:+16505551234",
        ] {
            assert_eq!(n.phone(raw).unwrap().value, "+16505551234", "{raw}");
        }
        let gb = Normalizer::new("gb").unwrap();
        assert_eq!(gb.phone("020 7946 0018").unwrap().value, "+442079460018");
        assert!(n.phone("hello").is_err());
        assert!(Normalizer::new("XX").is_err());
    }

    #[test]
    fn phones_normalize_to_a_form_that_reads_back() {
        // Found by fuzzing (identity): this came out as +49020794600189,
        // which normalizes to +4920794600189, so the stored identity could
        // not be found by its own value.
        let de = Normalizer::new("DE").unwrap();
        let found = de.phone("tel:ßemail:\u{16}00020 7946 00189)").unwrap();
        assert_eq!(found.value, "+4920794600189");
        assert_eq!(de.phone(&found.value), Ok(found.clone()));
        assert_eq!(de.phone("+49020794600189"), Ok(found));
    }

    #[test]
    fn parse_lookups() {
        let n = Normalizer::new("US").unwrap();
        assert_eq!(
            n.parse("phone:6505551234").unwrap().key(),
            "phone:+16505551234"
        );
        assert_eq!(
            n.parse("handle:webchat:abc").unwrap().key(),
            "handle:webchat:abc"
        );
        assert!(n.parse("fax:123").is_err());
        assert!(n.parse("nothing").is_err());
    }

    #[test]
    fn handles_read_back_from_their_key() {
        // Found by fuzzing (identity): a channel holding `:` made a handle
        // whose key read back as another handle, or as none.
        let n = Normalizer::new("US").unwrap();
        assert_eq!(n.handle(":x", "v"), Err(IdentityError::Handle));
        assert_eq!(n.handle("a :", "b"), Err(IdentityError::Handle));
        let id = n.handle(" webchat ", " a:b ").unwrap();
        assert_eq!(id.value, "webchat:a:b");
        assert_eq!(n.parse(&id.key()), Ok(id.clone()));
        assert_eq!(n.from_wit(&id.to_wit()), Ok(id));
    }
}
