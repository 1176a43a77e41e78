//! An automation that misbehaves on every event, for the tests of the
//! host's automation stage. `mode`: `trap` panics, `loop` never returns
//! (the host's deadline cuts it off), `flood` answers more actions than
//! allowed, `refused` answers actions the host must refuse (a message on a
//! channel that does not exist, a label that is not one), `echo` answers
//! a business-hours event with a timer tagged `<trigger>:<calendar>` (so a
//! test sees what it was told in `GET /api/automations`), `bot` hands every
//! queued task's conversation to the bot named by `bot`.

use switchboard_sdk::{
    Automation, AutomationAction, AutomationEvent, PluginError, SendMessage, Timer, Trigger, config,
};

struct Rogue;

impl Automation for Rogue {
    fn subscribe() -> Vec<Trigger> {
        vec![
            Trigger::TaskQueued,
            Trigger::TaskAbandoned,
            Trigger::ConversationResolved,
            Trigger::MessageReceived,
            Trigger::HoursOpened,
            Trigger::HoursClosed,
        ]
    }

    fn on_event(event: &AutomationEvent) -> Result<Vec<AutomationAction>, PluginError> {
        match config::get_or("mode", "trap").as_str() {
            "echo" => {
                let trigger = match event.trigger {
                    Trigger::HoursOpened => "hours-opened",
                    Trigger::HoursClosed => "hours-closed",
                    _ => return Ok(Vec::new()),
                };
                Ok(vec![AutomationAction::SetTimer(Timer {
                    tag: format!("{trigger}:{}", event.tag.as_deref().unwrap_or_default()),
                    after_ms: 3_600_000,
                })])
            }
            "loop" => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "bot" => Ok(match event.trigger {
                Trigger::TaskQueued => vec![AutomationAction::HandToBot(config::get_or(
                    "bot",
                    "rogue-bot",
                ))],
                _ => Vec::new(),
            }),
            "flood" => Ok((0..1_000)
                .map(|i| AutomationAction::AddLabel(format!("l{i}")))
                .collect()),
            "refused" => Ok(vec![
                AutomationAction::Send(SendMessage {
                    channel: Some("no-such-channel".into()),
                    text: "hello".into(),
                    template: None,
                    parameters: Vec::new(),
                }),
                AutomationAction::AddLabel("Not A Label!".into()),
            ]),
            _ => panic!("rogue automation trapped"),
        }
    }
}

switchboard_sdk::register_automation!(Rogue);
