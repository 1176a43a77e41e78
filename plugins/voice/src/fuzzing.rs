//! The property of the webhook parser, checked by the fuzz target
//! `voice_webhook` (`fuzz/`) and, for a bounded time, by `cargo test`.

use arbitrary::{Result, Unstructured};
use switchboard_sdk::fuzzing::{assert_client_error, form};
use switchboard_sdk::webhook::field;
use switchboard_sdk::{ChannelEvent, Identity};

/// The parameters Twilio posts.
const NAMES: &[&str] = &[
    "CallSid",
    "CallStatus",
    "From",
    "Caller",
    "To",
    "Called",
    "CallerName",
    "CallDuration",
    "Direction",
    "CallerCity",
    "CallerCountry",
];

/// Values Twilio sends.
const VALUES: &[&str] = &[
    "CA1",
    "ringing",
    "queued",
    "in-progress",
    "answered",
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
    "+16505551234",
    "client:alice",
    "inbound",
    "42",
    "",
];

/// Any verified form becomes one call event or a client error; the event
/// carries the form's `CallSid` and state, and a Twilio Client caller is
/// never taken for a phone number.
pub fn webhook(u: &mut Unstructured<'_>) -> Result<()> {
    let Some(form) = form(u, NAMES, VALUES)? else {
        return Ok(());
    };
    let (state, event) = match crate::parse_call(&form) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    let ChannelEvent::Call(call) = event else {
        panic!("a call webhook reports a call: {event:?}");
    };
    assert_eq!(call.state, state);
    assert_eq!(Some(call.call_id.as_str()), field(&form, "CallSid"));
    if let Some(from) = &call.from {
        assert!(from.is_verified());
        let Identity::Phone(p) = &from.identity else {
            panic!("the caller is a phone number: {call:?}");
        };
        assert!(!p.is_empty() && !p.starts_with("client:"), "{call:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arbtest::arbtest;
    use switchboard_sdk::fuzzing::test_budget_ms;

    use super::*;

    #[test]
    fn webhooks_parse_or_fail_cleanly() {
        arbtest(webhook).budget_ms(test_budget_ms());
    }
}
