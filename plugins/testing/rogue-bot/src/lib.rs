//! A bot that misbehaves on request, for the tests of the host's bot stage.
//! The message's text picks the behaviour: `trap` panics, `loop` never
//! returns (the host's deadline cuts it off), `handoff` hands off (reason
//! `rogue handoff`, skill `billing` 2, priority 7), `resolve` closes the
//! conversation; anything else is answered `ok`.

use switchboard_sdk::{Bot, BotAction, BotContext, Handoff, InboundMessage, SkillRequirement};

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
            _ => BotAction::Reply("ok".into()),
        }
    }
}

switchboard_sdk::register_bot!(Rogue);
