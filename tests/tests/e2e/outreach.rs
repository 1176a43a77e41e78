//! Conversations agents start (`POST /api/conversations`) on WhatsApp:
//! free text while the 24-hour window since the customer's last WhatsApp
//! message is open, an approved template with parameters otherwise (422
//! with the reason for free text then); the customer's answer lands in the
//! same conversation, with the same agent; opt-outs are honoured.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard_tests::channels::{fixture, form_with, post_twilio, take_task, whatsapp_text};
use switchboard_tests::presets::{SMS, WHATSAPP, fast_outbox};
use switchboard_tests::{MockServer, TestHost, eventually};

fn with_templates(config: &mut Config) {
    fast_outbox(config);
    switchboard_tests::presets::whatsapp_order_template(config);
    config
        .plugins
        .entry("whatsapp".into())
        .or_default()
        .config
        .insert("phone_number_id".into(), "106540352242922".into());
}

/// What the mock WhatsApp Cloud API was asked to send, as JSON.
fn wa_sent(mock: &MockServer) -> Vec<Value> {
    mock.requests()
        .iter()
        .filter(|r| r.uri.ends_with("/messages"))
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

async fn start(host: &TestHost, token: &str, body: Value) -> (u16, Value) {
    host.call("POST", "/api/conversations", Some(token), Some(body))
        .await
}

#[tokio::test]
async fn an_agent_starts_whatsapp_conversations_inside_and_outside_the_window() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[WHATSAPP, SMS], with_templates).await;

    // Sheena wrote on WhatsApp today; Ann served her and closed it.
    whatsapp_text(&host, "16505551234", "wamid.OUT1", "thanks for the help").await;
    let (ann, task) = take_task(&host, "ann", json!({})).await;
    host.complete_task(&ann, task["id"].as_str().unwrap(), None)
        .await;
    let sheena = host.customer_id("phone:+16505551234").await;

    // Inside the window: free text goes out.
    let (status, started) = start(
        &host,
        &ann,
        json!({"customer_id": sheena, "channel": "whatsapp", "text": "Your refund went through"}),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["task"]["state"], "assigned", "{started}");
    assert_eq!(started["task"]["agent_id"], "ann", "{started}");
    assert!(
        eventually(Duration::from_secs(10), || wa_sent(&mock).iter().any(|b| {
            b["to"] == "16505551234" && b["text"]["body"] == "Your refund went through"
        }))
        .await,
        "{:?}",
        wa_sent(&mock)
    );
    // One open conversation per channel: a second start is refused.
    let (status, body) = start(
        &host,
        &ann,
        json!({"customer_id": sheena, "channel": "whatsapp", "text": "again"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    // Bob only ever texted by SMS: WhatsApp free text is outside any window.
    let form = form_with(
        &form_with(&fixture("sms/inbound.form"), "From", "+16505552000"),
        "MessageSid",
        "SMout1",
    );
    let (status, _) = post_twilio(&host, "sms", &form).await;
    assert_eq!(status, 200);
    let bob = host.customer_id("phone:+16505552000").await;
    let (status, body) = start(
        &host,
        &ann,
        json!({"customer_id": bob, "channel": "whatsapp", "text": "hello on WhatsApp"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("approved template"),
        "{body}"
    );
    // Templates: wrong parameters and unknown names are refused.
    for (template, want) in [
        (json!({"name": "order_update", "parameters": ["Bob"]}), 400),
        (json!({"name": "nope", "parameters": []}), 422),
    ] {
        let (status, body) = start(
            &host,
            &ann,
            json!({"customer_id": bob, "channel": "whatsapp", "template": template}),
        )
        .await;
        assert_eq!(status, want, "{body}");
    }
    // The template goes out, with its parameters; the transcript shows it
    // filled in.
    let (status, started) = start(
        &host,
        &ann,
        json!({"customer_id": bob, "channel": "whatsapp",
               "template": {"name": "order_update", "parameters": ["Bob", "4821"]}}),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(
        started["message"]["text"], "Hi Bob, your order 4821 has shipped.",
        "{started}"
    );
    assert!(
        eventually(Duration::from_secs(10), || wa_sent(&mock).iter().any(|b| {
            b["to"] == "16505552000"
                && b["type"] == "template"
                && b["template"]["name"] == "order_update"
                && b["template"]["language"]["code"] == "en_US"
                && b["template"]["components"][0]["parameters"][1]["text"] == "4821"
        }))
        .await,
        "{:?}",
        wa_sent(&mock)
    );
    // Bob answers on WhatsApp: the same conversation, still Ann's.
    let conversation = started["conversation"]["id"].as_str().unwrap().to_string();
    whatsapp_text(&host, "16505552000", "wamid.OUT2", "great, thanks").await;
    let view = host.conversation(&conversation).await;
    let texts: Vec<&str> = view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"great, thanks"), "{view}");
    let tasks = host.tasks_of("ann", &ann).await;
    assert!(
        tasks
            .iter()
            .any(|t| t["conversation_id"] == conversation.as_str() && t["state"] == "assigned"),
        "{tasks:?}"
    );

    // Bob texts STOP on SMS: an SMS conversation cannot be started.
    let stop = form_with(
        &form_with(
            &form_with(&fixture("sms/inbound.form"), "From", "+16505552000"),
            "MessageSid",
            "SMout2",
        ),
        "Body",
        "STOP",
    );
    let (status, _) = post_twilio(&host, "sms", &stop).await;
    assert_eq!(status, 200);
    let (status, body) = start(
        &host,
        &ann,
        json!({"customer_id": bob, "channel": "sms", "text": "one more thing"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opted out"),
        "{body}"
    );
    host.stop().await;
}
