//! What the bot does with a message, as pure functions of its settings and
//! the conversation: no host calls here (the HTTP call for order status is
//! made by the caller between [`Settings::decide`] and
//! [`Order::answer`]), so all of it is unit-tested natively.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Why the bot hands off when the customer asks for a person.
pub const REASON_ASKED: &str = "customer asked for an agent";
/// Why the bot hands off when two messages in a row were not understood.
pub const REASON_NOT_UNDERSTOOD: &str = "the bot did not understand twice";
/// Why the bot hands off when the order API failed.
pub const REASON_ORDER_FAILED: &str = "order lookup failed";
/// Why the bot hands off when its configuration does not parse.
pub const REASON_MISCONFIGURED: &str = "the bot is misconfigured";

/// The fallback when the config has none.
pub const DEFAULT_FALLBACK: &str =
    "Sorry, I did not get that. You can ask a question, or type \"agent\" to talk to a person.";
/// The handoff phrases when the config has none.
pub const DEFAULT_HANDOFF_PHRASES: &[&str] = &["agent", "human"];

/// A text with translations by language (`es`, `pt-br`...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Localized {
    /// The text when the customer's language is unknown or untranslated.
    pub text: String,
    /// Translations, keyed by lower-case language tag.
    pub by_language: BTreeMap<String, String>,
}

impl Localized {
    /// A text and its translations (language keys are matched
    /// case-insensitively, `_` and `-` alike).
    pub fn new(text: impl Into<String>, by_language: BTreeMap<String, String>) -> Self {
        Localized {
            text: text.into(),
            by_language: by_language
                .into_iter()
                .map(|(k, v)| (language_key(&k), v))
                .collect(),
        }
    }

    /// The translation for `language` (`es-MX` falls back to `es`), else the
    /// default text.
    pub fn pick(&self, language: Option<&str>) -> &str {
        let Some(language) = language.map(language_key).filter(|l| !l.is_empty()) else {
            return &self.text;
        };
        let primary = language.split('-').next().unwrap_or_default();
        self.by_language
            .get(&language)
            .or_else(|| self.by_language.get(primary))
            .unwrap_or(&self.text)
    }

    /// Whether `text` is this text in any language.
    pub fn is_any(&self, text: &str) -> bool {
        let text = text.trim();
        self.text.trim() == text || self.by_language.values().any(|t| t.trim() == text)
    }
}

fn language_key(tag: &str) -> String {
    tag.trim().to_lowercase().replace('_', "-")
}

/// One intent as configured (`[[config.intents]]`).
#[derive(Debug, Clone, Deserialize)]
pub struct IntentConfig {
    /// A name for summaries, e.g. `shipping`.
    pub name: String,
    /// Any of these occurring in the message picks the intent.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// The answer.
    pub answer: String,
    /// Translations of the answer, by language.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// The order-status intent as configured (`[config.order_status]`). Every
/// field but `api_base` has a default, so an admin who overrides the table
/// only needs to give the API's address (and token).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderConfig {
    /// The API root, e.g. `https://orders.example.com`. Empty: no order
    /// lookups.
    #[serde(default)]
    pub api_base: String,
    /// The path under `api_base`; `{id}` is the order number.
    #[serde(default = "default_order_path")]
    pub path: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    #[serde(default)]
    pub token: Option<String>,
    /// Phrases that make a message with an order number an order question.
    #[serde(default = "default_order_phrases")]
    pub phrases: Vec<String>,
    /// The answer; `{id}` is the order number, `{field}` a top-level string,
    /// number or boolean field of the API's JSON answer.
    #[serde(default = "default_order_answer")]
    pub answer: String,
    /// Translations of `answer`.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// The answer when the API says 404; `{id}` is the order number.
    #[serde(default = "default_not_found")]
    pub not_found: String,
    /// Translations of `not_found`.
    #[serde(default)]
    pub not_found_answers: BTreeMap<String, String>,
    /// The answer to an order question without a number.
    #[serde(default = "default_ask_number")]
    pub ask_number: String,
    /// Translations of `ask_number`.
    #[serde(default)]
    pub ask_number_answers: BTreeMap<String, String>,
    /// How long to wait for the API's answer, in ms.
    #[serde(default = "default_order_timeout")]
    pub timeout_ms: u64,
}

fn default_order_path() -> String {
    "/orders/{id}".into()
}
fn default_order_phrases() -> Vec<String> {
    ["order", "where is", "status"].map(String::from).to_vec()
}
fn default_order_answer() -> String {
    "Order {id} is {status}.".into()
}
fn default_not_found() -> String {
    "I could not find order {id}.".into()
}
fn default_ask_number() -> String {
    "Which order? Please send its number, e.g. \"where is order 4821\".".into()
}
fn default_order_timeout() -> u64 {
    4_000
}

/// Everything the bot is configured with, as read from its config keys.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `handoff_phrases`; `None` when unset (the defaults apply).
    pub handoff_phrases: Option<Vec<String>>,
    /// `resolve_phrases`.
    pub resolve_phrases: Vec<String>,
    /// `fallback`.
    pub fallback: Option<String>,
    /// `fallback_answers`.
    pub fallback_answers: BTreeMap<String, String>,
    /// `intents`.
    pub intents: Vec<IntentConfig>,
    /// `order_status`.
    pub order_status: Option<OrderConfig>,
}

/// One intent, ready to match.
#[derive(Debug, Clone)]
pub struct Intent {
    /// Its name.
    pub name: String,
    phrases: Vec<String>,
    answer: Localized,
}

/// The order-status intent, ready to match.
#[derive(Debug, Clone)]
pub struct Order {
    api_base: String,
    path: String,
    /// The bearer token for the API, if any.
    pub token: Option<String>,
    /// How long to wait for the API, in ms.
    pub timeout_ms: u64,
    phrases: Vec<String>,
    answer: Localized,
    not_found: Localized,
    ask_number: Localized,
}

/// The bot's settings, normalized for matching.
#[derive(Debug, Clone)]
pub struct Settings {
    handoff_phrases: Vec<String>,
    resolve_phrases: Vec<String>,
    fallback: Localized,
    intents: Vec<Intent>,
    /// The order-status intent, when an API is configured.
    pub order: Option<Order>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new(Config::default())
    }
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched<'a> {
    /// A person.
    Handoff,
    /// To close the conversation.
    Resolve,
    /// The status of this order.
    Order(String),
    /// An order's status, without saying which.
    OrderWithoutNumber,
    /// A configured intent.
    Intent(&'a str),
    /// Nothing the bot knows.
    Nothing,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answer with this text.
    Reply(String),
    /// Hand off to an agent for this reason.
    Handoff(String),
    /// Close the conversation.
    Resolve,
    /// Ask the order API about this order, then answer with
    /// [`Order::answer`].
    LookUpOrder(String),
}

impl Settings {
    /// Normalizes the configured values.
    pub fn new(config: Config) -> Settings {
        let handoff_phrases = config.handoff_phrases.unwrap_or_else(|| {
            DEFAULT_HANDOFF_PHRASES
                .iter()
                .map(|p| p.to_string())
                .collect()
        });
        let fallback = config
            .fallback
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_FALLBACK.to_string());
        Settings {
            handoff_phrases: phrases(&handoff_phrases),
            resolve_phrases: phrases(&config.resolve_phrases),
            fallback: Localized::new(fallback, config.fallback_answers),
            intents: config
                .intents
                .into_iter()
                .map(|i| Intent {
                    name: i.name,
                    phrases: phrases(&i.phrases),
                    answer: Localized::new(i.answer, i.answers),
                })
                .collect(),
            order: config
                .order_status
                .filter(|o| !o.api_base.trim().is_empty())
                .map(|o| Order {
                    api_base: o.api_base.trim().trim_end_matches('/').to_string(),
                    path: o.path,
                    token: o.token.filter(|t| !t.is_empty()),
                    timeout_ms: o.timeout_ms,
                    phrases: phrases(&o.phrases),
                    answer: Localized::new(o.answer, o.answers),
                    not_found: Localized::new(o.not_found, o.not_found_answers),
                    ask_number: Localized::new(o.ask_number, o.ask_number_answers),
                }),
        }
    }

    /// What `text` asks for. Handoff phrases win, then resolve phrases (both
    /// as whole words), then an order question with a number, then the first
    /// intent whose phrase occurs, then an order question without a number.
    pub fn classify(&self, text: &str) -> Matched<'_> {
        let words = normalized(text);
        if self.handoff_phrases.iter().any(|p| has_words(&words, p)) {
            return Matched::Handoff;
        }
        if self.resolve_phrases.iter().any(|p| has_words(&words, p)) {
            return Matched::Resolve;
        }
        let order_question = self
            .order
            .as_ref()
            .is_some_and(|o| o.phrases.iter().any(|p| occurs(&words, p)));
        if order_question && let Some(number) = order_number(text) {
            return Matched::Order(number);
        }
        if let Some(intent) = self
            .intents
            .iter()
            .find(|i| i.phrases.iter().any(|p| occurs(&words, p)))
        {
            return Matched::Intent(&intent.name);
        }
        if order_question {
            return Matched::OrderWithoutNumber;
        }
        Matched::Nothing
    }

    /// What to do with `text`, given the customer's language and the bot's
    /// previous message in this conversation.
    pub fn decide(&self, text: &str, language: Option<&str>, previous_bot: Option<&str>) -> Step {
        match self.classify(text) {
            Matched::Handoff => Step::Handoff(REASON_ASKED.into()),
            Matched::Resolve => Step::Resolve,
            Matched::Order(number) => Step::LookUpOrder(number),
            Matched::OrderWithoutNumber => Step::Reply(
                self.order
                    .as_ref()
                    .map(|o| o.ask_number.pick(language).to_string())
                    .unwrap_or_default(),
            ),
            Matched::Intent(name) => {
                let intent = self.intents.iter().find(|i| i.name == name);
                Step::Reply(intent.map_or("", |i| i.answer.pick(language)).to_string())
            }
            Matched::Nothing => {
                if previous_bot.is_some_and(|t| self.fallback.is_any(t)) {
                    Step::Handoff(REASON_NOT_UNDERSTOOD.into())
                } else {
                    Step::Reply(self.fallback.pick(language).to_string())
                }
            }
        }
    }

    /// A short summary for the agent: the customer's last messages, how often
    /// the bot answered, and what the customer asked about.
    pub fn summary(
        &self,
        customer_texts: &[String],
        bot_replies: usize,
        note: Option<&str>,
    ) -> String {
        const QUOTED: usize = 3;
        let quoted: Vec<String> = customer_texts
            .iter()
            .skip(customer_texts.len().saturating_sub(QUOTED))
            .map(|t| format!("\"{}\"", shorten(t, 160)))
            .collect();
        let mut intents: Vec<String> = Vec::new();
        for text in customer_texts {
            let name = match self.classify(text) {
                Matched::Order(number) => format!("order status (order {number})"),
                Matched::OrderWithoutNumber => "order status".to_string(),
                Matched::Intent(name) => name.to_string(),
                Matched::Handoff | Matched::Resolve | Matched::Nothing => continue,
            };
            if !intents.contains(&name) {
                intents.push(name);
            }
        }
        let mut summary = format!(
            "Customer wrote: {}; bot answered {bot_replies} time{}; intent: {}",
            if quoted.is_empty() {
                "nothing".to_string()
            } else {
                quoted.join(" / ")
            },
            if bot_replies == 1 { "" } else { "s" },
            if intents.is_empty() {
                "none".to_string()
            } else {
                intents.join(", ")
            },
        );
        if let Some(note) = note {
            summary.push_str("; ");
            summary.push_str(note);
        }
        summary
    }
}

impl Order {
    /// The API URL for order `number`.
    pub fn url(&self, number: &str) -> String {
        let path = self.path.replace("{id}", number);
        if path.starts_with('/') || path.is_empty() {
            format!("{}{path}", self.api_base)
        } else {
            format!("{}/{path}", self.api_base)
        }
    }

    /// The reply to the customer from the API's answer (`status`, `body`),
    /// or why it could not be made (the caller hands off).
    pub fn answer(
        &self,
        number: &str,
        status: u16,
        body: &[u8],
        language: Option<&str>,
    ) -> Result<String, String> {
        if status == 404 {
            return fill(self.not_found.pick(language), |key| {
                (key == "id").then(|| number.to_string())
            });
        }
        if !(200..300).contains(&status) {
            return Err(format!("the order API answered {status}"));
        }
        let json: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("the order API answered invalid JSON: {e}"))?;
        let object = json
            .as_object()
            .ok_or("the order API answered JSON that is not an object")?;
        fill(self.answer.pick(language), |key| {
            if key == "id" {
                return Some(number.to_string());
            }
            match object.get(key)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        })
    }
}

/// Replaces every `{name}` in `template` with `value(name)`; a name without
/// a value is an error (a half-filled answer would mislead the customer).
/// A `{` without a closing `}` is kept as it is.
pub fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                let filled = value(name.trim())
                    .ok_or_else(|| format!("the order API's answer has no `{}`", name.trim()))?;
                out.push_str(&filled);
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The first run of 3 or more digits in `text` (at most 32 kept): the order
/// number.
pub fn order_number(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() >= 3)
        .map(|run| run.chars().take(32).collect())
}

/// Lower-case words separated by single spaces, with a space at each end, so
/// that `" word "` finds whole words.
fn normalized(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    format!(" {} ", words.join(" "))
}

/// Phrases normalized like messages (without the surrounding spaces); empty
/// ones dropped.
fn phrases(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|p| normalized(p).trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether `phrase` occurs in the normalized message as whole words.
fn has_words(normalized_text: &str, phrase: &str) -> bool {
    normalized_text.contains(&format!(" {phrase} "))
}

/// Whether `phrase` occurs anywhere in the normalized message (`ship` finds
/// `shipping`).
fn occurs(normalized_text: &str, phrase: &str) -> bool {
    normalized_text.contains(phrase)
}

/// At most `max` characters of `text` on one line, `…` when cut; media-only
/// messages read `[attachment]`.
fn shorten(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "[attachment]".into();
    }
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn settings() -> Settings {
        let intents: Vec<IntentConfig> = serde_json::from_str(
            r#"[
                {"name": "shipping", "phrases": ["shipping", "delivery time", "how long"],
                 "answer": "Orders ship within 1 business day.",
                 "answers": {"es": "Los pedidos se envían en 1 día hábil."}},
                {"name": "returns", "phrases": ["return"], "answer": "30 days."}
            ]"#,
        )
        .unwrap();
        let order: OrderConfig = serde_json::from_str(
            r#"{"api_base": "https://orders.example.com/", "token": "t",
                "answers": {"es": "El pedido {id} está {status}."}}"#,
        )
        .unwrap();
        Settings::new(Config {
            handoff_phrases: Some(vec!["agent".into(), "human".into(), "real person".into()]),
            resolve_phrases: vec!["bye".into()],
            fallback: Some("Sorry?".into()),
            fallback_answers: map(&[("ES", "¿Perdón?")]),
            intents,
            order_status: Some(order),
        })
    }

    #[test]
    fn handoff_phrases_match_whole_words_only() {
        let s = settings();
        assert_eq!(s.classify("Agent"), Matched::Handoff);
        assert_eq!(
            s.classify("  can I talk to a   HUMAN, please?"),
            Matched::Handoff
        );
        assert_eq!(s.classify("a real\tperson!"), Matched::Handoff);
        assert_eq!(s.classify("agents"), Matched::Nothing);
        assert_eq!(s.classify("reagent"), Matched::Nothing);
        assert_eq!(s.classify("a person"), Matched::Nothing);
        assert_eq!(s.classify("ok bye"), Matched::Resolve);
        assert_eq!(s.classify("bye, agent"), Matched::Handoff, "handoff wins");
    }

    #[test]
    fn intents_and_orders() {
        let s = settings();
        assert_eq!(
            s.classify("How long is DELIVERY   time?"),
            Matched::Intent("shipping")
        );
        assert_eq!(
            s.classify("what about shipping"),
            Matched::Intent("shipping")
        );
        assert_eq!(s.classify("Can I return it?"), Matched::Intent("returns"));
        assert_eq!(
            s.classify("Where is order #4821?"),
            Matched::Order("4821".into())
        );
        assert_eq!(
            s.classify("return order 12"),
            Matched::Intent("returns"),
            "two digits are not an order number"
        );
        assert_eq!(s.classify("where is my order"), Matched::OrderWithoutNumber);
        assert_eq!(s.classify("hello 4821"), Matched::Nothing, "a number alone");
        assert_eq!(s.classify(""), Matched::Nothing);
    }

    #[test]
    fn answers_follow_the_language() {
        let s = settings();
        let reply = |text, lang| s.decide(text, lang, None);
        assert_eq!(
            reply("shipping?", None),
            Step::Reply("Orders ship within 1 business day.".into())
        );
        assert_eq!(
            reply("shipping?", Some("es")),
            Step::Reply("Los pedidos se envían en 1 día hábil.".into())
        );
        assert_eq!(
            reply("shipping?", Some("es_MX")),
            Step::Reply("Los pedidos se envían en 1 día hábil.".into())
        );
        assert_eq!(
            reply("shipping?", Some("fr")),
            Step::Reply("Orders ship within 1 business day.".into())
        );
        assert_eq!(reply("???", Some("es")), Step::Reply("¿Perdón?".into()));
    }

    #[test]
    fn two_misunderstandings_in_a_row_hand_off() {
        let s = settings();
        assert_eq!(s.decide("blah", None, None), Step::Reply("Sorry?".into()));
        assert_eq!(
            s.decide("blah", None, Some("Orders ship within 1 business day.")),
            Step::Reply("Sorry?".into())
        );
        assert_eq!(
            s.decide("blah", None, Some("Sorry?")),
            Step::Handoff(REASON_NOT_UNDERSTOOD.into())
        );
        // The previous fallback in another language counts too.
        assert_eq!(
            s.decide("blah", Some("es"), Some("¿Perdón?")),
            Step::Handoff(REASON_NOT_UNDERSTOOD.into())
        );
        // Understanding in between resets it.
        assert_eq!(
            s.decide("shipping", None, Some("Sorry?")),
            Step::Reply("Orders ship within 1 business day.".into())
        );
        assert_eq!(
            s.decide("agent", None, None),
            Step::Handoff(REASON_ASKED.into())
        );
        assert_eq!(s.decide("bye", None, None), Step::Resolve);
        assert_eq!(
            s.decide("where is order 4821", None, None),
            Step::LookUpOrder("4821".into())
        );
        assert!(
            matches!(s.decide("status of my order?", None, None), Step::Reply(t) if t.contains("Which order"))
        );
    }

    #[test]
    fn order_answers_come_from_the_api_json() {
        let s = settings();
        let order = s.order.as_ref().unwrap();
        assert_eq!(order.url("4821"), "https://orders.example.com/orders/4821");
        assert_eq!(order.token.as_deref(), Some("t"));
        let body = br#"{"id": "x", "status": "shipped", "items": 2, "eta": null}"#;
        assert_eq!(
            order.answer("4821", 200, body, None).unwrap(),
            "Order 4821 is shipped."
        );
        assert_eq!(
            order.answer("4821", 200, body, Some("es")).unwrap(),
            "El pedido 4821 está shipped."
        );
        assert_eq!(
            order.answer("4821", 404, b"", None).unwrap(),
            "I could not find order 4821."
        );
        assert!(order.answer("4821", 500, b"", None).is_err());
        assert!(order.answer("4821", 200, b"not json", None).is_err());
        assert!(order.answer("4821", 200, b"[1]", None).is_err());
        assert!(
            order
                .answer("4821", 200, br#"{"state": "x"}"#, None)
                .is_err()
        );
        // No API configured: no order intent.
        let none = Settings::new(Config {
            order_status: Some(serde_json::from_str("{}").unwrap()),
            ..Config::default()
        });
        assert!(none.order.is_none());
        assert_eq!(none.classify("where is order 4821"), Matched::Nothing);
    }

    #[test]
    fn templates_fill_and_keep_stray_braces() {
        let v = |k: &str| (k == "a").then(|| "1".to_string());
        assert_eq!(fill("x {a} y { a }", v).unwrap(), "x 1 y 1");
        assert_eq!(fill("open { brace", v).unwrap(), "open { brace");
        assert!(fill("{b}", v).is_err());
        assert_eq!(fill("", v).unwrap(), "");
    }

    #[test]
    fn summaries_quote_the_customer_and_name_intents() {
        let s = settings();
        let texts: Vec<String> = [
            "hi",
            "how long is shipping",
            "where is order 4821",
            "",
            "agent",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            s.summary(&texts, 3, None),
            "Customer wrote: \"where is order 4821\" / \"[attachment]\" / \"agent\"; bot answered 3 times; intent: shipping, order status (order 4821)"
        );
        assert_eq!(
            s.summary(&["agent".into()], 1, Some("order lookup: down")),
            "Customer wrote: \"agent\"; bot answered 1 time; intent: none; order lookup: down"
        );
        assert_eq!(
            s.summary(&[], 0, None),
            "Customer wrote: nothing; bot answered 0 times; intent: none"
        );
        let long = "x".repeat(500);
        assert!(
            s.summary(&[long], 0, None)
                .contains(&format!("{}…", "x".repeat(160)))
        );
    }

    #[test]
    fn default_settings_hand_off_on_agent_and_human() {
        let s = Settings::default();
        assert_eq!(s.classify("human please"), Matched::Handoff);
        assert!(s.order.is_none());
        assert_eq!(
            s.decide("hello", None, None),
            Step::Reply(DEFAULT_FALLBACK.into())
        );
    }
}
