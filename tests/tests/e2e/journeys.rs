//! Automation plugins end to end, with the first-party `journeys`: an
//! abandoned call gets an SMS follow-up at the mock provider; a chat
//! waiting ten minutes (its timer run now through the API, after checking
//! it was set for ten minutes) is offered a call back, and her answer opens
//! a callback task whose agent is bridged to a call placed to her; a
//! resolved conversation gets a thank-you — while automations that trap,
//! loop or flood change nothing else.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard_tests::channels::secrets::{PUBLIC_BASE_URL, TWILIO_AUTH_TOKEN, TWILIO_SID};
use switchboard_tests::channels::{caller_gives_up, sms_from, sms_sent, take_task};
use switchboard_tests::presets::{Channel, closed_today, fast_outbox};
use switchboard_tests::{
    ADMIN_TOKEN, MockServer, TestHost, eventually, first_party_manifest, install, now_ms,
    test_message, wasm,
};

/// The centre's number.
const CENTRE: &str = "+14155550100";
/// The caller / customer of the fixtures.
const CUSTOMER: &str = "+16505551234";

/// SMS that may start conversations (from the centre's number).
const SMS_FROM: Channel<'static> = (
    "sms",
    &[
        ("account_sid", TWILIO_SID),
        ("auth_token", TWILIO_AUTH_TOKEN),
        ("public_base_url", PUBLIC_BASE_URL),
        ("from_number", CENTRE),
    ],
);

/// Voice that calls back from the centre's number.
const VOICE_BACK: Channel<'static> = (
    "voice",
    &[
        ("account_sid", TWILIO_SID),
        ("auth_token", TWILIO_AUTH_TOKEN),
        ("public_base_url", PUBLIC_BASE_URL),
        ("callback_caller_id", CENTRE),
    ],
);

#[tokio::test]
async fn an_abandoned_call_gets_an_sms_follow_up() {
    let mock = MockServer::start().await;
    let host = TestHost::with_journeys(
        &mock,
        &[VOICE_BACK, SMS_FROM],
        &[("missed_call_channel", "sms")],
        &[],
        fast_outbox,
    )
    .await;
    // She rings and hangs up while waiting.
    caller_gives_up(&host).await;
    assert!(
        eventually(Duration::from_secs(10), || sms_sent(&mock).iter().any(
            |(to, body)| to == CUSTOMER && body.starts_with("Sorry we missed your call")
        ))
        .await,
        "no follow-up: {:?}",
        sms_sent(&mock)
    );
    // One text, in a conversation on SMS the customer's answer continues.
    let customer = host.customer_id(&format!("phone:{CUSTOMER}")).await;
    let conversations = host
        .admin_json(&format!("/api/conversations?customer_id={customer}"))
        .await;
    let sms: Vec<&Value> = conversations
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["channel"] == "sms")
        .collect();
    assert_eq!(sms.len(), 1, "{conversations}");
    sms_from(&host, None, "SMreply1", "Yes please call me").await;
    let queue = host
        .admin_json_until("/api/queue", "her answer queued", |q| {
            q.as_array().unwrap().iter().any(|t| t["channel"] == "sms")
        })
        .await;
    let answer = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["channel"] == "sms")
        .unwrap();
    assert_eq!(answer["conversation_id"], sms[0]["id"]);
    assert_eq!(sms_sent(&mock).len(), 1, "{:?}", sms_sent(&mock));
}

/// The timers queued for `plugin`.
async fn timers(host: &TestHost, token: &str) -> Vec<Value> {
    let (status, queued) = host
        .call("GET", "/api/automations", Some(token), None)
        .await;
    assert_eq!(status, 200, "{queued}");
    queued
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["trigger"] == "timer")
        .cloned()
        .collect()
}

/// What the chat test channel was asked to send.
fn chat_sent(mock: &MockServer) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| r.uri.ends_with("/messages"))
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_chat_waiting_ten_minutes_is_offered_a_call_back_and_called() {
    let mock = MockServer::start().await;
    let host = TestHost::with_journeys(&mock, &[VOICE_BACK], &[], &[], fast_outbox).await;
    host.install_channel("chat", "chat", Some(&mock), "").await;
    let sue = host
        .agent(
            "sue",
            json!({"name": "Sue", "role": "supervisor", "capacity": {"voice": 0}}),
        )
        .await;
    let asked = now_ms();
    assert_eq!(
        host.inbound(
            "chat",
            test_message("c1", json!({"phone": CUSTOMER}), "Where is my order?")
        )
        .await,
        200
    );
    // Nobody is free: the journey's ten-minute timer is set.
    let timer = switchboard_tests::poll(Duration::from_secs(10), async || {
        let found = timers(&host, &sue).await;
        found.into_iter().next().ok_or("no timer queued")
    })
    .await;
    assert_eq!(timer["plugin"], "journeys", "{timer}");
    assert_eq!(timer["tag"], "chat-wait", "{timer}");
    let due = timer["next_at"].as_u64().unwrap();
    assert!(
        (asked + 600_000..=now_ms() + 600_000).contains(&due),
        "due in ten minutes: {due} vs {asked}"
    );
    // Agents may not see or run it.
    let ana = host
        .agent(
            "ana",
            json!({"name": "Ana", "capacity": {"chat": 0, "voice": 0}}),
        )
        .await;
    let (status, _) = host.call("GET", "/api/automations", Some(&ana), None).await;
    assert_eq!(status, 403);

    // Ten minutes on: the timer goes off.
    let (status, ran) = host
        .call(
            "POST",
            &format!("/api/automations/{}/run", timer["id"].as_str().unwrap()),
            Some(&sue),
            None,
        )
        .await;
    assert_eq!(status, 200, "{ran}");
    assert!(
        eventually(Duration::from_secs(10), || chat_sent(&mock).iter().any(
            |t| t.contains("Reply CALL and we will call you back at +16505551234")
        ))
        .await,
        "no offer: {:?}",
        chat_sent(&mock)
    );
    let conversation = host.queue().await[0]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = host.conversation(&conversation).await;
    assert_eq!(view["labels"], json!(["callback-offered"]), "{view}");
    let (status, _) = host
        .call("POST", "/api/automations/aut_nope/run", Some(&sue), None)
        .await;
    assert_eq!(status, 404);

    // She takes it: a callback task waits on voice, confirmed in the chat.
    assert_eq!(
        host.inbound(
            "chat",
            test_message("c2", json!({"phone": CUSTOMER}), "call")
        )
        .await,
        200
    );
    let queue = host
        .admin_json_until("/api/queue", "the callback queued", |q| {
            q.as_array()
                .unwrap()
                .iter()
                .any(|t| t["channel"] == "voice")
        })
        .await;
    let callback = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["channel"] == "voice")
        .unwrap()
        .clone();
    assert!(
        eventually(Duration::from_secs(10), || chat_sent(&mock)
            .iter()
            .any(|t| t.contains("We will call you at +16505551234")))
        .await
    );
    // Saying it again opens no second one.
    host.inbound(
        "chat",
        test_message("c3", json!({"phone": CUSTOMER}), "CALL"),
    )
    .await;

    // An agent takes the callback: the call to her is placed.
    let (_, accepted) = take_task(
        &host,
        "vic",
        json!({"voice_endpoint": "client:vic", "capacity": {"voice": 1, "chat": 0}}),
    )
    .await;
    assert_eq!(accepted["id"], callback["id"]);
    let placed = format!("/2010-04-01/Accounts/{TWILIO_SID}/Calls.json");
    assert!(
        eventually(Duration::from_secs(10), || mock
            .requests()
            .iter()
            .any(|r| r.uri == placed))
        .await
    );
    let request = mock
        .requests()
        .into_iter()
        .find(|r| r.uri == placed)
        .unwrap();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body).unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("To"), Some(CUSTOMER));
    assert_eq!(get("From"), Some(CENTRE));
    let voice_tasks = host
        .admin_json("/api/queue")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["channel"] == "voice")
        .count();
    assert_eq!(voice_tasks, 0, "one callback only");
}

/// `rogue-automation` installed as `name`, misbehaving in `mode`.
fn rogue(config: &mut Config, name: &str, mode: &str) {
    let mut table = toml::Table::new();
    table.insert("mode".into(), mode.into());
    config.plugins.entry(name.into()).or_default().config = table;
}

#[tokio::test]
async fn a_resolved_conversation_gets_a_thank_you_whatever_other_automations_do() {
    let mock = MockServer::start().await;
    let host = TestHost::with_journeys(
        &mock,
        &[SMS_FROM],
        &[("thank_you_kinds", "messaging")],
        &[],
        |config| {
            fast_outbox(config);
            rogue(config, "rogue-trap", "trap");
            rogue(config, "rogue-loop", "loop");
            rogue(config, "rogue-flood", "flood");
            rogue(config, "rogue-refused", "refused");
        },
    )
    .await;
    let manifest = first_party_manifest("testing/rogue-automation");
    for name in ["rogue-trap", "rogue-loop", "rogue-flood", "rogue-refused"] {
        install(
            &host.plugins_dir(),
            name,
            &manifest.replace("name = \"rogue-automation\"", &format!("name = \"{name}\"")),
            &wasm("rogue-automation"),
        );
        host.plugin_until(name, "active", |p| p["status"] == "active")
            .await;
    }
    sms_from(&host, None, "SMthanks1", "My parcel is late").await;
    let (token, task) = take_task(&host, "ana", json!({})).await;
    host.complete_task(&token, task["id"].as_str().unwrap(), None)
        .await;
    assert!(
        eventually(Duration::from_secs(15), || sms_sent(&mock).iter().any(
            |(to, body)| to == CUSTOMER && body.starts_with("Thank you for contacting us")
        ))
        .await,
        "no thank-you: {:?}",
        sms_sent(&mock)
    );
    // The rogues failed, each counted against itself; the conversation
    // has nothing of theirs.
    for name in ["rogue-trap", "rogue-loop", "rogue-flood"] {
        let info = host
            .plugin_until(name, "charged with failures", |p| {
                p["failures"].as_u64().is_some_and(|f| f > 0)
            })
            .await;
        assert!(info["error"].is_string(), "{info}");
    }
    let view = host
        .conversation(task["conversation_id"].as_str().unwrap())
        .await;
    assert_eq!(view["labels"], json!([]), "{view}");
    assert_eq!(view["status"], "resolved", "{view}");
    let texts = host
        .message_texts(task["conversation_id"].as_str().unwrap())
        .await;
    assert_eq!(
        texts,
        [
            "My parcel is late",
            "Thank you for contacting us. We are glad we could help."
        ]
    );
    let (status, _) = host.call("GET", "/api/health", None, None).await;
    assert!(status == 200 || status == 404, "the host is up: {status}");
    let (status, _) = host
        .call("GET", "/api/automations", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn automations_hear_business_hours_open_and_close() {
    let mock = MockServer::start().await;
    let host = TestHost::with_journeys(&mock, &[SMS_FROM], &[], &[], |config| {
        fast_outbox(config);
        rogue(config, "rogue-echo", "echo");
        let calendar = closed_today();
        config.hours.calendars.insert("support".into(), calendar);
        config.hours.default = Some("support".into());
    })
    .await;
    install(
        &host.plugins_dir(),
        "rogue-echo",
        &first_party_manifest("testing/rogue-automation")
            .replace("name = \"rogue-automation\"", "name = \"rogue-echo\""),
        &wasm("rogue-automation"),
    );
    host.plugin_until("rogue-echo", "active", |p| p["status"] == "active")
        .await;
    let heard = async |tag: &str| {
        host.admin_json_until("/api/automations", tag, |queued| {
            queued
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["plugin"] == "rogue-echo" && e["tag"] == tag)
        })
        .await;
    };
    // Forced open whatever the day, then closed again.
    for open in [true, false] {
        let (status, body) = host
            .call(
                "POST",
                "/api/hours/support/override",
                Some(ADMIN_TOKEN),
                Some(json!({ "open": open })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        if open {
            heard("hours-opened:support").await;
        } else {
            heard("hours-closed:support").await;
        }
    }
}

#[tokio::test]
async fn an_automation_hands_a_waiting_conversation_to_a_bot() {
    let mock = MockServer::start().await;
    let host = TestHost::with_journeys(&mock, &[SMS_FROM], &[], &[], |config| {
        fast_outbox(config);
        rogue(config, "rogue-handover", "bot");
    })
    .await;
    install(
        &host.plugins_dir(),
        "rogue-bot",
        &first_party_manifest("testing/rogue-bot"),
        &wasm("rogue-bot"),
    );
    install(
        &host.plugins_dir(),
        "rogue-handover",
        &first_party_manifest("testing/rogue-automation")
            .replace("name = \"rogue-automation\"", "name = \"rogue-handover\""),
        &wasm("rogue-automation"),
    );
    for name in ["rogue-bot", "rogue-handover"] {
        host.plugin_until(name, "active", |p| p["status"] == "active")
            .await;
    }
    sms_from(&host, None, "SMbot1", "What are your opening hours?").await;
    // The bot answers her (the rogue bot says "ok"); her task left the
    // queue without counting as abandoned.
    assert!(
        eventually(Duration::from_secs(10), || sms_sent(&mock)
            .iter()
            .any(|(to, body)| to == CUSTOMER && body == "ok"))
        .await,
        "the bot did not answer: {:?}",
        sms_sent(&mock)
    );
    assert!(host.queue().await.is_empty());
    let customer = host.customer_id(&format!("phone:{CUSTOMER}")).await;
    let conversations = host
        .admin_json(&format!("/api/conversations?customer_id={customer}"))
        .await;
    let conversation = &conversations[0];
    assert_eq!(conversation["bot"], "rogue-bot", "{conversation}");
    let task = host
        .admin_json(&format!(
            "/api/tasks/{}",
            conversation["task_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(task["state"], "canceled", "{task}");
    assert_eq!(task["abandoned"], false, "{task}");
    assert_eq!(task["disposition"], "handed_to_bot:rogue-bot", "{task}");
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["channels"]["messaging"]["abandoned"], 0, "{stats}");
}
