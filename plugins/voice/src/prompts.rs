//! What the caller hears: the TwiML of each answer, built from the
//! configured texts. Pure functions of their inputs, so they are tested
//! natively.

use switchboard_sdk::{HttpResponse, QueueStanding};

/// Escapes text for an XML element or attribute.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A TwiML document answering a webhook.
pub fn twiml(body: &str) -> HttpResponse {
    HttpResponse::with_body(
        200,
        "text/xml",
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#),
    )
}

/// `<Say>` of a text (nothing for an empty one).
pub fn say(text: &str) -> String {
    if text.trim().is_empty() {
        String::new()
    } else {
        format!("<Say>{}</Say>", xml(text.trim()))
    }
}

/// The texts and keys of the caller's menu, from the channel's config.
pub struct Menu {
    /// The digit that asks for a callback (empty: not offered).
    pub callback_key: String,
    /// The digit that asks for voicemail (empty: not offered).
    pub voicemail_key: String,
    /// Said before the options while waiting.
    pub options: String,
}

/// `<Record>` into the voicemail webhook, at most `max_seconds` long.
pub fn record(base: &str, max_seconds: u32) -> String {
    format!(
        r##"<Record action="{}" maxLength="{max_seconds}" playBeep="true" finishOnKey="#"/>"##,
        xml(&format!("{base}/webhooks/voice/voicemail"))
    )
}

/// The answer to a ringing call while open: the greeting, then the queue
/// (whose wait music asks `/wait`); a caller who leaves the queue by
/// choosing voicemail continues after `<Enqueue>` and is recorded.
pub fn incoming(
    base: &str,
    greeting: &str,
    queue: &str,
    voicemail_prompt: &str,
    max_seconds: u32,
) -> String {
    format!(
        r#"{}<Enqueue waitUrl="{}">{}</Enqueue>{}{}"#,
        say(greeting),
        xml(&format!("{base}/webhooks/voice/wait")),
        xml(queue),
        say(voicemail_prompt),
        record(base, max_seconds),
    )
}

/// The answer to a ringing call while closed: the closed greeting (with
/// `{opens}` replaced by the next opening), then a voicemail recording.
pub fn closed(base: &str, closed_greeting: &str, opens: Option<&str>, max_seconds: u32) -> String {
    let text = closed_greeting.replace("{opens}", opens.unwrap_or("soon"));
    format!("{}{}", say(&text), record(base, max_seconds))
}

/// "You are number 3 in the queue. The wait is about 4 minutes."
pub fn place(position_text: &str, estimate_text: &str, standing: Option<&QueueStanding>) -> String {
    let Some(standing) = standing else {
        return String::new();
    };
    let mut text = position_text.replace("{position}", &standing.position.to_string());
    if let Some(ms) = standing.estimated_wait_ms {
        let minutes = ms.div_ceil(60_000).max(1);
        text.push(' ');
        text.push_str(&estimate_text.replace("{minutes}", &minutes.to_string()));
    }
    text
}

/// What a waiting caller hears, again and again: her place, then the menu
/// (a `<Gather>` of one digit posting to `/choice`), then a pause.
pub fn waiting(base: &str, place: &str, menu: &Menu) -> String {
    let mut body = say(place);
    if !menu.callback_key.is_empty() || !menu.voicemail_key.is_empty() {
        body.push_str(&format!(
            r#"<Gather numDigits="1" action="{}" timeout="5">{}</Gather>"#,
            xml(&format!("{base}/webhooks/voice/choice")),
            say(&menu.options),
        ));
    }
    body.push_str(r#"<Pause length="20"/>"#);
    body
}

/// The caller's choice.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    /// Call me back; I keep my place.
    Callback,
    /// Let me leave a message.
    Voicemail,
    /// Any other key.
    Other,
}

impl Menu {
    /// What `digits` chose.
    pub fn choice(&self, digits: &str) -> Choice {
        let digits = digits.trim();
        if digits.is_empty() {
            Choice::Other
        } else if digits == self.callback_key {
            Choice::Callback
        } else if digits == self.voicemail_key {
            Choice::Voicemail
        } else {
            Choice::Other
        }
    }
}

/// Duration in whole seconds for the transcript, e.g. `1 min 5 s`.
pub fn duration_text(seconds: u64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Menu {
        Menu {
            callback_key: "1".into(),
            voicemail_key: "2".into(),
            options: "Press 1 for a call back, 2 for voicemail.".into(),
        }
    }

    #[test]
    fn the_place_is_said_with_the_wait_in_whole_minutes() {
        let standing = QueueStanding {
            position: 3,
            estimated_wait_ms: Some(200_000),
        };
        assert_eq!(
            place(
                "You are number {position}.",
                "About {minutes} minutes.",
                Some(&standing)
            ),
            "You are number 3. About 4 minutes."
        );
        let unknown = QueueStanding {
            position: 1,
            estimated_wait_ms: None,
        };
        assert_eq!(place("#{position}", "x", Some(&unknown)), "#1");
        assert_eq!(place("#{position}", "x", None), "");
    }

    #[test]
    fn the_waiting_loop_offers_the_menu_and_the_closed_answer_records() {
        let base = "https://cc.example.com";
        let twiml = waiting(base, "You are number 2.", &menu());
        assert!(twiml.starts_with("<Say>You are number 2.</Say><Gather numDigits=\"1\" action=\"https://cc.example.com/webhooks/voice/choice\""), "{twiml}");
        let closed = closed(base, "Closed until {opens} & then.", Some("Mon 09:00"), 90);
        assert!(closed.starts_with("<Say>Closed until Mon 09:00 &amp; then.</Say><Record action=\"https://cc.example.com/webhooks/voice/voicemail\" maxLength=\"90\""), "{closed}");
        let open = incoming(base, "Hi", "q", "Leave a message.", 60);
        assert!(open.contains("<Enqueue waitUrl=\"https://cc.example.com/webhooks/voice/wait\">q</Enqueue><Say>Leave a message.</Say><Record "), "{open}");
    }

    #[test]
    fn keys_choose_and_other_keys_do_not() {
        let menu = menu();
        assert_eq!(menu.choice("1"), Choice::Callback);
        assert_eq!(menu.choice(" 2 "), Choice::Voicemail);
        assert_eq!(menu.choice("9"), Choice::Other);
        assert_eq!(menu.choice(""), Choice::Other);
        let none = Menu {
            callback_key: String::new(),
            ..menu
        };
        assert_eq!(none.choice(""), Choice::Other);
        assert_eq!(duration_text(65), "1 min 5 s");
        assert_eq!(duration_text(42), "42 s");
    }
}
