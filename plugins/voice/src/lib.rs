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
//!   While the channel's business hours are closed (host function
//!   `business-hours`), the caller hears `closed_greeting` with the next
//!   opening instead, and may leave a voicemail; no task is opened for the
//!   call itself.
//! - While she waits, Twilio's wait music asks `/wait`: she hears her place
//!   in the queue and the estimated wait (host function `queue-place`), and
//!   the menu: `callback_key` to be called back keeping her place (a `call`
//!   event with `switchboard-callback: requested`; she hangs up),
//!   `voicemail_key` to leave a message (she leaves the queue and is
//!   recorded).
//! - A recording posted to `/voicemail` becomes a message on the call's
//!   thread with the recording as an attachment (`audio/mpeg`, fetched with
//!   the account's credentials, from Twilio's API host only) and
//!   `switchboard-voicemail: <seconds>`.
//! - Later call states (`in-progress`, `completed`, `busy`, `no-answer`,
//!   `failed`, `canceled`) become `call` events: a caller who hangs up while
//!   waiting cancels the task (abandoned) unless she asked for a callback or
//!   left a voicemail; a hang-up after the agent was connected sends the
//!   task to wrap-up.
//! - When an agent accepts, the host asks `deliver` to connect the call:
//!   the call is redirected through Twilio's call-update API
//!   (`POST {api_base}/2010-04-01/Accounts/{account_sid}/Calls/{CallSid}.json`
//!   with `Twiml`) to `<Dial>` the agent's `voice_endpoint`: `client:<name>`
//!   for a Twilio Client, `sip:<uri>` for SIP, anything else as a number.
//! - A callback (`call-customer`) creates a call to the customer
//!   (`POST …/Calls.json`) whose TwiML dials the agent once she answers;
//!   its progress comes back to `/callback?id=<callback id>` and is reported
//!   with `switchboard-callback-id`.

// Without its exports (see the end of the file) the channel is unused.
#![cfg_attr(feature = "fuzzing", allow(dead_code))]

use switchboard_sdk::{
    Attachment, CallCustomer, CallEvent, CallState, Channel, ChannelEvent, ChannelInfo,
    ChannelKind, ChannelRules, ConnectCall, Delivery, DeliveryError, HttpRequest, HttpResponse,
    Identity, InboundMessage, Media, OutboundAction, PluginError, WebhookOutcome, config, http,
    signature,
    webhook::{field, required_field},
};

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod prompts;

use prompts::{Choice, Menu, say, twiml, xml};

/// Call-event metadata: the caller asked to be called back.
const CALLBACK_REQUEST: &str = "switchboard-callback";
/// Call-event metadata: the host's id of the callback a call is.
const CALLBACK_ID: &str = "switchboard-callback-id";
/// Message metadata: the message is a voicemail of this many seconds.
const VOICEMAIL: &str = "switchboard-voicemail";

struct Voice;

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

/// The account's credentials; missing is permanent (the admin must set them).
fn credentials() -> Result<(String, String), DeliveryError> {
    let account = config::get_or("account_sid", "");
    let token = config::get_or("auth_token", "");
    if account.is_empty() || token.is_empty() {
        return Err(DeliveryError::permanent(
            "account_sid and auth_token must be configured",
        ));
    }
    Ok((account, token))
}

/// `{api_base}/2010-04-01/Accounts/{account}/Calls{rest}`.
fn calls_url(account: &str, rest: &str) -> String {
    let base = config::get_or("api_base", "https://api.twilio.com");
    format!(
        "{}/2010-04-01/Accounts/{account}/Calls{rest}",
        base.trim_end_matches('/')
    )
}

fn update_call(call_id: &str, form: &[(&str, &str)]) -> Result<Delivery, DeliveryError> {
    let (account, token) = credentials()?;
    http::deliver(
        http::Request::post(calls_url(&account, &format!("/{call_id}.json")))
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

/// Calls the customer back: a new call whose TwiML, once she answers,
/// says `callback_greeting` and dials the agent. Its progress is posted to
/// `/callback?id=…`.
fn call_back(c: &CallCustomer) -> Result<Delivery, DeliveryError> {
    if c.agent_endpoint.trim().is_empty() {
        return Err(DeliveryError::permanent("the agent has no voice endpoint"));
    }
    let Identity::Phone(to) = &c.to else {
        return Err(DeliveryError::permanent(
            "a callback needs the customer's phone number",
        ));
    };
    let caller_id = config::get_or("callback_caller_id", "");
    let from = Some(caller_id.trim())
        .filter(|n| !n.is_empty())
        .or(c.from.as_deref())
        .ok_or_else(|| DeliveryError::permanent("no number to call from: set callback_caller_id"))?
        .to_string();
    let (account, token) = credentials()?;
    let greeting = config::get_or(
        "callback_greeting",
        "Hello, this is the call back you asked for. Connecting you to an agent.",
    );
    let twiml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{}<Dial>{}</Dial></Response>"#,
        say(&greeting),
        dial_target(&c.agent_endpoint)
    );
    let status_url = format!(
        "{}/webhooks/voice/callback?id={}",
        public_base(),
        query_value(&c.callback_id)
    );
    let response = http::deliver(
        http::Request::post(calls_url(&account, ".json"))
            .basic_auth(&account, &token)
            .form(&[
                ("To", to.as_str()),
                ("From", from.as_str()),
                ("Twiml", twiml.as_str()),
                ("StatusCallback", status_url.as_str()),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
            ]),
    )?;
    let sid = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v.get("sid").and_then(|s| s.as_str()).map(str::to_string));
    Ok(Delivery {
        provider_message_id: sid.or_else(|| Some(c.callback_id.clone())),
    })
}

/// `value` percent-encoded for a query string.
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// `public_base_url` without a trailing slash.
fn public_base() -> String {
    config::get_or("public_base_url", "")
        .trim_end_matches('/')
        .to_string()
}

fn menu() -> Menu {
    Menu {
        callback_key: config::get_or("callback_key", "1").trim().to_string(),
        voicemail_key: config::get_or("voicemail_key", "2").trim().to_string(),
        options: config::get_or(
            "menu",
            "Press 1 to be called back without losing your place, or 2 to leave a message.",
        ),
    }
}

fn max_voicemail_seconds() -> u32 {
    config::get_or("max_voicemail_seconds", "120")
        .trim()
        .parse::<u32>()
        .unwrap_or(120)
        .clamp(5, 3_600)
}

fn voicemail_prompt() -> String {
    config::get_or("voicemail_prompt", "Please leave a message after the tone.")
}

/// The caller's number, unless withheld or a Twilio Client.
fn caller(form: &[(String, String)]) -> Option<Identity> {
    field(form, "From")
        .or(field(form, "Caller"))
        .filter(|f| !f.is_empty() && !f.starts_with("client:") && !f.contains("anonymous"))
        .map(|f| Identity::phone(f.to_string()))
}

/// A ringing call: greeted and queued, or, while closed, offered voicemail.
fn ring(event: ChannelEvent) -> WebhookOutcome {
    let base = public_base();
    let hours = switchboard_sdk::business_hours();
    if !hours.open {
        let greeting = config::get_or(
            "closed_greeting",
            "We are closed right now and open again {opens}. Please leave a message after the tone.",
        );
        let body = prompts::closed(
            &base,
            &greeting,
            hours.next_change_local.as_deref(),
            max_voicemail_seconds(),
        );
        // No task for the call itself: a voicemail left becomes one.
        return WebhookOutcome::respond(twiml(&body), Vec::new());
    }
    let greeting = config::get_or("greeting", "Please hold while we connect you.");
    let body = prompts::incoming(
        &base,
        &greeting,
        &config::get_or("queue_name", "switchboard"),
        &voicemail_prompt(),
        max_voicemail_seconds(),
    );
    WebhookOutcome::respond(twiml(&body), vec![event])
}

/// Twilio's wait music for a queued caller: her place, then the menu.
fn wait(form: &[(String, String)]) -> Result<WebhookOutcome, PluginError> {
    let call_id = required_field(form, "CallSid")?;
    let standing = caller(form).and_then(|who| switchboard_sdk::queue_place(&who, call_id));
    let place = prompts::place(
        &config::get_or("place_message", "You are number {position} in the queue."),
        &config::get_or("wait_message", "The wait is about {minutes} minutes."),
        standing.as_ref(),
    );
    let body = prompts::waiting(&public_base(), &place, &menu());
    Ok(WebhookOutcome::respond(twiml(&body), Vec::new()))
}

/// A key the waiting caller pressed.
fn choice(form: &[(String, String)]) -> Result<WebhookOutcome, PluginError> {
    let call_id = required_field(form, "CallSid")?.to_string();
    let back_to_waiting = || {
        format!(
            r#"<Redirect method="POST">{}</Redirect>"#,
            xml(&format!("{}/webhooks/voice/wait", public_base()))
        )
    };
    match menu().choice(field(form, "Digits").unwrap_or_default()) {
        Choice::Callback => {
            let Some(number) = caller(form) else {
                let body = format!(
                    "{}{}",
                    say("We cannot call you back: your number is withheld."),
                    back_to_waiting()
                );
                return Ok(WebhookOutcome::respond(twiml(&body), Vec::new()));
            };
            let event = ChannelEvent::Call(CallEvent {
                call_id,
                state: CallState::InProgress,
                from: Some(number.verified()),
                to: field(form, "To")
                    .or(field(form, "Called"))
                    .map(str::to_string),
                display_name: None,
                at: None,
                metadata: vec![(CALLBACK_REQUEST.into(), "requested".into())],
            });
            let confirmation = config::get_or(
                "callback_confirmation",
                "Thank you. We will call you back on this number, and you keep your place in the queue. Goodbye.",
            );
            let body = format!("{}<Hangup/>", say(&confirmation));
            Ok(WebhookOutcome::respond(twiml(&body), vec![event]))
        }
        // Leaving the queue continues the call's TwiML after <Enqueue>:
        // the voicemail prompt and the recording.
        Choice::Voicemail => Ok(WebhookOutcome::respond(twiml("<Leave/>"), Vec::new())),
        Choice::Other => Ok(WebhookOutcome::respond(
            twiml(&back_to_waiting()),
            Vec::new(),
        )),
    }
}

/// A finished voicemail recording: a message on the call's thread.
fn voicemail(form: &[(String, String)]) -> Result<WebhookOutcome, PluginError> {
    let call_id = required_field(form, "CallSid")?.to_string();
    let url = field(form, "RecordingUrl").unwrap_or_default().trim();
    let seconds = field(form, "RecordingDuration")
        .and_then(|d| d.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let goodbye = twiml(&format!(
        "{}<Hangup/>",
        say(&config::get_or("voicemail_thanks", "Thank you. Goodbye."))
    ));
    if url.is_empty() || seconds == 0 {
        return Ok(WebhookOutcome::respond(goodbye, Vec::new()));
    }
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(PluginError::bad_request("RecordingUrl is not a URL"));
    }
    let message = InboundMessage {
        provider_message_id: format!("{call_id}:voicemail"),
        thread_key: call_id.clone(),
        identities: caller(form).map(Identity::verified).into_iter().collect(),
        display_name: None,
        text: format!("Voicemail ({})", prompts::duration_text(seconds)),
        attachments: vec![Attachment {
            content_type: "audio/mpeg".into(),
            url: Some(format!("{url}.mp3")),
            media_id: field(form, "RecordingSid").map(str::to_string),
            filename: Some(format!("voicemail-{call_id}.mp3")),
            size: None,
            caption: None,
        }],
        sent_at: None,
        metadata: vec![
            (VOICEMAIL.into(), seconds.to_string()),
            ("call_id".into(), call_id),
        ],
    };
    Ok(WebhookOutcome::respond(
        goodbye,
        vec![ChannelEvent::Message(message)],
    ))
}

/// The progress of a callback call (`/callback?id=…`).
fn callback_progress(
    request: &HttpRequest,
    form: &[(String, String)],
) -> Result<WebhookOutcome, PluginError> {
    let id = request
        .query_param("id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| PluginError::bad_request("a callback status needs ?id="))?;
    let (_, event) = parse_call(form)?;
    let ChannelEvent::Call(mut call) = event else {
        return Err(PluginError::bad_request("not a call"));
    };
    // From is this centre's own number on a call it placed.
    call.from = None;
    call.metadata.push((CALLBACK_ID.into(), id));
    Ok(WebhookOutcome::respond(
        twiml(""),
        vec![ChannelEvent::Call(call)],
    ))
}

/// A recording is fetched with the account's credentials, and only from
/// Twilio's API host (or the configured `api_base`): the credentials never
/// go to a URL a webhook made up.
fn fetch_recording(attachment: &Attachment) -> Result<Media, PluginError> {
    let url = attachment
        .url
        .as_deref()
        .ok_or_else(|| PluginError::bad_request("the recording has no URL"))?;
    let base = config::get_or("api_base", "https://api.twilio.com");
    let authority = http::authority(url);
    let twilio = url.starts_with("https://")
        && authority
            .as_deref()
            .is_some_and(|a| a == "api.twilio.com" || a == "api.twilio.com:443");
    if authority.is_none() || !(twilio || authority == http::authority(&base)) {
        return Err(PluginError::bad_request(
            "the recording is not on Twilio's API host; the credentials were not sent",
        ));
    }
    let (account, token) = credentials().map_err(|e| PluginError::unavailable(e.message))?;
    let file = http::fetch(http::Request::get(url).basic_auth(&account, &token))?;
    Ok(Media::downloaded(attachment, file))
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
        match request.subpath().trim_matches('/') {
            "" | "status" => {
                let (state, event) = parse_call(&form)?;
                let incoming = request.subpath().trim_matches('/').is_empty()
                    && matches!(state, CallState::Ringing | CallState::Queued);
                if incoming {
                    Ok(ring(event))
                } else {
                    Ok(WebhookOutcome::respond(twiml(""), vec![event]))
                }
            }
            "wait" => wait(&form),
            "choice" => choice(&form),
            "voicemail" => voicemail(&form),
            "callback" => callback_progress(&request, &form),
            _ => Ok(WebhookOutcome::respond(
                HttpResponse::empty(404),
                Vec::new(),
            )),
        }
    }

    fn deliver(action: OutboundAction) -> Result<Delivery, DeliveryError> {
        match action {
            OutboundAction::ConnectCall(c) => connect(&c),
            OutboundAction::EndCall(call_id) => update_call(&call_id, &[("Status", "completed")]),
            OutboundAction::Message(_) => Err(DeliveryError::permanent(
                "a voice call cannot carry a text reply",
            )),
            OutboundAction::CallCustomer(c) => call_back(&c),
        }
    }

    fn fetch_media(attachment: Attachment) -> Result<Media, PluginError> {
        fetch_recording(&attachment)
    }
}

// The fuzz targets link several channels into one native binary, where
// their component exports (same names in every channel) would clash.
#[cfg(not(feature = "fuzzing"))]
switchboard_sdk::register_channel!(Voice);
