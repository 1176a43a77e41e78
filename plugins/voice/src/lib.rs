//! Voice calls through Twilio Programmable Voice.
//!
//! Point the Twilio number's "A call comes in" webhook at
//! `{public_base_url}/webhooks/voice` and its call status callback at
//! `{public_base_url}/webhooks/voice/status`. Every request is verified with
//! `X-Twilio-Signature`, exactly as for SMS.
//!
//! - A ringing call becomes a `call` event (`ringing`, the caller's number
//!   as a phone identity) — the host opens a voice task — and is answered
//!   with TwiML that says the configured `greeting` and enqueues the caller.
//! - Later call states (`in-progress`, `completed`, `busy`, `no-answer`,
//!   `failed`, `canceled`) become `call` events: a caller who hangs up while
//!   waiting cancels the task (abandoned); a hang-up after the agent was
//!   connected sends the task to wrap-up.
//! - When an agent accepts, the host asks `deliver` to connect the call:
//!   the call is redirected through Twilio's call-update API
//!   (`POST {api_base}/2010-04-01/Accounts/{account_sid}/Calls/{CallSid}.json`
//!   with `Twiml`) to `<Dial>` the agent's `voice_endpoint`: `client:<name>`
//!   for a Twilio Client, `sip:<uri>` for SIP, anything else as a number.

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use switchboard_sdk::{
    CallEvent, CallState, Channel, ChannelEvent, ChannelInfo, ChannelKind, ChannelRules,
    ConnectCall, Delivery, DeliveryError, HttpRequest, HttpResponse, Identity, OutboundAction,
    PluginError, WebhookOutcome, config, http, signature,
    webhook::{field, required_field},
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

struct Voice;

/// Escapes text for an XML element or attribute.
fn xml(text: &str) -> String {
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

fn twiml(body: &str) -> HttpResponse {
    HttpResponse::with_body(
        200,
        "text/xml",
        format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#),
    )
}

fn state(value: &str) -> Option<CallState> {
    Some(match value {
        "ringing" => CallState::Ringing,
        "queued" => CallState::Queued,
        "in-progress" | "answered" => CallState::InProgress,
        "completed" => CallState::Completed,
        "busy" => CallState::Busy,
        "no-answer" => CallState::NoAnswer,
        "failed" => CallState::Failed,
        "canceled" => CallState::Canceled,
        _ => return None,
    })
}

fn call_event(form: &[(String, String)], state: CallState) -> Result<ChannelEvent, PluginError> {
    let call_id = required_field(form, "CallSid")?.to_string();
    let from = field(form, "From")
        .or(field(form, "Caller"))
        .filter(|f| !f.is_empty() && !f.starts_with("client:"))
        .map(|f| Identity::phone(f.to_string()).verified());
    let mut metadata = Vec::new();
    for (key, name) in [
        ("duration", "CallDuration"),
        ("direction", "Direction"),
        ("caller_city", "CallerCity"),
        ("caller_country", "CallerCountry"),
    ] {
        if let Some(v) = field(form, name).filter(|v| !v.is_empty()) {
            metadata.push((key.to_string(), v.to_string()));
        }
    }
    Ok(ChannelEvent::Call(CallEvent {
        call_id,
        state,
        from,
        to: field(form, "To")
            .or(field(form, "Called"))
            .map(str::to_string),
        display_name: field(form, "CallerName")
            .filter(|n| !n.is_empty())
            .map(str::to_string),
        at: None,
        metadata,
    }))
}

/// The call state and event of a verified webhook's form parameters. A
/// missing or unknown `CallStatus`, or no `CallSid`, is a `bad-request`
/// error. Makes no host calls, so it also runs natively (tests, fuzzing).
pub fn parse_call(form: &[(String, String)]) -> Result<(CallState, ChannelEvent), PluginError> {
    let value = required_field(form, "CallStatus")?;
    let state = state(value)
        .ok_or_else(|| PluginError::bad_request(format!("unknown CallStatus `{value}`")))?;
    Ok((state, call_event(form, state)?))
}

/// The `<Dial>` noun for an agent endpoint.
fn dial_target(endpoint: &str) -> String {
    let endpoint = endpoint.trim();
    if let Some(client) = endpoint.strip_prefix("client:") {
        format!("<Client>{}</Client>", xml(client))
    } else if endpoint.starts_with("sip:") || endpoint.starts_with("sips:") {
        format!("<Sip>{}</Sip>", xml(endpoint))
    } else {
        format!("<Number>{}</Number>", xml(endpoint))
    }
}

fn update_call(call_id: &str, form: &[(&str, &str)]) -> Result<Delivery, DeliveryError> {
    let account = config::get_or("account_sid", "");
    let token = config::get_or("auth_token", "");
    if account.is_empty() || token.is_empty() {
        return Err(DeliveryError::permanent(
            "account_sid and auth_token must be configured",
        ));
    }
    let base = config::get_or("api_base", "https://api.twilio.com");
    let url = format!(
        "{}/2010-04-01/Accounts/{account}/Calls/{call_id}.json",
        base.trim_end_matches('/')
    );
    http::deliver(
        http::Request::post(url)
            .basic_auth(&account, &token)
            .form(form),
    )?;
    Ok(Delivery {
        provider_message_id: Some(call_id.to_string()),
    })
}

fn connect(c: &ConnectCall) -> Result<Delivery, DeliveryError> {
    if c.agent_endpoint.trim().is_empty() {
        return Err(DeliveryError::permanent("the agent has no voice endpoint"));
    }
    let twiml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial>{}</Dial></Response>"#,
        dial_target(&c.agent_endpoint)
    );
    update_call(&c.call_id, &[("Twiml", twiml.as_str())])
}

impl Channel for Voice {
    fn describe() -> ChannelInfo {
        ChannelInfo {
            kind: ChannelKind::Voice,
            display_name: "Voice".into(),
            supports_attachments: false,
            rules: ChannelRules {
                free_text_window_ms: None,
                supports_templates: false,
                can_start: false,
            },
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, PluginError> {
        if request.method != "POST" {
            return Ok(WebhookOutcome::respond(
                HttpResponse::empty(405),
                Vec::new(),
            ));
        }
        let form = signature::verify_twilio_configured(&request)?;
        let (state, event) = parse_call(&form)?;
        let incoming = request.subpath().trim_matches('/').is_empty()
            && matches!(state, CallState::Ringing | CallState::Queued);
        let response = if incoming {
            let greeting = config::get_or("greeting", "Please hold while we connect you.");
            twiml(&format!(
                "<Say>{}</Say><Enqueue>{}</Enqueue>",
                xml(&greeting),
                xml(&config::get_or("queue_name", "switchboard"))
            ))
        } else {
            twiml("")
        };
        Ok(WebhookOutcome::respond(response, vec![event]))
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::ConnectCall(c) => connect(&c),
            OutboundAction::EndCall(call_id) => update_call(&call_id, &[("Status", "completed")]),
            OutboundAction::Message(_) => Err(DeliveryError::permanent(
                "a voice call cannot carry a text reply",
            )),
            OutboundAction::CallCustomer(_) => Err(DeliveryError::permanent(
                "this version of the voice channel does not call customers back",
            )),
        }
    }
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(Voice);
