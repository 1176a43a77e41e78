//! The cross-channel story from the fixtures: Sheena writes on WhatsApp,
//! follows up by SMS, calls, emails, and opens the web chat with her email
//! and phone in the pre-chat form. The host ends with one customer and one
//! timeline holding all five channels in order; the agent's conversation
//! view carries the earlier channels' history; her reply to our email lands
//! in the email conversation.

use serde_json::{Value, json};
use switchboard_tests::channels::secrets::MAILGUN_SIGNING_KEY as MAILGUN_KEY;
use switchboard_tests::channels::{
    self, fixture, form_with, mailgun_signed, post_twilio, post_whatsapp, reply, requests,
};
use switchboard_tests::{MockServer, TestHost};

/// Waits for the next task offered to `agent`, accepts it, and returns it.
async fn next_offer(host: &TestHost, agent: &str, token: &str, channel: &str) -> Value {
    let tasks = host
        .wait_tasks(agent, token, |t| {
            t.iter()
                .any(|t| t["state"] == "reserved" && t["channel"] == channel)
        })
        .await;
    let task = tasks
        .iter()
        .find(|t| t["state"] == "reserved" && t["channel"] == channel)
        .unwrap();
    host.accept_task(token, task["id"].as_str().unwrap()).await
}

fn channels_in_order(entries: &[Value]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for e in entries {
        let channel = e["channel"].as_str().unwrap().to_string();
        if seen.last() != Some(&channel) {
            seen.push(channel);
        }
    }
    seen
}

#[tokio::test]
async fn sheena_across_five_channels_is_one_customer_with_one_timeline() {
    let mock = MockServer::start().await;
    let host = TestHost::with_all_channels(&mock).await;
    let ana = host
        .agent(
            "ana",
            json!({"name": "Ana", "voice_endpoint": "client:ana",
                   "capacity": {"voice": 1, "chat": 2, "messaging": 3, "email": 5}}),
        )
        .await;
    host.set_status("ana", &ana, "available").await;

    // 1. WhatsApp.
    let (status, _) = post_whatsapp(&host, &fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200);
    let task = next_offer(&host, "ana", &ana, "whatsapp").await;
    mock.respond_with(200, r#"{"messages":[{"id":"wamid.REPLY1"}]}"#);
    reply(
        &host,
        &ana,
        task["conversation_id"].as_str().unwrap(),
        "Let me check on order 4821.",
    )
    .await;
    requests(&mock, 1).await;
    host.complete_task(&ana, task["id"].as_str().unwrap(), None)
        .await;

    // 2. SMS.
    assert_eq!(
        post_twilio(&host, "sms", &fixture("sms/inbound.form"))
            .await
            .0,
        200
    );
    let task = next_offer(&host, "ana", &ana, "sms").await;
    host.complete_task(&ana, task["id"].as_str().unwrap(), None)
        .await;

    // 3. A call, connected to Ana and ended.
    assert_eq!(
        post_twilio(&host, "voice", &fixture("voice/incoming.form"))
            .await
            .0,
        200
    );
    let task = next_offer(&host, "ana", &ana, "voice").await;
    let connect = &requests(&mock, 2).await[1];
    assert!(
        connect
            .uri
            .contains("/Calls/CA5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b.json")
    );
    let ended = form_with(
        &fixture("voice/status-completed.form"),
        "CallDuration",
        "60",
    );
    assert_eq!(post_twilio(&host, "voice/status", &ended).await.0, 200);
    host.wait_tasks("ana", &ana, |t| {
        t.iter()
            .any(|t| t["id"] == task["id"] && t["state"] == "wrapping")
    })
    .await;
    host.complete_task(
        &ana,
        task["id"].as_str().unwrap(),
        Some(json!({"disposition": "reshipped"})),
    )
    .await;

    // So far: one profile by phone; her email is not known yet.
    assert_eq!(host.lookup("phone:+16505551234").await.len(), 1);
    assert!(
        host.lookup("email:sheena.nelson@example.com")
            .await
            .is_empty()
    );

    // 4. Email: a new profile by email (nothing links it to her phone yet).
    let (status, _) = host
        .post_webhook(
            "/webhooks/email",
            "application/x-www-form-urlencoded",
            &[],
            mailgun_signed(MAILGUN_KEY, &fixture("email/inbound.form")),
        )
        .await;
    assert_eq!(status, 200);
    let email_task = next_offer(&host, "ana", &ana, "email").await;
    let email_conversation = email_task["conversation_id"].as_str().unwrap().to_string();
    mock.respond_with(
        200,
        r#"{"id":"<reply-1@shop.example.com>","message":"Queued. Thank you."}"#,
    );
    reply(&host, &ana, &email_conversation, "We have reshipped it.").await;
    let sent = &requests(&mock, 3).await[2];
    assert_eq!(sent.uri, "/v3/mg.shop.example.com/messages");

    // 5. Web chat: signed in on the shop, which vouches for her, so her
    //    email and phone are verified together and the two profiles merge.
    let (status, _) = host
        .post_webhook(
            "/webhooks/webchat",
            "application/json",
            &[],
            channels::vouched_webchat_fixture(),
        )
        .await;
    assert_eq!(status, 200);
    let by_email = host.customer_id("email:sheena.nelson@example.com").await;
    let by_phone = host.customer_id("phone:+16505551234").await;
    assert_eq!(by_email, by_phone, "one customer");
    let chat_task = next_offer(&host, "ana", &ana, "webchat").await;
    assert_eq!(chat_task["customer_id"], by_phone.as_str());

    // The agent's view of the chat carries the earlier channels' history.
    let (status, view) = host
        .call(
            "GET",
            &format!(
                "/api/conversations/{}",
                chat_task["conversation_id"].as_str().unwrap()
            ),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        channels_in_order(view["history"].as_array().unwrap()),
        ["whatsapp", "sms", "voice", "email"]
    );
    assert_eq!(
        view["messages"][0]["text"],
        "Still waiting on order 4821, can someone help?"
    );

    // 6. Her reply to our email lands in the email conversation.
    let (status, _) = host
        .post_webhook(
            "/webhooks/email",
            "application/x-www-form-urlencoded",
            &[],
            mailgun_signed(MAILGUN_KEY, &fixture("email/reply.form")),
        )
        .await;
    assert_eq!(status, 200);
    let email_view = host.conversation(&email_conversation).await;
    let texts: Vec<&str> = email_view["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Hello,\r\n\r\nI wrote on WhatsApp earlier today. Order 4821 is still missing.",
            "We have reshipped it.",
            "Thanks, that works.",
        ]
    );
    assert!(host.queue().await.is_empty(), "no new task for the reply");

    // One timeline, all five channels in order.
    let timeline = host.timeline(&by_email).await;
    assert_eq!(
        channels_in_order(&timeline),
        ["whatsapp", "sms", "voice", "email", "webchat", "email"]
    );
    let ats: Vec<u64> = timeline.iter().map(|e| e["at"].as_u64().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]), "in time order");
    assert_eq!(timeline.len(), 9, "{timeline:#?}");
}
