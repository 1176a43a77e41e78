//! Opt-outs on messaging channels: a customer's STOP (or another
//! configured keyword) is recorded on her profile for that channel,
//! confirmed once, and from then on nothing but that confirmation is sent
//! there — agents' replies are refused (409) and anything already queued
//! fails — until she writes START.

use crate::audit::AuditEntry;
use crate::config::ConsentConfig;
use crate::customers::{Consent, ConsentStatus, Customer};
use crate::kind::Kind;
use crate::store::Batch;

use super::{Core, CoreError};

/// The metadata key marking an outbound notice the host sends on its own.
pub(super) const NOTICE_KEY: &str = "notice";
/// … whose value for a consent confirmation, which an opt-out lets through.
pub(super) const CONSENT_NOTICE: &str = "consent";

/// The configured keywords, normalized.
pub(super) struct ConsentRules {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
    opt_out_reply: String,
    opt_in_reply: String,
    /// The longest keyword, in bytes: longer messages are not looked at.
    longest: usize,
}

impl ConsentRules {
    /// From `[consent]`.
    pub fn new(config: &ConsentConfig) -> Self {
        let norm = |words: &[String]| words.iter().map(|w| normalize(w)).collect::<Vec<_>>();
        let (opt_out, opt_in) = (
            norm(&config.opt_out_keywords),
            norm(&config.opt_in_keywords),
        );
        ConsentRules {
            longest: opt_out
                .iter()
                .chain(&opt_in)
                .map(String::len)
                .max()
                .unwrap_or(0),
            opt_out,
            opt_in,
            opt_out_reply: config.opt_out_reply.clone(),
            opt_in_reply: config.opt_in_reply.clone(),
        }
    }

    /// What a messaging customer's `text` decides, if it is a keyword: the
    /// new status and the keyword as she wrote it.
    pub fn keyword(&self, kind: Kind, text: &str) -> Option<(ConsentStatus, String)> {
        // Every inbound message passes here: a sentence is no keyword, and
        // needs no upper-cased copy to say so. (Case mapping can change a
        // word's length in bytes — `ſ` is `S` — hence the margin.)
        if kind != Kind::Messaging || bare(text).len() > self.longest * 3 {
            return None;
        }
        let word = normalize(text);
        if self.opt_out.contains(&word) {
            Some((ConsentStatus::OptedOut, word))
        } else if self.opt_in.contains(&word) {
            Some((ConsentStatus::OptedIn, word))
        } else {
            None
        }
    }

    /// The confirmation for a change to `status`.
    pub fn reply(&self, status: ConsentStatus) -> &str {
        match status {
            ConsentStatus::OptedOut => &self.opt_out_reply,
            ConsentStatus::OptedIn => &self.opt_in_reply,
        }
    }
}

/// Upper case, without surrounding spaces and trailing punctuation
/// (`Stop.` is STOP).
fn normalize(text: &str) -> String {
    bare(text).to_uppercase()
}

/// Without surrounding spaces and trailing punctuation.
fn bare(text: &str) -> &str {
    text.trim()
        .trim_end_matches(|c: char| c.is_ascii_punctuation())
        .trim()
}

/// The record of a keyword `word` setting `status` at `now`.
pub(super) fn keyword_consent(status: ConsentStatus, word: &str, now: u64) -> Consent {
    Consent {
        status,
        at: now,
        source: format!("keyword {word}"),
    }
}

/// Why nothing may be sent to `customer` on `channel`, if she opted out.
pub(super) fn refusal(customer: &Customer, channel: &str) -> Option<String> {
    customer.opted_out(channel).map(|c| {
        format!(
            "the customer opted out of messages on {channel} ({}, on {}); nothing is sent \
             there until she opts back in (e.g. by writing START)",
            c.source,
            chrono::DateTime::from_timestamp_millis(c.at as i64).map_or_else(
                || c.at.to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string()
            )
        )
    })
}

/// The metadata key a channel sets on an inbound message when the customer
/// gave consent in its own interface (the web chat widget's checkbox):
/// `granted`. Documented in contract 0.4.
pub const CONSENT_KEY: &str = "switchboard-consent";
/// What she agreed to, as the interface showed it (optional).
pub const CONSENT_TEXT_KEY: &str = "switchboard-consent-text";
/// Longest consent text kept, in characters.
const MAX_CONSENT_TEXT: usize = 300;

impl Core {
    /// Records the consent a channel reports in an inbound message's
    /// `metadata` ([`CONSENT_KEY`] = `granted`) on the customer's profile
    /// for `channel`, and audits it; anything else is ignored. Returns
    /// whether a record was written.
    pub(super) fn record_reported_consent(
        &self,
        batch: &mut Batch,
        customer: &str,
        channel: &str,
        metadata: &[(String, String)],
        now: u64,
    ) -> Result<bool, CoreError> {
        let value = |key: &str| super::callbacks::meta(metadata, key).map(str::trim);
        if value(CONSENT_KEY) != Some("granted") {
            return Ok(false);
        }
        let text: String = value(CONSENT_TEXT_KEY)
            .unwrap_or_default()
            .chars()
            .take(MAX_CONSENT_TEXT)
            .collect();
        let source = if text.is_empty() {
            "widget".to_string()
        } else {
            format!("widget: {text}")
        };
        let record = Consent {
            status: ConsentStatus::OptedIn,
            at: now,
            source: source.clone(),
        };
        if self.customers.get(customer)?.is_some_and(|c| {
            c.consent
                .get(channel)
                .is_some_and(|c| c.status == ConsentStatus::OptedIn)
        }) {
            return Ok(false);
        }
        self.customers
            .set_consent(batch, customer, channel, record)?;
        let mut entry = AuditEntry::new("consent.granted", customer, "customer", now);
        entry.targets = vec![customer.to_string(), channel.to_string()];
        entry.reason = format!("{source} on {channel}");
        self.audit.record(batch, entry)?;
        Ok(true)
    }

    /// 409 when the conversation's customer opted out of its channel.
    pub(super) fn check_consent(&self, customer: &str, channel: &str) -> Result<(), CoreError> {
        match self.customers.get(customer)? {
            Some(c) => match refusal(&c, channel) {
                Some(why) => Err(CoreError::Conflict(why)),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_whole_messages_in_any_case() {
        let rules = ConsentRules::new(&ConsentConfig::default());
        assert_eq!(
            rules.keyword(Kind::Messaging, " stop. "),
            Some((ConsentStatus::OptedOut, "STOP".into()))
        );
        assert_eq!(
            rules.keyword(Kind::Messaging, "Start"),
            Some((ConsentStatus::OptedIn, "START".into()))
        );
        assert_eq!(rules.keyword(Kind::Messaging, "please stop calling"), None);
        // Email and chat have their own ways to unsubscribe.
        assert_eq!(rules.keyword(Kind::Email, "STOP"), None);
    }
}
