//! Redaction before storage: text a customer, an agent or a bot writes
//! passes through here before it is stored, logged, shown to a bot, sent
//! to a CRM or put in an event, so a card number typed into a chat never
//! exists anywhere but in the provider's copy.
//!
//! Detectors are a table: the built-in ones ([`BUILT_IN`]: a name, a
//! pattern, a replacement, an optional check of each match) and the
//! admin's `[[redaction.patterns]]`. Adding one is a line.

use std::borrow::Cow;

use regex::Regex;

use crate::config::{PatternRule, RedactionConfig};
use crate::kind::Kind;

/// A built-in detector: name, pattern, replacement, and a check a match
/// must pass to be redacted.
type BuiltIn = (
    &'static str,
    &'static str,
    &'static str,
    Option<fn(&str) -> bool>,
);

/// The detectors that ship with the host.
pub const BUILT_IN: &[BuiltIn] = &[
    // 13-19 digits, single spaces or dashes between them; only numbers
    // passing the Luhn check, so an order or tracking number survives.
    ("card", r"\b\d(?:[ -]?\d){12,18}\b", "[CARD]", Some(luhn)),
];

/// One compiled detector and where it applies.
#[derive(Debug, Clone)]
struct Detector {
    name: String,
    regex: Regex,
    replacement: String,
    check: Option<fn(&str) -> bool>,
    channels: Vec<String>,
    kinds: Vec<Kind>,
}

impl Detector {
    fn applies(&self, channel: &str, kind: Kind) -> bool {
        (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// The configured detectors.
#[derive(Debug, Clone)]
pub struct Redactor {
    detectors: Vec<Detector>,
}

/// Text after redaction, and which detectors fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    /// The text to keep.
    pub text: String,
    /// Names of the detectors that replaced something, each once.
    pub hits: Vec<String>,
}

impl Redactor {
    /// From `[redaction]`.
    pub fn new(config: &RedactionConfig) -> Redactor {
        let built_in = BUILT_IN
            .iter()
            .filter(|(name, ..)| *name != "card" || config.cards)
            .map(|&(name, pattern, replacement, check)| Detector {
                name: name.to_string(),
                regex: Regex::new(pattern).expect("built-in patterns compile"),
                replacement: replacement.to_string(),
                check,
                channels: Vec::new(),
                kinds: Vec::new(),
            });
        let configured = config.patterns.iter().map(|rule: &PatternRule| Detector {
            name: rule.name.clone(),
            regex: rule.pattern.0.clone(),
            replacement: rule.replacement.clone(),
            check: None,
            channels: rule.channels.clone(),
            kinds: rule.kinds.clone(),
        });
        Redactor {
            detectors: built_in.chain(configured).collect(),
        }
    }

    /// `text` as it may be kept on `channel` (of `kind`); counts each hit
    /// in `switchboard_redactions_total`.
    pub fn redact(&self, channel: &str, kind: Kind, text: &str) -> Redacted {
        let mut out = Cow::Borrowed(text);
        let mut hits = Vec::new();
        for detector in self.detectors.iter().filter(|d| d.applies(channel, kind)) {
            let mut found = 0u64;
            let replaced = detector
                .regex
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    let matched = &caps[0];
                    if detector.check.is_none_or(|check| check(matched)) {
                        found += 1;
                        detector.replacement.clone()
                    } else {
                        matched.to_string()
                    }
                });
            if found > 0 {
                out = Cow::Owned(replaced.into_owned());
                hits.push(detector.name.clone());
                metrics::counter!(
                    "switchboard_redactions_total",
                    "detector" => detector.name.clone(),
                    "channel" => channel.to_string()
                )
                .increment(found);
            }
        }
        Redacted {
            text: out.into_owned(),
            hits,
        }
    }
}

/// Whether the digits of `candidate` (separators ignored) pass the Luhn
/// check.
pub fn luhn(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(config: &RedactionConfig, text: &str) -> Redacted {
        Redactor::new(config).redact("whatsapp", Kind::Messaging, text)
    }

    #[test]
    fn card_numbers_are_masked_and_order_numbers_kept() {
        let on = RedactionConfig::default();
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011 0009 9013 9424",
        ] {
            let r = redact(&on, &format!("my card is {card}, thanks"));
            assert_eq!(r.text, "my card is [CARD], thanks", "{card}");
            assert_eq!(r.hits, ["card"]);
        }
        // 16 digits failing Luhn: an order number stays.
        let order = redact(&on, "order 4111111111111112 is late");
        assert_eq!(order.text, "order 4111111111111112 is late");
        assert!(order.hits.is_empty());
        // Too short, or digits inside a word: not a card.
        for kept in ["call 4111 1111 111", "ref AB4111111111111111"] {
            assert_eq!(redact(&on, kept).text, kept);
        }
        let off = RedactionConfig {
            cards: false,
            ..RedactionConfig::default()
        };
        assert_eq!(redact(&off, "4111111111111111").text, "4111111111111111");
    }

    #[test]
    fn configured_patterns_apply_where_they_are_scoped() {
        let config: RedactionConfig = toml::from_str(
            r#"
            [[patterns]]
            name = "uk-nino"
            pattern = '\b[A-CEGHJ-PR-TW-Z]{2}\d{6}[A-D]\b'
            replacement = "[NINO]"
            channels = ["whatsapp"]
            "#,
        )
        .unwrap();
        let r = redact(&config, "NI AB123456C and card 4111111111111111");
        assert_eq!(r.text, "NI [NINO] and card [CARD]");
        assert_eq!(r.hits, ["card", "uk-nino"]);
        let elsewhere = Redactor::new(&config).redact("sms", Kind::Messaging, "AB123456C");
        assert_eq!(elsewhere.text, "AB123456C");
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_a_config_error() {
        let err = toml::from_str::<RedactionConfig>(
            r#"
            [[patterns]]
            name = "bad"
            pattern = "(unclosed"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid pattern"), "{err}");
    }
}
