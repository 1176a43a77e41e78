//! A bot that misbehaves on request, for the tests of the host's bot stage.
//! The message's text picks the behaviour: `trap` panics, `loop` never
//! returns (the host's deadline cuts it off), `handoff` hands off (reason
//! `rogue handoff`, skill `billing` 2, priority 7), `resolve` closes the
//! conversation, `context` answers with what the bot was told (how many
//! messages of the customer's history, and the customer's identities with
//! their trust); anything else is answered `ok`.

use switchboard_sdk::{
    Bot, BotAction, BotContext, Handoff, Identity, InboundMessage, SkillRequirement,
};

struct Rogue;

impl Bot for Rogue {
    fn on_message(context: &BotContext, message: &InboundMessage) -> BotAction {
        match message.text.trim().to_lowercase().as_str() {
            "trap" => panic!("rogue bot trapped"),
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "handoff" => BotAction::Handoff(Handoff {
                reason: "rogue handoff".into(),
                summary: format!("{} earlier message(s)", context.transcript.len()),
                skills: vec![SkillRequirement {
                    name: "billing".into(),
                    min_level: 2,
                }],
                priority: 7,
            }),
            "resolve" => BotAction::Resolve,
            // What the bot was shown, back to the customer.
            text if text.starts_with("echo") => {
                BotAction::Reply(format!("you said: {}", message.text))
            }
            "context" => BotAction::Reply(format!(
                "history {}; {}",
                context.history.len(),
                context
                    .customer
                    .identities
                    .iter()
                    .map(|a| {
                        let trust = if a.is_verified() {
                            "verified"
                        } else {
                            "claimed"
                        };
                        format!("{} {trust}", describe(&a.identity))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => BotAction::Reply("ok".into()),
        }
    }
}

switchboard_sdk::register_bot!(Rogue);

/// `phone:+1…`, `email:…`, `handle:<channel>:<value>`.
fn describe(identity: &Identity) -> String {
    match identity {
        Identity::Email(e) => format!("email:{e}"),
        Identity::Phone(p) => format!("phone:{p}"),
        Identity::Handle(h) => format!("handle:{}:{}", h.channel, h.value),
    }
}
