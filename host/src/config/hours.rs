//! `[hours]`: business-hours calendars (an IANA time zone, weekly opening
//! hours, holidays and exceptional days), which channels they govern, and
//! what a customer who writes while closed is told.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kind::Kind;

/// `[hours]`. No calendar: every channel is always open.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoursConfig {
    /// The calendars, by name (`[hours.calendars.support]`).
    pub calendars: BTreeMap<String, CalendarConfig>,
    /// The calendar of channels none is assigned to (none: always open).
    pub default: Option<String>,
    /// The calendar per channel kind (`voice = "phones"`).
    pub kinds: BTreeMap<Kind, String>,
    /// … per channel (plugin name), over its kind's (`webchat = "chat"`).
    pub channels: BTreeMap<String, String>,
    /// What a customer who writes on a messaging, chat or email channel
    /// while it is closed is told, once per conversation, per language
    /// (`en`, `de`…; her profile's `language` attribute picks, else `en`).
    /// `{next_open}` becomes the next opening time in the calendar's time
    /// zone. Empty (`auto_reply = {}`): no auto-reply.
    pub auto_reply: BTreeMap<String, String>,
}

impl Default for HoursConfig {
    fn default() -> Self {
        HoursConfig {
            calendars: BTreeMap::new(),
            default: None,
            kinds: BTreeMap::new(),
            channels: BTreeMap::new(),
            auto_reply: BTreeMap::from([("en".to_string(), Self::DEFAULT_AUTO_REPLY.to_string())]),
        }
    }
}

/// One calendar.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Opening hours per weekday (`mon` … `sun`), each a list of
    /// `"HH:MM-HH:MM"` (local time; `24:00` ends a day). A day left out is
    /// closed.
    pub weekly: BTreeMap<String, Vec<String>>,
    /// Whole days closed, `YYYY-MM-DD` (local).
    pub holidays: Vec<String>,
    /// Days with other hours than their weekday's (`"2026-12-24" =
    /// ["09:00-12:00"]`; an empty list is closed).
    pub exceptions: BTreeMap<String, Vec<String>>,
}

impl HoursConfig {
    /// The built-in auto-reply text for `en` when none is configured.
    pub const DEFAULT_AUTO_REPLY: &str = "Thanks for your message. We're closed right now and will answer when we open again ({next_open}).";
}
