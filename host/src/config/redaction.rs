//! `[redaction]`: what is masked in message text before anything stores,
//! logs or forwards it — payment card numbers by default, and patterns an
//! admin adds (a national id format, an account number).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::kind::Kind;

/// `[redaction]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Payment card numbers (13-19 digits, spaces or dashes between them,
    /// passing the Luhn check) become `[CARD]`. On by default.
    pub cards: bool,
    /// More detectors, tried after the built-in ones.
    pub patterns: Vec<PatternRule>,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            cards: true,
            patterns: Vec::new(),
        }
    }
}

/// `[[redaction.patterns]]`: one admin-configured detector.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    /// Names it in `/metrics` and on redacted messages, e.g. `uk-nino`.
    pub name: String,
    /// A regular expression (Rust `regex` syntax); every match is replaced.
    pub pattern: Pattern,
    /// What a match becomes (default `[REDACTED]`).
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// Only on these channels (plugin names); empty: every channel.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Only on channels of these kinds; empty: every kind.
    #[serde(default)]
    pub kinds: Vec<Kind>,
}

fn default_replacement() -> String {
    "[REDACTED]".into()
}

/// A compiled regular expression read from the config: a pattern that does
/// not compile is a config error naming its line, not a failure later.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::RegexBuilder::new(&text)
            // A pattern is the admin's, but its automaton still costs
            // memory on every message: bound it.
            .size_limit(1 << 20)
            .build()
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("invalid pattern `{text}`: {e}")))
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}
