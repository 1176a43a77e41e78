//! The Mailgun `messages` form for a reply.

use switchboard_sdk::{Identity, OutboundMessage};

use crate::headers::{message_id, message_ids};
use crate::inbound::keys;

/// The subject of replies in a conversation whose mail had none.
pub const DEFAULT_SUBJECT: &str = "Your message";

/// `Re: <subject>`, without stacking prefixes on a subject that already
/// has one.
pub fn reply_subject(subject: Option<&str>) -> String {
    let subject = subject.map(str::trim).unwrap_or("");
    if subject.is_empty() {
        return format!("Re: {DEFAULT_SUBJECT}");
    }
    let already = subject
        .get(..3)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("re:"));
    if already {
        subject.to_string()
    } else {
        format!("Re: {subject}")
    }
}

/// The form fields of `POST /v3/{domain}/messages` for `m`, or why it
/// cannot be sent.
pub fn form(m: &OutboundMessage, from_address: &str) -> Result<Vec<(String, String)>, String> {
    let Identity::Email(to) = &m.to else {
        return Err("the email channel can only send to an email address".into());
    };
    // The mail we answer: the latest inbound one of the conversation.
    let parent = m
        .metadata_value(keys::MESSAGE_ID)
        .and_then(message_id)
        .or_else(|| m.in_reply_to.as_deref().and_then(message_id));
    let mut references = m
        .metadata_value(keys::REFERENCES)
        .map(message_ids)
        .unwrap_or_default();
    if let Some(parent) = &parent
        && !references.contains(parent)
    {
        references.push(parent.clone());
    }

    let mut fields = vec![
        ("from".to_string(), from_address.to_string()),
        ("to".to_string(), to.trim().to_string()),
        (
            "subject".to_string(),
            reply_subject(m.metadata_value(keys::SUBJECT)),
        ),
        ("text".to_string(), m.text.clone()),
    ];
    if let Some(parent) = parent {
        fields.push(("h:In-Reply-To".to_string(), parent));
    }
    if !references.is_empty() {
        fields.push(("h:References".to_string(), references.join(" ")));
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(metadata: &[(&str, &str)], in_reply_to: Option<&str>) -> OutboundMessage {
        OutboundMessage {
            message_id: "msg_1".into(),
            conversation_id: "conv_1".into(),
            thread_key: "<m1@x>".into(),
            to: Identity::email("sheena.nelson@example.com"),
            text: "On its way".into(),
            attachments: Vec::new(),
            in_reply_to: in_reply_to.map(String::from),
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            template: None,
        }
    }

    fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn subjects_get_one_re_prefix() {
        assert_eq!(reply_subject(Some("Order 4821")), "Re: Order 4821");
        assert_eq!(reply_subject(Some("Re: Order 4821")), "Re: Order 4821");
        assert_eq!(reply_subject(Some("RE: Order")), "RE: Order");
        assert_eq!(reply_subject(Some("re:x")), "re:x");
        assert_eq!(reply_subject(Some("Return policy")), "Re: Return policy");
        assert_eq!(reply_subject(Some("  ")), "Re: Your message");
        assert_eq!(reply_subject(None), "Re: Your message");
        assert_eq!(reply_subject(Some("é")), "Re: é");
    }

    #[test]
    fn replies_keep_the_thread_headers() {
        let m = outbound(
            &[
                ("subject", "Re: Order 4821"),
                ("message_id", "<m2@x>"),
                ("references", "<m1@x> <ours@shop>"),
            ],
            Some("<m2@x>"),
        );
        let f = form(&m, "Support <support@shop.example.com>").unwrap();
        assert_eq!(get(&f, "from"), Some("Support <support@shop.example.com>"));
        assert_eq!(get(&f, "to"), Some("sheena.nelson@example.com"));
        assert_eq!(get(&f, "subject"), Some("Re: Order 4821"));
        assert_eq!(get(&f, "text"), Some("On its way"));
        assert_eq!(get(&f, "h:In-Reply-To"), Some("<m2@x>"));
        assert_eq!(get(&f, "h:References"), Some("<m1@x> <ours@shop> <m2@x>"));
    }

    #[test]
    fn references_are_not_duplicated_and_fall_back_to_in_reply_to() {
        let m = outbound(&[("references", "<m1@x>")], Some("<m1@x>"));
        let f = form(&m, "s@shop").unwrap();
        assert_eq!(get(&f, "h:In-Reply-To"), Some("<m1@x>"));
        assert_eq!(get(&f, "h:References"), Some("<m1@x>"));
        assert_eq!(get(&f, "subject"), Some("Re: Your message"));

        let bare = outbound(&[], None);
        let f = form(&bare, "s@shop").unwrap();
        assert_eq!(get(&f, "h:In-Reply-To"), None);
        assert_eq!(get(&f, "h:References"), None);
    }

    #[test]
    fn only_email_addresses() {
        let mut m = outbound(&[], None);
        m.to = Identity::phone("+16505551234");
        assert!(form(&m, "s@shop").is_err());
    }
}
