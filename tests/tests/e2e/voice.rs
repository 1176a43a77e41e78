//! Voice journeys end to end, against a mock Twilio: a caller outside
//! business hours hears when the centre opens and leaves a voicemail that
//! waits for an agent as a task with the recording; a waiting caller hears
//! her place and the wait, presses the callback key, hangs up and keeps
//! her place; the accepting agent is bridged to a call placed to her,
//! retried when unanswered and closed as `callback_failed` after the last
//! attempt.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::kind::Kind;
use switchboard_tests::channels::secrets::TWILIO_SID;
use switchboard_tests::channels::{fixture, form_with, post_twilio, take_task};
use switchboard_tests::presets::{VOICE, closed_today, fast_outbox};
use switchboard_tests::{MockServer, Recorded, TestHost, eventually};

/// The caller of the fixture call.
const CALLER: &str = "+16505551234";
/// The number she called.
const CENTRE: &str = "+14155550100";

/// A form of the fixture call with `sid`, from `from`, in `status`, plus
/// `extra` fields.
fn call_form(sid: &str, from: &str, status: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut form = fixture("voice/incoming.form");
    for (k, v) in [
        ("CallSid", sid),
        ("From", from),
        ("Caller", from),
        ("CallStatus", status),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        form = form_with(&form, k, v);
    }
    form
}

fn params(request: &Recorded) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(&request.body).unwrap()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The calls the mock Twilio was asked to place (`POST …/Calls.json`).
fn placed(mock: &MockServer) -> Vec<Vec<(String, String)>> {
    let url = format!("/2010-04-01/Accounts/{TWILIO_SID}/Calls.json");
    mock.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri == url)
        .map(params)
        .collect()
}

async fn wait_placed(mock: &MockServer, n: usize) -> Vec<Vec<(String, String)>> {
    assert!(
        eventually(Duration::from_secs(10), || placed(mock).len() >= n).await,
        "{n} calls placed: {:?}",
        placed(mock)
    );
    placed(mock)
}

/// Voice closed all day today and tomorrow (holidays of an otherwise
/// 09:00-17:00 calendar).
fn voice_closed(config: &mut Config) {
    fast_outbox(config);
    let calendar = closed_today();
    config.hours.calendars.insert("phones".into(), calendar);
    config.hours.kinds.insert(Kind::Voice, "phones".into());
}

#[tokio::test]
async fn a_caller_outside_hours_hears_the_opening_and_her_voicemail_waits_for_an_agent() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[VOICE], voice_closed).await;
    let (status, twiml) = post_twilio(&host, "voice", &fixture("voice/incoming.form")).await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("We are closed right now and open again "),
        "{twiml}"
    );
    assert!(twiml.contains(" 09:00. Please leave a message"), "{twiml}");
    assert!(
        twiml.contains(r#"<Record action="https://cc.example.com/webhooks/voice/voicemail""#),
        "{twiml}"
    );
    assert!(!twiml.contains("<Enqueue"), "{twiml}");
    assert!(host.queue().await.is_empty(), "no task for the call itself");

    // She leaves 42 seconds; Twilio posts the recording.
    let recording = format!(
        "{}/2010-04-01/Accounts/{TWILIO_SID}/Recordings/RE42",
        mock.url()
    );
    let sid = "CA5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b";
    let left = call_form(
        sid,
        CALLER,
        "completed",
        &[
            ("RecordingUrl", recording.as_str()),
            ("RecordingDuration", "42"),
            ("RecordingSid", "RE42"),
        ],
    );
    let (status, twiml) = post_twilio(&host, "voice/voicemail", &left).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Hangup/>"), "{twiml}");
    // Twilio may post it twice: one message.
    assert_eq!(post_twilio(&host, "voice/voicemail", &left).await.0, 200);
    // The hang-up does not cancel it.
    let ended = call_form(sid, CALLER, "completed", &[("CallDuration", "60")]);
    assert_eq!(post_twilio(&host, "voice/status", &ended).await.0, 200);
    let queue = host.queue().await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["channel_kind"], "voice");
    assert_eq!(queue[0]["state"], "pending");
    let conversation_id = queue[0]["conversation_id"].as_str().unwrap().to_string();
    let conversation = host.conversation(&conversation_id).await;
    assert!(conversation["voicemail_at"].is_u64(), "{conversation}");
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["text"], "Voicemail (42 s)");
    let attachment = &messages[0]["attachments"][0];
    assert_eq!(attachment["content_type"], "audio/mpeg", "{attachment}");
    assert_eq!(messages[0]["metadata"]["switchboard-voicemail"], "42");

    // At opening, an agent takes it: nobody is dialled, she plays it.
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let (status, body) = host
        .call(
            "POST",
            "/api/hours/phones/override",
            Some(&sue),
            Some(json!({"open": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (token, task) = take_task(&host, "ana", json!({"voice_endpoint": "client:ana"})).await;
    assert_eq!(task["conversation_id"], conversation_id.as_str());
    mock.respond_with(200, "ID3-voicemail-bytes");
    let (status, _, bytes) = host
        .open_attachment(&token, messages[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"ID3-voicemail-bytes");
    let requests = mock.requests();
    assert_eq!(
        requests.len(),
        1,
        "only the recording was fetched: {requests:?}"
    );
    assert!(
        requests[0].uri.ends_with("/Recordings/RE42.mp3"),
        "{}",
        requests[0].uri
    );
    assert!(
        requests[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
        "fetched with the account's credentials"
    );
}

/// Two callers wait; the second presses 1 and hangs up. `max_attempts`
/// and a short retry.
async fn two_callers(max_attempts: u32) -> (MockServer, TestHost, String) {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[VOICE], |config| {
        fast_outbox(config);
        config.callbacks.max_attempts = max_attempts;
        config.callbacks.retry_after_ms = 50;
    })
    .await;
    for (sid, from) in [("CAfirst", "+16505550001"), ("CAsecond", CALLER)] {
        let (status, twiml) =
            post_twilio(&host, "voice", &call_form(sid, from, "ringing", &[])).await;
        assert_eq!(status, 200);
        assert!(
            twiml.contains(r#"<Enqueue waitUrl="https://cc.example.com/webhooks/voice/wait">"#),
            "{twiml}"
        );
    }
    // Her wait music: her place, then the menu.
    let (status, twiml) = post_twilio(
        &host,
        "voice/wait",
        &call_form("CAsecond", CALLER, "in-progress", &[("QueuePosition", "2")]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("<Say>You are number 2 in the queue.</Say>"),
        "{twiml}"
    );
    assert!(
        twiml.contains(
            r#"<Gather numDigits="1" action="https://cc.example.com/webhooks/voice/choice""#
        ) && twiml.contains("Press 1 to be called back"),
        "{twiml}"
    );
    // Another key is not a choice: back to waiting.
    let (_, twiml) = post_twilio(
        &host,
        "voice/choice",
        &call_form("CAsecond", CALLER, "in-progress", &[("Digits", "7")]),
    )
    .await;
    assert!(twiml.contains("<Redirect"), "{twiml}");
    let (status, twiml) = post_twilio(
        &host,
        "voice/choice",
        &call_form("CAsecond", CALLER, "in-progress", &[("Digits", "1")]),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("We will call you back") && twiml.ends_with("<Hangup/></Response>"),
        "{twiml}"
    );
    let hung_up = call_form("CAsecond", CALLER, "completed", &[("CallDuration", "40")]);
    assert_eq!(post_twilio(&host, "voice/status", &hung_up).await.0, 200);

    // She kept her place.
    let queue = host.queue().await;
    assert_eq!(queue.len(), 2, "{queue:?}");
    let second = queue
        .iter()
        .find(|t| t["position_in_kind"] == 2)
        .expect("a second in line");
    let conversation_id = second["conversation_id"].as_str().unwrap().to_string();
    let conversation = host.conversation(&conversation_id).await;
    assert_eq!(conversation["callback"]["number"], CALLER, "{conversation}");
    assert_eq!(conversation["callback"]["from"], CENTRE, "{conversation}");
    assert_eq!(conversation["callback"]["attempts"], 0, "{conversation}");
    (mock, host, conversation_id)
}

/// Ana takes the first caller (bridged), completes, then accepts the
/// callback: the third request to the mock is the call placed to her.
async fn ana_reaches_the_callback(
    host: &TestHost,
    mock: &MockServer,
    conversation: &str,
) -> (String, Value) {
    let (token, first) = take_task(host, "ana", json!({"voice_endpoint": "client:ana"})).await;
    assert_ne!(first["conversation_id"], conversation);
    assert!(
        placed(mock).is_empty(),
        "the first caller is on the line: no call placed"
    );
    host.complete_task(&token, first["id"].as_str().unwrap(), None)
        .await;
    let tasks = host
        .wait_tasks("ana", &token, |t| {
            t.iter().any(|t| t["state"] == "reserved")
        })
        .await;
    let callback = tasks.iter().find(|t| t["state"] == "reserved").unwrap();
    assert_eq!(callback["conversation_id"], conversation);
    let accepted = host
        .accept_task(&token, callback["id"].as_str().unwrap())
        .await;
    (token, accepted)
}

fn callback_status(id: &str, sid: &str, status: &str) -> (String, Vec<u8>) {
    let path = format!("voice/callback?id={id}");
    let mut form = call_form(
        sid,
        CENTRE,
        status,
        &[("To", CALLER), ("Direction", "outbound-api")],
    );
    if status == "completed" {
        form = form_with(&form, "CallDuration", "75");
    }
    (path, form)
}

#[tokio::test]
async fn a_caller_who_asks_for_a_callback_keeps_her_place_and_is_called_until_she_answers() {
    let (mock, host, conversation) = two_callers(3).await;
    let (token, task) = ana_reaches_the_callback(&host, &mock, &conversation).await;

    let calls = wait_placed(&mock, 1).await;
    let call = &calls[0];
    assert_eq!(param(call, "To"), Some(CALLER));
    assert_eq!(param(call, "From"), Some(CENTRE));
    assert!(
        param(call, "Twiml")
            .unwrap()
            .contains("<Dial><Client>ana</Client></Dial>")
    );
    let first_id = format!("{conversation}.1");
    assert_eq!(
        param(call, "StatusCallback"),
        Some(format!("https://cc.example.com/webhooks/voice/callback?id={first_id}").as_str())
    );

    // No answer: called again after the configured pause.
    let (path, form) = callback_status(&first_id, "CAout1", "no-answer");
    assert_eq!(post_twilio(&host, &path, &form).await.0, 200);
    let calls = wait_placed(&mock, 2).await;
    let second_id = format!("{conversation}.2");
    assert!(
        param(&calls[1], "StatusCallback")
            .unwrap()
            .ends_with(&second_id)
    );
    // A late status of the first attempt changes nothing.
    let (path, form) = callback_status(&first_id, "CAout1", "busy");
    assert_eq!(post_twilio(&host, &path, &form).await.0, 200);

    // She answers, talks, hangs up: the task wraps up.
    for status in ["in-progress", "completed"] {
        let (path, form) = callback_status(&second_id, "CAout2", status);
        assert_eq!(post_twilio(&host, &path, &form).await.0, 200);
    }
    let tasks = host
        .wait_tasks("ana", &token, |t| {
            t.iter().any(|t| t["state"] == "wrapping")
        })
        .await;
    assert_eq!(tasks[0]["id"], task["id"]);
    assert_eq!(placed(&mock).len(), 2);
    let texts = host.message_texts(&conversation).await;
    assert!(
        texts
            .iter()
            .any(|t| t.contains("asked to be called back at +16505551234")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("did not answer the callback (no-answer, attempt 1 of 3)")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t == "The customer answered the callback"),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t == "Callback ended after 75 s"),
        "{texts:?}"
    );
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["channels"]["voice"]["abandoned"], 0, "{stats}");
}

#[tokio::test]
async fn an_unanswered_callback_is_retried_then_closed_as_callback_failed() {
    let (mock, host, conversation) = two_callers(2).await;
    let (token, task) = ana_reaches_the_callback(&host, &mock, &conversation).await;
    for attempt in 1..=2 {
        wait_placed(&mock, attempt).await;
        let (path, form) = callback_status(
            &format!("{conversation}.{attempt}"),
            &format!("CAout{attempt}"),
            "no-answer",
        );
        assert_eq!(post_twilio(&host, &path, &form).await.0, 200);
    }
    let done = host
        .admin_json_until(
            &format!("/api/tasks/{}", task["id"].as_str().unwrap()),
            "the callback closed",
            |t| t["state"] == "completed",
        )
        .await;
    assert_eq!(done["disposition"], "callback_failed", "{done}");
    assert!(
        host.tasks_of("ana", &token)
            .await
            .iter()
            .all(|t| t["id"] != task["id"])
    );
    let view = host.conversation(&conversation).await;
    assert_eq!(view["status"], "resolved", "{view}");
    assert_eq!(view["disposition"], "callback_failed", "{view}");
    // Not tried a third time.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(placed(&mock).len(), 2);
    let texts = host.message_texts(&conversation).await;
    assert!(
        texts
            .iter()
            .any(|t| t == "The callback failed: no answer after 2 attempts"),
        "{texts:?}"
    );
}
