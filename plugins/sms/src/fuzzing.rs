//! The property of the webhook parser, checked by the fuzz target
//! `sms_webhook` (`fuzz/`) and, for a bounded time, by `cargo test`.

use arbitrary::{Result, Unstructured};
use switchboard_sdk::fuzzing::{assert_client_error, form};
use switchboard_sdk::webhook::field;
use switchboard_sdk::{ChannelEvent, DeliveryStatus, Identity};

use crate::MAX_MEDIA;

/// The parameters Twilio posts.
const NAMES: &[&str] = &[
    "MessageSid",
    "SmsSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "MediaUrl0",
    "MediaUrl1",
    "MediaUrl9",
    "MediaUrl10",
    "MediaContentType0",
    "MediaContentType1",
    "MessageStatus",
    "ErrorCode",
    "ErrorMessage",
    "MessagingServiceSid",
    "FromCity",
    "FromCountry",
];

/// Values Twilio sends.
const VALUES: &[&str] = &[
    "SM1",
    "+16505551234",
    "0",
    "1",
    "2",
    "10",
    "11",
    "99999999999999999999",
    " 3 ",
    "-1",
    "https://api.twilio.com/m/1",
    "image/jpeg",
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "undelivered",
    "30003",
    "",
];

/// Any verified form becomes events or a client error: an incoming
/// message from a verified phone number with at most ten attachments, or
/// one status, failed ones with a reason.
pub fn webhook(u: &mut Unstructured<'_>) -> Result<()> {
    let Some(form) = form(u, NAMES, VALUES)? else {
        return Ok(());
    };
    let events = match crate::events(&form) {
        Ok(events) => events,
        Err(e) => {
            assert_client_error(&e);
            return Ok(());
        }
    };
    assert!(events.len() <= 1);
    for event in events {
        match event {
            ChannelEvent::Message(m) => {
                assert!(field(&form, "MessageStatus").is_none());
                assert!(m.attachments.len() <= MAX_MEDIA);
                let [sender] = m.identities.as_slice() else {
                    panic!("one sender identity: {m:?}");
                };
                assert!(sender.is_verified());
                let Identity::Phone(phone) = &sender.identity else {
                    panic!("the sender is a phone number: {m:?}");
                };
                assert_eq!(phone, &m.thread_key);
            }
            ChannelEvent::Status(s) => {
                if s.status == DeliveryStatus::Failed {
                    assert!(s.error.is_some(), "{s:?}");
                }
            }
            ChannelEvent::Call(c) => panic!("SMS carries no calls: {c:?}"),
        }
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
