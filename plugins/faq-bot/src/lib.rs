//! An FAQ bot: answers the questions it is configured with, in the
//! customer's language when it has a translation, looks up an order's status
//! over HTTP, and hands the conversation to an agent when the customer asks
//! for one, when it did not understand two messages in a row, or when the
//! order lookup fails.
//!
//! It keeps no state: everything it needs is in the message's context (the
//! conversation's transcript tells it whether its previous answer was
//! already the fallback). See `README.md` for the configuration.

mod brain;

use std::collections::BTreeMap;

use switchboard_sdk::{
    Author, Bot, BotAction, BotContext, Handoff, InboundMessage, PluginError, SkillRequirement,
    config, http, log,
};

use brain::{Config, Settings, Step};

struct FaqBot;

impl Bot for FaqBot {
    fn on_message(context: &BotContext, message: &InboundMessage) -> BotAction {
        let settings = match settings() {
            Ok(settings) => settings,
            Err(e) => {
                log::error(format!("configuration: {}", e.message));
                return handoff(
                    &Settings::default(),
                    context,
                    message,
                    brain::REASON_MISCONFIGURED,
                    Some(&e.message),
                );
            }
        };
        let language = language(context);
        let previous_bot = context
            .transcript
            .iter()
            .rev()
            .find(|e| matches!(e.author, Author::Bot))
            .map(|e| e.text.as_str());
        match settings.decide(&message.text, language.as_deref(), previous_bot) {
            Step::Reply(text) => BotAction::Reply(text),
            Step::Resolve => BotAction::Resolve,
            Step::Handoff(reason) => handoff(&settings, context, message, &reason, None),
            Step::LookUpOrder(number) => {
                match look_up_order(&settings, &number, language.as_deref()) {
                    Ok(text) => BotAction::Reply(text),
                    Err(detail) => {
                        log::warn(format!("order {number}: {detail}"));
                        handoff(
                            &settings,
                            context,
                            message,
                            brain::REASON_ORDER_FAILED,
                            Some(&format!("order {number}: {detail}")),
                        )
                    }
                }
            }
        }
    }
}

switchboard_sdk::register_bot!(FaqBot);

/// The configuration, read from the plugin's config keys.
fn settings() -> Result<Settings, PluginError> {
    Ok(Settings::new(Config {
        handoff_phrases: config::get("handoff_phrases").map(|_| config::list("handoff_phrases")),
        resolve_phrases: config::list("resolve_phrases"),
        fallback: config::get("fallback"),
        fallback_answers: config::json("fallback_answers")?.unwrap_or_default(),
        intents: config::json("intents")?.unwrap_or_default(),
        order_status: config::json("order_status")?,
    }))
}

/// The customer's language: the context's, else the profile's `language`
/// attribute.
fn language(context: &BotContext) -> Option<String> {
    context
        .language
        .clone()
        .or_else(|| {
            context
                .customer
                .attributes
                .iter()
                .find(|(k, _)| k == "language")
                .map(|(_, v)| v.clone())
        })
        .filter(|l| !l.trim().is_empty())
}

/// Asks the order API about order `number` and words the answer; `Err` says
/// why it could not (the bot then hands off).
fn look_up_order(
    settings: &Settings,
    number: &str,
    language: Option<&str>,
) -> Result<String, String> {
    let order = settings
        .order
        .as_ref()
        .ok_or("no order API is configured")?;
    let mut request = http::Request::get(order.url(number))
        .header("accept", "application/json")
        .timeout_ms(order.timeout_ms);
    if let Some(token) = &order.token {
        request = request.bearer(token);
    }
    let response = http::send(request).map_err(|e| e.message)?;
    order.answer(number, response.status, &response.body, language)
}

/// A handoff with a summary of the conversation and the configured skills
/// and priority.
fn handoff(
    settings: &Settings,
    context: &BotContext,
    message: &InboundMessage,
    reason: &str,
    note: Option<&str>,
) -> BotAction {
    let mut customer_texts: Vec<String> = context
        .transcript
        .iter()
        .filter(|e| matches!(e.author, Author::Customer))
        .map(|e| e.text.clone())
        .collect();
    customer_texts.push(message.text.clone());
    let bot_replies = context
        .transcript
        .iter()
        .filter(|e| matches!(e.author, Author::Bot))
        .count();
    let skills = match config::json::<BTreeMap<String, u8>>("handoff_skills") {
        Ok(skills) => skills.unwrap_or_default(),
        Err(e) => {
            log::error(format!("configuration: {}", e.message));
            BTreeMap::new()
        }
    };
    let priority = config::parse::<u32>("handoff_priority").unwrap_or_else(|e| {
        log::error(format!("configuration: {}", e.message));
        None
    });
    BotAction::Handoff(Handoff {
        reason: reason.to_string(),
        summary: settings.summary(&customer_texts, bot_replies, note),
        skills: skills
            .into_iter()
            .map(|(name, level)| SkillRequirement {
                name,
                min_level: level.clamp(1, 5),
            })
            .collect(),
        priority: priority.unwrap_or(0),
    })
}
