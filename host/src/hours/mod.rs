//! Business hours: when each channel is open. A calendar is an IANA time
//! zone (`chrono-tz`), weekly opening hours, holidays and exceptional days;
//! each channel follows the calendar assigned to it, its kind's, the
//! default, or none (always open). An admin or supervisor can force a
//! calendar open or closed for a while (an emergency closure, an evening
//! campaign): the override wins until it ends.
//!
//! A leaf: routing asks it whether a task's channel is open and how much
//! open time a task has waited; the core asks it what to tell a customer.

mod calendar;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::HoursConfig;
use crate::kind::Kind;

use calendar::Calendar;
pub use calendar::HoursError;

/// A forced state, set through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Override {
    /// Open (`true`) or closed.
    pub open: bool,
    /// Since when (unix ms).
    pub since: u64,
    /// Until when (unix ms); none: until it is lifted.
    pub until: Option<u64>,
    /// Who set it.
    pub by: String,
    /// Why, as they said.
    #[serde(default)]
    pub reason: String,
}

impl Override {
    fn covers(&self, at: u64) -> bool {
        at >= self.since && self.until.is_none_or(|u| at < u)
    }
}

/// What `GET /api/hours` says of one calendar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarStatus {
    /// Its name.
    pub name: String,
    /// Its time zone.
    pub time_zone: &'static str,
    /// Open now.
    pub open: bool,
    /// When that next changes (unix ms), if it does within a year: the
    /// closing of an open calendar, the opening of a closed one.
    pub next_change: Option<u64>,
    /// The next opening (unix ms), when closed now.
    pub next_open: Option<u64>,
    /// The next opening in the calendar's local time, e.g. `Mon 09:00`.
    pub next_open_local: Option<String>,
    /// A forced state in force now.
    #[serde(rename = "override")]
    pub override_: Option<Override>,
    /// The channels (plugin names) assigned to it.
    pub channels: Vec<String>,
    /// The channel kinds assigned to it.
    pub kinds: Vec<Kind>,
}

/// The calendars and who follows which, with the overrides in force.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Hours {
    calendars: Arc<BTreeMap<String, Calendar>>,
    default: Option<String>,
    kinds: Arc<BTreeMap<Kind, String>>,
    channels: Arc<BTreeMap<String, String>>,
    overrides: Arc<RwLock<HashMap<String, Override>>>,
}

impl Hours {
    /// From `[hours]`; an error names what is wrong.
    pub fn new(config: &HoursConfig) -> Result<Hours, HoursError> {
        let calendars: BTreeMap<String, Calendar> = config
            .calendars
            .iter()
            .map(|(name, c)| Ok((name.clone(), Calendar::parse(name, c)?)))
            .collect::<Result<_, HoursError>>()?;
        let known = |name: &String, whose: &str| {
            if calendars.contains_key(name) {
                Ok(())
            } else {
                Err(HoursError(format!(
                    "{whose} names calendar `{name}`, which is not defined"
                )))
            }
        };
        if let Some(d) = &config.default {
            known(d, "`default`")?;
        }
        for (k, c) in &config.kinds {
            known(c, &format!("kind {}", k.as_str()))?;
        }
        for (ch, c) in &config.channels {
            known(c, &format!("channel {ch}"))?;
        }
        Ok(Hours {
            calendars: Arc::new(calendars),
            default: config.default.clone(),
            kinds: Arc::new(config.kinds.clone()),
            channels: Arc::new(config.channels.clone()),
            overrides: Arc::default(),
        })
    }

    /// Whether any channel has business hours at all.
    pub fn any(&self) -> bool {
        !self.calendars.is_empty()
    }

    /// The calendar `channel` (of `kind`) follows, if any.
    pub fn calendar_of(&self, channel: &str, kind: Kind) -> Option<&str> {
        self.channels
            .get(channel)
            .or_else(|| self.kinds.get(&kind))
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    fn forced(&self, calendar: &str, at: u64) -> Option<Override> {
        let overrides = self.overrides.read().unwrap_or_else(|e| e.into_inner());
        overrides.get(calendar).filter(|o| o.covers(at)).cloned()
    }

    /// Whether `calendar` is open at `at` (an unknown one is).
    pub fn calendar_open(&self, calendar: &str, at: u64) -> bool {
        if let Some(o) = self.forced(calendar, at) {
            return o.open;
        }
        self.calendars.get(calendar).is_none_or(|c| c.is_open(at))
    }

    /// Whether `channel` (of `kind`) is open at `at`.
    pub fn open(&self, channel: &str, kind: Kind, at: u64) -> bool {
        // Asked for every waiting task in every dispatch round: most hosts
        // have no calendar at all.
        if self.calendars.is_empty() {
            return true;
        }
        self.calendar_of(channel, kind)
            .is_none_or(|c| self.calendar_open(c, at))
    }

    /// The first instant after `at` where `calendar`'s state may change:
    /// a schedule boundary, or an override's start or end.
    pub fn next_change(&self, calendar: &str, at: u64) -> Option<u64> {
        let schedule = self.calendars.get(calendar)?.next_boundary(at);
        let overrides = self.overrides.read().unwrap_or_else(|e| e.into_inner());
        let forced = overrides.get(calendar).and_then(|o| {
            [Some(o.since), o.until]
                .into_iter()
                .flatten()
                .find(|&t| t > at)
        });
        [schedule, forced].into_iter().flatten().min()
    }

    /// The first instant after `at` at which any calendar may change.
    pub fn next_change_any(&self, at: u64) -> Option<u64> {
        self.calendars
            .keys()
            .filter_map(|c| self.next_change(c, at))
            .min()
    }

    /// When `calendar` next opens after `at` (now, if open).
    pub fn next_open(&self, calendar: &str, at: u64) -> Option<u64> {
        if self.calendar_open(calendar, at) {
            return Some(at);
        }
        self.next_flip(calendar, at)
    }

    /// When `calendar` is next in the other state than at `at` (a span
    /// ending where the next begins is no change).
    pub fn next_flip(&self, calendar: &str, at: u64) -> Option<u64> {
        let now = self.calendar_open(calendar, at);
        let mut t = at;
        for _ in 0..2_000 {
            t = self.next_change(calendar, t)?;
            if self.calendar_open(calendar, t) != now {
                return Some(t);
            }
        }
        None
    }

    /// `at` in `calendar`'s local time, e.g. `Mon 2 Mar 09:00`.
    pub fn local_text(&self, calendar: &str, at: u64) -> String {
        match self.calendars.get(calendar) {
            Some(c) => c.local(at).format("%a %-d %b %H:%M").to_string(),
            None => String::new(),
        }
    }

    /// How much of `[from, to)` `channel` (of `kind`) was open, in ms: an
    /// SLA clock that stops while it is closed.
    pub fn open_ms(&self, channel: &str, kind: Kind, from: u64, to: u64) -> u64 {
        let Some(calendar) = self.calendar_of(channel, kind) else {
            return to.saturating_sub(from);
        };
        let (mut t, mut open_ms) = (from, 0);
        // Each step is a change of state: days, not milliseconds.
        for _ in 0..10_000 {
            if t >= to {
                break;
            }
            let end = self.next_change(calendar, t).map_or(to, |n| n.min(to));
            if self.calendar_open(calendar, t) {
                open_ms += end - t;
            }
            t = end;
        }
        open_ms
    }

    /// Sets (or, with `None`, lifts) the override of `calendar`.
    pub fn set_override(&self, calendar: &str, forced: Option<Override>) {
        let mut overrides = self.overrides.write().unwrap_or_else(|e| e.into_inner());
        match forced {
            Some(o) => overrides.insert(calendar.to_string(), o),
            None => overrides.remove(calendar),
        };
    }

    /// Whether `calendar` is defined.
    pub fn has(&self, calendar: &str) -> bool {
        self.calendars.contains_key(calendar)
    }

    /// Every calendar as it stands at `at`.
    pub fn status(&self, at: u64) -> Vec<CalendarStatus> {
        self.calendars
            .iter()
            .map(|(name, c)| {
                let open = self.calendar_open(name, at);
                let next_open = (!open).then(|| self.next_open(name, at)).flatten();
                CalendarStatus {
                    name: name.clone(),
                    time_zone: c.time_zone(),
                    open,
                    next_change: self.next_flip(name, at),
                    next_open,
                    next_open_local: next_open.map(|t| self.local_text(name, t)),
                    override_: self.forced(name, at),
                    channels: self
                        .channels
                        .iter()
                        .filter(|(_, c)| *c == name)
                        .map(|(ch, _)| ch.clone())
                        .collect(),
                    kinds: self
                        .kinds
                        .iter()
                        .filter(|(_, c)| *c == name)
                        .map(|(k, _)| *k)
                        .collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::calendar::DAYS;
    use super::*;
    use crate::config::CalendarConfig;
    use chrono::TimeZone;

    /// Unix ms of a UTC date-time.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> u64 {
        chrono::Utc
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .timestamp_millis() as u64
    }

    fn berlin() -> Hours {
        let mut calendar = CalendarConfig {
            time_zone: "Europe/Berlin".into(),
            holidays: vec!["2026-12-25".into()],
            ..Default::default()
        };
        for day in ["mon", "tue", "wed", "thu", "fri"] {
            calendar
                .weekly
                .insert(day.into(), vec!["09:00-12:00".into(), "13:00-17:00".into()]);
        }
        calendar
            .exceptions
            .insert("2026-12-24".into(), vec!["09:00-11:00".into()]);
        let mut config = HoursConfig::default();
        config.calendars.insert("support".into(), calendar);
        config.kinds.insert(Kind::Chat, "support".into());
        Hours::new(&config).unwrap()
    }

    #[test]
    fn open_by_the_local_week_with_holidays_and_exceptions() {
        let h = berlin();
        // Tue 1 Dec 2026, 09:30 in Berlin (UTC+1) is 08:30 UTC.
        assert!(h.open("webchat", Kind::Chat, utc(2026, 12, 1, 8, 30)));
        // Lunch, and before opening.
        assert!(!h.open("webchat", Kind::Chat, utc(2026, 12, 1, 11, 30)));
        assert!(!h.open("webchat", Kind::Chat, utc(2026, 12, 1, 7, 59)));
        // Saturday, Christmas, Christmas Eve's short day.
        assert!(!h.open("webchat", Kind::Chat, utc(2026, 12, 5, 10, 0)));
        assert!(!h.open("webchat", Kind::Chat, utc(2026, 12, 25, 10, 0)));
        assert!(h.open("webchat", Kind::Chat, utc(2026, 12, 24, 9, 0)));
        assert!(!h.open("webchat", Kind::Chat, utc(2026, 12, 24, 10, 30)));
        // Other kinds have no calendar: always open.
        assert!(h.open("sms", Kind::Messaging, utc(2026, 12, 5, 3, 0)));
    }

    #[test]
    fn the_next_opening_skips_weekends_and_holidays_across_dst() {
        let h = berlin();
        // Open Tuesday 09:30: it closes at noon; a span ending where the
        // next begins would be no change.
        assert_eq!(
            h.next_flip("support", utc(2026, 12, 1, 8, 30)),
            Some(utc(2026, 12, 1, 11, 0))
        );
        // Friday 17:00 local → Monday 09:00 local.
        let friday_evening = utc(2026, 12, 4, 16, 30);
        assert_eq!(
            h.next_open("support", friday_evening),
            Some(utc(2026, 12, 7, 8, 0))
        );
        assert_eq!(
            h.local_text("support", utc(2026, 12, 7, 8, 0)),
            "Mon 7 Dec 09:00"
        );
        // Thursday 24th after 11:00 → Friday 25th is a holiday → Monday 28th.
        assert_eq!(
            h.next_open("support", utc(2026, 12, 24, 12, 0)),
            Some(utc(2026, 12, 28, 8, 0))
        );
        // Summer time begins Sunday 29 March 2026: Monday 09:00 is 07:00 UTC.
        assert_eq!(
            h.next_open("support", utc(2026, 3, 27, 17, 0)),
            Some(utc(2026, 3, 30, 7, 0))
        );
    }

    #[test]
    fn a_calendar_open_round_the_clock_never_changes() {
        let mut calendar = CalendarConfig {
            time_zone: "Asia/Tokyo".into(),
            ..Default::default()
        };
        for day in DAYS {
            calendar
                .weekly
                .insert(day.into(), vec!["00:00-24:00".into()]);
        }
        let mut config = HoursConfig::default();
        config.calendars.insert("always".into(), calendar);
        let h = Hours::new(&config).unwrap();
        let at = utc(2026, 12, 1, 8, 30);
        assert!(h.calendar_open("always", at));
        assert_eq!(h.next_flip("always", at), None);
        assert_eq!(h.status(at)[0].next_change, None);
    }

    #[test]
    fn the_sla_clock_counts_open_time_only() {
        let h = berlin();
        // Friday 16:00 local to Monday 10:00 local: 1 h Friday + 1 h Monday.
        let from = utc(2026, 12, 4, 15, 0);
        let to = utc(2026, 12, 7, 9, 0);
        assert_eq!(h.open_ms("webchat", Kind::Chat, from, to), 2 * 3_600_000);
        // No calendar: the whole span.
        assert_eq!(h.open_ms("sms", Kind::Messaging, from, to), to - from);
    }

    #[test]
    fn an_override_wins_until_it_ends() {
        let h = berlin();
        let saturday = utc(2026, 12, 5, 10, 0);
        h.set_override(
            "support",
            Some(Override {
                open: true,
                since: saturday - 1,
                until: Some(saturday + 3_600_000),
                by: "sue".into(),
                reason: "campaign".into(),
            }),
        );
        assert!(h.calendar_open("support", saturday));
        assert!(!h.calendar_open("support", saturday + 3_600_000));
        assert_eq!(
            h.next_change("support", saturday),
            Some(saturday + 3_600_000)
        );
        assert_eq!(h.next_flip("support", saturday), Some(saturday + 3_600_000));
        h.set_override("support", None);
        assert!(!h.calendar_open("support", saturday));
    }

    #[test]
    fn a_wrong_calendar_says_what_is_wrong() {
        let bad = |c: CalendarConfig| {
            let mut config = HoursConfig::default();
            config.calendars.insert("x".into(), c);
            Hours::new(&config).err().unwrap().to_string()
        };
        let tz = |t: &str| CalendarConfig {
            time_zone: t.into(),
            ..Default::default()
        };
        assert!(bad(tz("Mars/Olympus")).contains("IANA"));
        let mut c = tz("UTC");
        c.weekly.insert("mon".into(), vec!["17:00-09:00".into()]);
        assert!(bad(c).contains("past midnight"));
        let mut c = tz("UTC");
        c.weekly.insert("monday-ish".into(), vec![]);
        assert!(bad(c).contains("not a weekday"));
        let config = HoursConfig {
            default: Some("nope".into()),
            ..Default::default()
        };
        assert!(
            Hours::new(&config)
                .err()
                .unwrap()
                .to_string()
                .contains("not defined")
        );
    }
}
