//! `journeys`: the journeys the guides describe, as rules an admin turns on
//! and words in `plugin.toml`'s `[config]`:
//!
//! - **A chat waiting too long is offered a call back.** When a chat task
//!   is queued, a timer of `chat_wait_minutes` is set; if the task still
//!   waits when it goes off and her phone is known, she is offered a call
//!   back (`chat_offer`) and the conversation is labelled
//!   `callback-offered`. Answering `callback_word` opens a callback task on
//!   `callback_channel` (the agent who takes it is bridged to a call
//!   placed to her) and confirms it.
//! - **An unanswered call gets a text**: a caller who hung up while waiting
//!   gets `missed_call_text` on `missed_call_channel`.
//! - **A resolved conversation gets a thank-you** on the kinds listed in
//!   `thank_you_kinds`.
//!
//! The decisions are pure functions of the event and the settings
//! ([`decide`]), tested natively.

use switchboard_sdk::{
    Automation, AutomationAction, AutomationEvent, ChannelKind, Identity, PluginError, SendMessage,
    Subject, Timer, Trigger, config,
};

/// The timer set when a chat is queued.
pub const CHAT_WAIT: &str = "chat-wait";
/// The label of a chat offered a call back.
pub const OFFERED: &str = "callback-offered";
/// The label of a chat whose customer took the offer.
pub const REQUESTED: &str = "callback-requested";

/// The rules' settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// 0: no offer.
    pub chat_wait_minutes: u64,
    pub chat_offer: String,
    pub callback_word: String,
    pub callback_channel: String,
    pub callback_confirmation: String,
    /// Empty: no text after a missed call.
    pub missed_call_channel: String,
    pub missed_call_text: String,
    pub thank_you_kinds: Vec<String>,
    pub thank_you_text: String,
}

impl Settings {
    fn from_config() -> Settings {
        let get = |key: &str| config::get_or(key, "").trim().to_string();
        Settings {
            chat_wait_minutes: get("chat_wait_minutes").parse().unwrap_or(0),
            chat_offer: get("chat_offer"),
            callback_word: get("callback_word"),
            callback_channel: get("callback_channel"),
            callback_confirmation: get("callback_confirmation"),
            missed_call_channel: get("missed_call_channel"),
            missed_call_text: get("missed_call_text"),
            thank_you_kinds: get("thank_you_kinds")
                .split(',')
                .map(|k| k.trim().to_ascii_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
            thank_you_text: get("thank_you_text"),
        }
    }
}

fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Voice => "voice",
        ChannelKind::Chat => "chat",
        ChannelKind::Messaging => "messaging",
        ChannelKind::Email => "email",
    }
}

/// Her phone number, when the host told (`customers = "read"`).
fn phone(subject: &Subject) -> Option<&str> {
    subject.reach.iter().find_map(|i| match i {
        Identity::Phone(p) => Some(p.as_str()),
        _ => None,
    })
}

fn send(channel: Option<&str>, text: String) -> AutomationAction {
    AutomationAction::Send(SendMessage {
        channel: channel.map(str::to_string),
        text,
        template: None,
        parameters: Vec::new(),
    })
}

/// What the rules do about `event`.
pub fn decide(settings: &Settings, event: &AutomationEvent) -> Vec<AutomationAction> {
    let Some(subject) = &event.subject else {
        return Vec::new();
    };
    let offers = settings.chat_wait_minutes > 0 && !settings.callback_channel.is_empty();
    match event.trigger {
        Trigger::TaskQueued
            if offers && subject.kind == ChannelKind::Chat && phone(subject).is_some() =>
        {
            vec![AutomationAction::SetTimer(Timer {
                tag: CHAT_WAIT.into(),
                after_ms: settings.chat_wait_minutes * 60_000,
            })]
        }
        Trigger::Timer
            if event.tag.as_deref() == Some(CHAT_WAIT)
                && subject.waiting
                && !subject.resolved
                && !subject.labels.iter().any(|l| l == OFFERED) =>
        {
            let Some(phone) = phone(subject) else {
                return Vec::new();
            };
            vec![
                send(None, settings.chat_offer.replace("{phone}", phone)),
                AutomationAction::AddLabel(OFFERED.into()),
            ]
        }
        Trigger::MessageReceived
            if subject.labels.iter().any(|l| l == OFFERED)
                && !subject.labels.iter().any(|l| l == REQUESTED)
                && !settings.callback_word.is_empty()
                && subject
                    .text
                    .as_deref()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case(&settings.callback_word)) =>
        {
            let Some(phone) = phone(subject) else {
                return Vec::new();
            };
            vec![
                AutomationAction::CallBack(settings.callback_channel.clone()),
                AutomationAction::AddLabel(REQUESTED.into()),
                send(
                    None,
                    settings.callback_confirmation.replace("{phone}", phone),
                ),
            ]
        }
        Trigger::TaskAbandoned
            if subject.kind == ChannelKind::Voice
                && !settings.missed_call_channel.is_empty()
                && phone(subject).is_some() =>
        {
            vec![send(
                Some(&settings.missed_call_channel),
                settings.missed_call_text.clone(),
            )]
        }
        Trigger::ConversationResolved
            if !settings.thank_you_text.is_empty()
                && settings
                    .thank_you_kinds
                    .iter()
                    .any(|k| k == kind_name(subject.kind)) =>
        {
            vec![send(None, settings.thank_you_text.clone())]
        }
        _ => Vec::new(),
    }
}

struct Journeys;

impl Automation for Journeys {
    fn subscribe() -> Vec<Trigger> {
        vec![
            Trigger::TaskQueued,
            Trigger::TaskAbandoned,
            Trigger::ConversationResolved,
            Trigger::MessageReceived,
        ]
    }

    fn on_event(event: &AutomationEvent) -> Result<Vec<AutomationAction>, PluginError> {
        Ok(decide(&Settings::from_config(), event))
    }
}

switchboard_sdk::register_automation!(Journeys);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            chat_wait_minutes: 10,
            chat_offer: "Reply CALL for a call at {phone}".into(),
            callback_word: "CALL".into(),
            callback_channel: "voice".into(),
            callback_confirmation: "We will call {phone}".into(),
            missed_call_channel: "sms".into(),
            missed_call_text: "Sorry we missed you".into(),
            thank_you_kinds: vec!["chat".into()],
            thank_you_text: "Thanks!".into(),
        }
    }

    fn subject(kind: ChannelKind) -> Subject {
        Subject {
            conversation_id: "con_1".into(),
            customer_id: "cus_1".into(),
            channel: "webchat".into(),
            kind,
            task_id: Some("tsk_1".into()),
            waiting: true,
            waited_ms: 0,
            resolved: false,
            labels: Vec::new(),
            reach: vec![Identity::Phone("+16505551234".into())],
            language: None,
            text: None,
        }
    }

    fn event(trigger: Trigger, subject: Subject, tag: Option<&str>) -> AutomationEvent {
        AutomationEvent {
            trigger,
            at: 0,
            subject: Some(subject),
            tag: tag.map(str::to_string),
        }
    }

    #[test]
    fn a_queued_chat_sets_the_timer_and_its_end_offers_a_call_once() {
        let s = settings();
        let queued = decide(
            &s,
            &event(Trigger::TaskQueued, subject(ChannelKind::Chat), None),
        );
        assert!(
            matches!(&queued[..], [AutomationAction::SetTimer(t)] if t.tag == CHAT_WAIT && t.after_ms == 600_000)
        );
        let fired = decide(
            &s,
            &event(Trigger::Timer, subject(ChannelKind::Chat), Some(CHAT_WAIT)),
        );
        assert!(
            matches!(&fired[..], [AutomationAction::Send(m), AutomationAction::AddLabel(l)] if m.text == "Reply CALL for a call at +16505551234" && l == OFFERED)
        );
        let mut offered = subject(ChannelKind::Chat);
        offered.labels = vec![OFFERED.into()];
        assert!(decide(&s, &event(Trigger::Timer, offered.clone(), Some(CHAT_WAIT))).is_empty());
        let mut answered = subject(ChannelKind::Chat);
        answered.waiting = false;
        assert!(decide(&s, &event(Trigger::Timer, answered, Some(CHAT_WAIT))).is_empty());
        // Without her phone, no offer.
        let mut unknown = subject(ChannelKind::Chat);
        unknown.reach.clear();
        assert!(decide(&s, &event(Trigger::TaskQueued, unknown, None)).is_empty());
        // She takes it.
        offered.text = Some(" call ".into());
        let taken = decide(&s, &event(Trigger::MessageReceived, offered.clone(), None));
        assert!(
            matches!(&taken[..], [AutomationAction::CallBack(c), AutomationAction::AddLabel(_), AutomationAction::Send(_)] if c == "voice")
        );
        offered.text = Some("no thanks".into());
        assert!(decide(&s, &event(Trigger::MessageReceived, offered, None)).is_empty());
    }

    #[test]
    fn missed_calls_get_a_text_and_resolved_chats_a_thank_you() {
        let s = settings();
        let missed = decide(
            &s,
            &event(Trigger::TaskAbandoned, subject(ChannelKind::Voice), None),
        );
        assert!(
            matches!(&missed[..], [AutomationAction::Send(m)] if m.channel.as_deref() == Some("sms"))
        );
        let thanks = decide(
            &s,
            &event(
                Trigger::ConversationResolved,
                subject(ChannelKind::Chat),
                None,
            ),
        );
        assert!(matches!(&thanks[..], [AutomationAction::Send(m)] if m.text == "Thanks!"));
        assert!(
            decide(
                &s,
                &event(
                    Trigger::ConversationResolved,
                    subject(ChannelKind::Email),
                    None
                )
            )
            .is_empty()
        );
        let off = Settings {
            missed_call_channel: String::new(),
            ..s
        };
        assert!(
            decide(
                &off,
                &event(Trigger::TaskAbandoned, subject(ChannelKind::Voice), None)
            )
            .is_empty()
        );
    }
}
