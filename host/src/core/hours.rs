//! Business hours in the core: what `GET /api/hours` shows, the overrides
//! supervisors set (kept in the store, so they survive a restart), and the
//! auto-reply a customer gets when she writes while her channel is closed.

use serde::Deserialize;

use crate::clock::now_ms;
use crate::conversations::{Author, Conversation};
use crate::customers::Customer;
use crate::hours::{CalendarStatus, Hours, Override};
use crate::kind::Kind;
use crate::store::{Batch, Store, StoreError};

use super::{Core, CoreError};

/// Where overrides are kept: `hours/override/<calendar>`.
const OVERRIDES: &str = "hours/override/";
/// The notice value of an after-hours auto-reply (`notice` metadata).
pub(super) const HOURS_NOTICE: &str = "after_hours";
/// The language used when a customer's is unknown or has no text.
const FALLBACK_LANGUAGE: &str = "en";

/// The text of `texts` (by language code) for a customer speaking
/// `language` (`de-AT` reads as `de`), else English, else any.
pub(super) fn in_language<'a>(
    texts: &'a std::collections::BTreeMap<String, String>,
    language: Option<&str>,
) -> Option<&'a String> {
    language
        .map(|l| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase())
        .and_then(|l| texts.get(&l))
        .or_else(|| texts.get(FALLBACK_LANGUAGE))
        .or_else(|| texts.values().next())
}

/// `POST /api/hours/{calendar}/override`: force a calendar open or closed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideInput {
    /// Open (`true`) or closed (`false`).
    pub open: bool,
    /// Until when (unix ms); none: until lifted (`DELETE`).
    #[serde(default)]
    pub until: Option<u64>,
    /// Why (shown to supervisors, kept in the audit trail).
    #[serde(default)]
    pub reason: String,
}

/// The overrides kept in `store`, put into `hours` (at start).
pub(super) fn load_overrides(store: &Store, hours: &Hours) -> Result<(), StoreError> {
    for (calendar, text) in store.scan_strings(OVERRIDES)? {
        match serde_json::from_str::<Override>(&text) {
            Ok(o) if hours.has(&calendar) => hours.set_override(&calendar, Some(o)),
            _ => {}
        }
    }
    Ok(())
}

impl Core {
    /// Every calendar now: open or closed, until when, and who follows it.
    pub fn hours_status(&self) -> Vec<CalendarStatus> {
        self.hours.status(now_ms())
    }

    /// Forces `calendar` open or closed (`Some`), or lifts the override
    /// (`None`), for `actor`; returns the calendar as it now stands.
    pub async fn set_hours_override(
        &self,
        calendar: &str,
        input: Option<OverrideInput>,
        actor: &str,
    ) -> Result<CalendarStatus, CoreError> {
        if !self.hours.has(calendar) {
            return Err(CoreError::NotFound(format!("no calendar {calendar}")));
        }
        let now = now_ms();
        let forced = match input {
            Some(input) => {
                if input.until.is_some_and(|u| u <= now) {
                    return Err(CoreError::Invalid("`until` must be in the future".into()));
                }
                if input.reason.chars().count() > 500 {
                    return Err(CoreError::Invalid(
                        "`reason` is longer than 500 characters".into(),
                    ));
                }
                Some(Override {
                    open: input.open,
                    since: now,
                    until: input.until,
                    by: actor.to_string(),
                    reason: input.reason,
                })
            }
            None => None,
        };
        let key = format!("{OVERRIDES}{calendar}");
        let mut batch = Batch::new();
        match &forced {
            Some(o) => batch.put_json(key, o),
            None => batch.delete(key),
        }
        let seq = self.store.write(batch)?;
        self.store.durable(seq).await?;
        self.hours.set_override(calendar, forced);
        // A calendar that opened has tasks to offer; automations hear of it.
        self.routing.wake();
        self.automations.queue.wake();
        self.hours
            .status(now)
            .into_iter()
            .find(|c| c.name == calendar)
            .ok_or_else(|| CoreError::NotFound(format!("no calendar {calendar}")))
    }

    /// When `conversation`'s channel is closed at `now`, queues the
    /// after-hours auto-reply in `batch` — once per closure: not again
    /// until the channel has been open since the last one. Returns whether
    /// it did.
    pub(super) fn after_hours_reply(
        &self,
        batch: &mut Batch,
        conversation: &mut Conversation,
        customer: &Customer,
        now: u64,
    ) -> Result<bool, CoreError> {
        let (channel, kind) = (conversation.channel.as_str(), conversation.channel_kind);
        // A caller hears the voice channel's own closed greeting.
        if kind == Kind::Voice || self.hours.open(channel, kind, now) {
            return Ok(false);
        }
        let Some(calendar) = self.hours.calendar_of(channel, kind).map(str::to_string) else {
            return Ok(false);
        };
        if let Some(last) = conversation.after_hours_notice_at
            && self.hours.open_ms(channel, kind, last, now) == 0
        {
            return Ok(false);
        }
        let language = customer.attributes.get("language").map(String::as_str);
        let Some(template) = in_language(&self.hours_replies, language) else {
            return Ok(false);
        };
        let next = self
            .hours
            .next_open(&calendar, now)
            .map(|t| self.hours.local_text(&calendar, t))
            .unwrap_or_else(|| "soon".to_string());
        let text = template.replace("{next_open}", &next);
        self.queue_outbound(
            batch,
            conversation,
            (Author::System, None, Some(HOURS_NOTICE)),
            &text,
            Vec::new(),
            now,
        )?;
        conversation.after_hours_notice_at = Some(now);
        Ok(true)
    }
}
