//! One calendar: a time zone, weekly opening spans, holidays and
//! exceptional days, parsed from `[hours.calendars.<name>]`, and what it
//! says about an instant — open or not, and where that may change.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::config::CalendarConfig;

/// Minutes since local midnight: `[start, end)`.
type Span = (u32, u32);

/// How far ahead [`Hours::next_change`] looks for an opening: a calendar
/// closed for longer (a year of holidays) has none.
const HORIZON_DAYS: i64 = 400;

/// A calendar, parsed.
#[derive(Debug, Clone)]
pub(super) struct Calendar {
    tz: Tz,
    /// Monday first.
    weekly: [Vec<Span>; 7],
    holidays: HashSet<NaiveDate>,
    exceptions: HashMap<NaiveDate, Vec<Span>>,
}

/// Why `[hours]` is wrong (the host does not start).
#[derive(Debug, thiserror::Error)]
#[error("[hours] {0}")]
pub struct HoursError(pub(super) String);

pub(super) const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn spans(list: &[String], what: &str) -> Result<Vec<Span>, HoursError> {
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
    };
    let mut out: Vec<Span> = list
        .iter()
        .map(|s| {
            let parsed = s
                .split_once('-')
                .and_then(|(a, b)| Some((minutes(a)?, minutes(b)?)));
            match parsed {
                Some((a, b)) if a < b => Ok((a, b)),
                _ => Err(HoursError(format!(
                    "{what}: `{s}` is not `HH:MM-HH:MM` with the start before the end (a span past midnight is two: `22:00-24:00` and `00:00-02:00` the next day)"
                ))),
            }
        })
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    Ok(out)
}

fn date(text: &str, what: &str) -> Result<NaiveDate, HoursError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| HoursError(format!("{what}: `{text}` is not a YYYY-MM-DD date")))
}

impl Calendar {
    pub(super) fn parse(name: &str, c: &CalendarConfig) -> Result<Calendar, HoursError> {
        let tz: Tz = c.time_zone.parse().map_err(|_| {
            HoursError(format!(
                "calendar `{name}`: `{}` is not an IANA time zone (e.g. `Europe/Berlin`)",
                c.time_zone
            ))
        })?;
        let mut weekly: [Vec<Span>; 7] = Default::default();
        for (day, hours) in &c.weekly {
            let i = DAYS
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day.trim()))
                .ok_or_else(|| {
                    HoursError(format!(
                        "calendar `{name}`: `{day}` is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
                    ))
                })?;
            weekly[i] = spans(hours, &format!("calendar `{name}`, {day}"))?;
        }
        let holidays = c
            .holidays
            .iter()
            .map(|d| date(d, &format!("calendar `{name}`, holidays")))
            .collect::<Result<_, _>>()?;
        let exceptions = c
            .exceptions
            .iter()
            .map(|(d, hours)| {
                let what = format!("calendar `{name}`, exception {d}");
                Ok((date(d, &what)?, spans(hours, &what)?))
            })
            .collect::<Result<_, HoursError>>()?;
        Ok(Calendar {
            tz,
            weekly,
            holidays,
            exceptions,
        })
    }

    /// The opening spans of local `day`.
    fn day(&self, day: NaiveDate) -> &[Span] {
        if let Some(spans) = self.exceptions.get(&day) {
            return spans;
        }
        if self.holidays.contains(&day) {
            return &[];
        }
        &self.weekly[day.weekday().num_days_from_monday() as usize]
    }

    /// The unix ms of local `minutes` past midnight on `day` (a time that
    /// does not exist — a spring-forward gap — is the first one after it).
    fn instant(&self, day: NaiveDate, minutes: u32) -> Option<u64> {
        let (day, minutes) = if minutes >= 24 * 60 {
            (day.succ_opt()?, minutes - 24 * 60)
        } else {
            (day, minutes)
        };
        let naive =
            NaiveDateTime::new(day, NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)?);
        let local = match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t,
            LocalResult::Ambiguous(first, _) => first,
            LocalResult::None => {
                let later = naive + chrono::Duration::hours(1);
                self.tz.from_local_datetime(&later).earliest()?
            }
        };
        u64::try_from(local.timestamp_millis()).ok()
    }

    pub(super) fn local(&self, at: u64) -> NaiveDateTime {
        let utc = chrono::DateTime::from_timestamp_millis(at as i64).unwrap_or_default();
        utc.with_timezone(&self.tz).naive_local()
    }

    /// Open at `at` by the schedule.
    pub(super) fn is_open(&self, at: u64) -> bool {
        let local = self.local(at);
        let minute = local.hour() * 60 + local.minute();
        self.day(local.date())
            .iter()
            .any(|&(a, b)| minute >= a && minute < b)
    }

    /// The first instant after `at` where the schedule may change state.
    pub(super) fn next_boundary(&self, at: u64) -> Option<u64> {
        let start = self.local(at).date();
        for offset in -1..HORIZON_DAYS {
            let day = start + chrono::Duration::days(offset);
            let mut best: Option<u64> = None;
            for &(a, b) in self.day(day) {
                for m in [a, b] {
                    if let Some(t) = self.instant(day, m)
                        && t > at
                    {
                        best = Some(best.map_or(t, |x| x.min(t)));
                    }
                }
            }
            if best.is_some() {
                return best;
            }
        }
        None
    }

    pub(super) fn time_zone(&self) -> &'static str {
        self.tz.name()
    }
}
