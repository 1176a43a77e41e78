//! The WhatsApp, SMS and voice channels end to end: provider fixtures
//! through signed webhooks into customers, conversations and tasks; replies
//! and call actions out to a mock provider (a real HTTP server on loopback).

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::secrets::{
    PUBLIC_BASE_URL as PUBLIC, TWILIO_AUTH_TOKEN as TWILIO_TOKEN, TWILIO_SID,
    WA_ACCESS_TOKEN as WA_TOKEN, WA_APP_SECRET as WA_SECRET,
};
use switchboard_tests::channels::{
    fixture, fixture_text, form_with, meta_signature, post_twilio, post_whatsapp, reply, requests,
    take_task, twilio_signature, wait_status,
};
use switchboard_tests::{MockServer, TestHost};

const SHEENA: &str = "phone:+16505551234";

/// A webhook body and the headers it is sent with.
type Attempt = (Vec<u8>, Vec<(&'static str, String)>);

/// Sheena's single customer, with her conversations' messages in order.
async fn sheena(host: &TestHost) -> (Value, Vec<Value>) {
    let found = host.lookup(SHEENA).await;
    assert_eq!(found.len(), 1, "one customer: {found:?}");
    let customer = found[0].clone();
    let timeline = host.timeline(customer["id"].as_str().unwrap()).await;
    (customer, timeline)
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn whatsapp_fixtures_become_messages_with_media() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let (status, body) = post_whatsapp(&host, &fixture("whatsapp/text.json")).await;
    assert_eq!((status, body.as_str()), (200, "EVENT_RECEIVED"));
    let (status, _) = post_whatsapp(&host, &fixture("whatsapp/image.json")).await;
    assert_eq!(status, 200);

    let (customer, timeline) = sheena(&host).await;
    assert_eq!(customer["display_name"], "Sheena Nelson");
    assert_eq!(timeline.len(), 2);
    assert_eq!(
        timeline[0]["text"],
        "Hi, my order #4821 hasn't arrived yet."
    );
    assert_eq!(timeline[0]["channel"], "whatsapp");
    assert_eq!(timeline[1]["text"], "This is the box I received");
    let media = &timeline[1]["attachments"][0];
    assert_eq!(media["media_id"], "1003383421387256");
    assert_eq!(media["content_type"], "image/jpeg");
    assert_eq!(
        timeline[0]["conversation_id"], timeline[1]["conversation_id"],
        "one conversation per sender"
    );
    // One messaging task for the conversation.
    let queue = host.queue().await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(queue[0]["channel_kind"], "messaging");
}

/// Every message type, several entries and messages per payload, and a
/// failed status with its error.
#[tokio::test]
async fn whatsapp_understands_every_message_type() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let value = |messages: Value| {
        json!({
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
            "messages": messages,
        })
    };
    let m = |id: &str, kind: &str, body: Value| {
        let mut m =
            json!({"from": "16505551234", "id": id, "timestamp": "1749416400", "type": kind});
        if !body.is_null() {
            m[kind] = body;
        }
        m
    };
    let payload = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "1", "changes": [{"field": "messages", "value": value(json!([
                m("w1", "text", json!({"body": "hello"})),
                m("w2", "audio", json!({"id": "AUD1", "mime_type": "audio/ogg; codecs=opus"})),
                m("w3", "video", json!({"id": "VID1", "mime_type": "video/mp4", "caption": "unboxing"})),
                m("w4", "document", json!({"id": "DOC1", "mime_type": "application/pdf", "filename": "invoice.pdf", "caption": "my invoice"})),
                m("w5", "sticker", json!({"id": "STK1", "mime_type": "image/webp", "animated": false})),
                m("w6", "location", json!({"latitude": 37.48, "longitude": -122.15, "name": "Home", "address": "1 Main St"})),
            ]))}]},
            {"id": "2", "changes": [{"field": "messages", "value": value(json!([
                m("w7", "contacts", json!([{"name": {"formatted_name": "Ann Lee"}, "phones": [{"phone": "+1 415 555 0101", "type": "CELL"}]}])),
                m("w8", "interactive", json!({"type": "button_reply", "button_reply": {"id": "track", "title": "Track my order"}})),
                m("w9", "interactive", json!({"type": "list_reply", "list_reply": {"id": "opt-2", "title": "Refund", "description": "Money back"}})),
                m("w10", "button", json!({"text": "Yes please", "payload": "CONFIRM"})),
                m("w11", "reaction", json!({"message_id": "wamid.OURS", "emoji": "👍"})),
                {"from": "16505551234", "id": "w12", "timestamp": "1749416400", "type": "unsupported",
                 "errors": [{"code": 131051, "title": "Message type unknown", "error_data": {"details": "Message type is currently not supported."}}]},
            ]))}]},
        ]
    });
    let body = serde_json::to_vec(&payload).unwrap();
    let (status, text) = post_whatsapp(&host, &body).await;
    assert_eq!(status, 200, "{text}");

    let (_, timeline) = sheena(&host).await;
    let texts: Vec<&str> = timeline
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "hello",
            "",
            "unboxing",
            "my invoice",
            "",
            "Shared a location: Home, 1 Main St (37.48, -122.15)",
            "Shared contacts: Ann Lee (+1 415 555 0101)",
            "Track my order",
            "Refund",
            "Yes please",
            "Reacted 👍 to a message",
            "[unsupported message type: unsupported: Message type unknown (131051): Message type is currently not supported.]",
        ]
    );
    let attachment = |i: usize| timeline[i]["attachments"][0].clone();
    assert_eq!(attachment(1)["media_id"], "AUD1");
    assert_eq!(attachment(1)["content_type"], "audio/ogg; codecs=opus");
    assert_eq!(attachment(2)["media_id"], "VID1");
    assert_eq!(attachment(3)["filename"], "invoice.pdf");
    assert_eq!(attachment(4)["content_type"], "image/webp");
    assert!(timeline[0]["attachments"].as_array().unwrap().is_empty());

    // Channel details are kept on the message.
    let conversation = host
        .conversation(timeline[0]["conversation_id"].as_str().unwrap())
        .await;
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 12, "all twelve in one conversation");
    assert_eq!(messages[7]["metadata"]["reply_id"], "track");
    assert_eq!(messages[9]["metadata"]["payload"], "CONFIRM");
    assert_eq!(messages[10]["metadata"]["reacted_to"], "wamid.OURS");
    assert_eq!(messages[5]["metadata"]["latitude"], "37.48");

    // A failed status for a reply we sent lands on it with its error.
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let conversation_id = task["conversation_id"].as_str().unwrap();
    mock.respond_with(200, r#"{"messages":[{"id":"wamid.SENT1"}]}"#);
    let sent = reply(&host, &token, conversation_id, "On its way").await;
    let sent_id = sent["id"].as_str().unwrap();
    wait_status(&host, conversation_id, sent_id, "sent").await;
    let failed = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": [{"id": "wamid.SENT1", "status": "failed", "timestamp": "1749416500", "recipient_id": "16505551234",
            "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "More than 24 hours have passed"}}]}]
    }}]}]});
    let (status, _) = post_whatsapp(&host, &serde_json::to_vec(&failed).unwrap()).await;
    assert_eq!(status, 200);
    let message = wait_status(&host, conversation_id, sent_id, "failed").await;
    assert!(
        message["error"].as_str().unwrap().contains("131047"),
        "{message}"
    );
}

#[tokio::test]
async fn whatsapp_signatures_and_handshake() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let body = fixture("whatsapp/text.json");

    // Tampered body, wrong secret, missing header, wrong scheme.
    let tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("#4821", "#4822")
        .into_bytes();
    assert_ne!(tampered, body);
    let cases: Vec<Attempt> = vec![
        (
            tampered,
            vec![("x-hub-signature-256", meta_signature(WA_SECRET, &body))],
        ),
        (
            body.clone(),
            vec![("x-hub-signature-256", meta_signature("wrong", &body))],
        ),
        (body.clone(), vec![]),
        (
            body.clone(),
            vec![(
                "x-hub-signature-256",
                meta_signature(WA_SECRET, &body).replace("sha256=", "sha1="),
            )],
        ),
    ];
    for (payload, headers) in cases {
        let (status, text) = host
            .post_webhook("/webhooks/whatsapp", "application/json", &headers, payload)
            .await;
        assert!(matches!(status, 401 | 403), "{status} {text}");
    }
    assert!(host.lookup(SHEENA).await.is_empty(), "nothing stored");
    assert!(host.queue().await.is_empty());

    // The subscription handshake.
    let query = fixture_text("whatsapp/verify.query");
    let response = host
        .client
        .get(host.url(&format!("/webhooks/whatsapp?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "1158201444");
    let wrong = query.replace("switchboard-verify", "guess");
    let response = host
        .client
        .get(host.url(&format!("/webhooks/whatsapp?{wrong}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // A signed but malformed body is a 400.
    let (status, _) = post_whatsapp(&host, b"{not json").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn redelivered_webhooks_store_nothing_twice() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    for _ in 0..2 {
        assert_eq!(
            post_whatsapp(&host, &fixture("whatsapp/text.json")).await.0,
            200
        );
        assert_eq!(
            post_twilio(&host, "sms", &fixture("sms/inbound.form"))
                .await
                .0,
            200
        );
        assert_eq!(
            post_twilio(&host, "voice", &fixture("voice/incoming.form"))
                .await
                .0,
            200
        );
    }
    let (_, timeline) = sheena(&host).await;
    assert_eq!(timeline.len(), 3, "{timeline:?}");
    assert_eq!(host.queue().await.len(), 3, "one task per conversation");
}

#[tokio::test]
async fn sms_and_mms_fixtures_and_signatures() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let inbound = fixture("sms/inbound.form");

    // Tampered parameter, wrong token, missing header, signed for another URL.
    let url = format!("{PUBLIC}/webhooks/sms");
    let good = twilio_signature(TWILIO_TOKEN, &url, &inbound);
    let cases: Vec<Attempt> = vec![
        (
            form_with(&inbound, "Body", "Ignore previous"),
            vec![("x-twilio-signature", good.clone())],
        ),
        (
            inbound.clone(),
            vec![(
                "x-twilio-signature",
                twilio_signature("wrong", &url, &inbound),
            )],
        ),
        (inbound.clone(), vec![]),
        (
            inbound.clone(),
            vec![(
                "x-twilio-signature",
                twilio_signature(
                    TWILIO_TOKEN,
                    "https://evil.example.com/webhooks/sms",
                    &inbound,
                ),
            )],
        ),
    ];
    for (body, headers) in cases {
        let (status, text) = host
            .post_webhook(
                "/webhooks/sms",
                "application/x-www-form-urlencoded",
                &headers,
                body,
            )
            .await;
        assert!(matches!(status, 401 | 403), "{status} {text}");
    }
    assert!(host.lookup(SHEENA).await.is_empty(), "nothing stored");

    let (status, twiml) = post_twilio(&host, "sms", &inbound).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Response>"), "{twiml}");
    let (status, _) = post_twilio(&host, "sms", &fixture("sms/mms.form")).await;
    assert_eq!(status, 200);
    let (_, timeline) = sheena(&host).await;
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[0]["text"], "Any update on order 4821?");
    assert_eq!(timeline[1]["text"], "Photo of the label");
    let media = &timeline[1]["attachments"][0];
    assert_eq!(media["content_type"], "image/jpeg");
    assert!(
        media["url"]
            .as_str()
            .unwrap()
            .ends_with("/Media/ME0a1b2c3d4e5f60718293a4b5c6d7e8f")
    );
}

/// Agent replies reach the mock provider with each channel's URL, auth and
/// body; provider status callbacks land on the message.
#[tokio::test]
async fn replies_reach_whatsapp_and_sms_providers() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    assert_eq!(
        post_whatsapp(&host, &fixture("whatsapp/text.json")).await.0,
        200
    );
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let wa_conversation = task["conversation_id"].as_str().unwrap().to_string();
    // A further message on the assigned conversation goes to its agent,
    // not into a new task.
    assert_eq!(
        post_whatsapp(&host, &fixture("whatsapp/image.json"))
            .await
            .0,
        200
    );
    assert!(host.queue().await.is_empty());
    let tasks = host.tasks_of("ana", &token).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        host.conversation(&wa_conversation).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The id the status fixture refers to.
    mock.respond_with(
        200,
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI0RjlCQUU3QkQ2NTM5RTlGNzEA"}]}"#,
    );
    let sent = reply(&host, &token, &wa_conversation, "We are looking into it").await;
    let request = &requests(&mock, 1).await[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, "/106540352242922/messages");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {WA_TOKEN}").as_str())
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(body["to"], "16505551234");
    assert_eq!(body["type"], "text");
    assert_eq!(body["text"]["body"], "We are looking into it");
    let sent_id = sent["id"].as_str().unwrap();
    wait_status(&host, &wa_conversation, sent_id, "sent").await;
    assert_eq!(
        post_whatsapp(&host, &fixture("whatsapp/status-delivered.json"))
            .await
            .0,
        200
    );
    wait_status(&host, &wa_conversation, sent_id, "delivered").await;

    // SMS: the agent (capacity 3 for messaging) takes the SMS task too.
    assert_eq!(
        post_twilio(&host, "sms", &fixture("sms/inbound.form"))
            .await
            .0,
        200
    );
    let tasks = host
        .wait_tasks("ana", &token, |t| t.iter().any(|t| t["channel"] == "sms"))
        .await;
    let sms_task = tasks.iter().find(|t| t["channel"] == "sms").unwrap();
    let (status, _) = host
        .call(
            "POST",
            &format!("/api/tasks/{}/accept", sms_task["id"].as_str().unwrap()),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let sms_conversation = sms_task["conversation_id"].as_str().unwrap();
    mock.respond_with(
        201,
        r#"{"sid":"SM5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f","status":"queued"}"#,
    );
    let sent = reply(&host, &token, sms_conversation, "Reshipped today").await;
    let request = &requests(&mock, 2).await[1];
    assert_eq!(
        request.uri,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let params = form(&request.body);
    assert_eq!(field(&params, "To"), Some("+16505551234"));
    assert_eq!(
        field(&params, "From"),
        Some("+14155550100"),
        "answers from the number she wrote to"
    );
    assert_eq!(field(&params, "Body"), Some("Reshipped today"));
    assert_eq!(
        field(&params, "StatusCallback"),
        Some(format!("{PUBLIC}/webhooks/sms/status").as_str())
    );
    let sent_id = sent["id"].as_str().unwrap();
    wait_status(&host, sms_conversation, sent_id, "sent").await;
    assert_eq!(
        post_twilio(&host, "sms/status", &fixture("sms/status-delivered.form"))
            .await
            .0,
        200
    );
    wait_status(&host, sms_conversation, sent_id, "delivered").await;
}

/// Retryable provider errors are retried; permanent ones are not.
#[tokio::test]
async fn replies_are_retried_on_503_and_not_on_400() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    assert_eq!(
        post_whatsapp(&host, &fixture("whatsapp/text.json")).await.0,
        200
    );
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();

    mock.respond_with(503, r#"{"error":{"message":"try later"}}"#);
    mock.respond_with(200, r#"{"messages":[{"id":"wamid.RETRIED"}]}"#);
    let first = reply(&host, &token, &conversation, "first").await;
    let message = wait_status(&host, &conversation, first["id"].as_str().unwrap(), "sent").await;
    assert_eq!(message["provider_message_id"], "wamid.RETRIED");
    assert_eq!(requests(&mock, 2).await.len(), 2, "tried twice");

    mock.respond_with(400, r#"{"error":{"message":"(#100) Invalid parameter"}}"#);
    let second = reply(&host, &token, &conversation, "second").await;
    let message = wait_status(
        &host,
        &conversation,
        second["id"].as_str().unwrap(),
        "failed",
    )
    .await;
    assert!(
        message["error"].as_str().unwrap().contains("400"),
        "{message}"
    );
    // Dead-lettered with nothing pending: nothing is left to retry it.
    host.admin_json_until("/api/outbox", "the reply dead-lettered", |o| {
        o["dead_letters"].as_array().unwrap().len() == 1 && o["pending"] == json!([])
    })
    .await;
    assert_eq!(mock.requests().len(), 3, "a 400 is not retried");
    let (_, dead) = host.admin_get("/api/outbox").await;
    assert_eq!(dead["dead_letters"].as_array().unwrap().len(), 1, "{dead}");
}

#[tokio::test]
async fn a_call_is_queued_connected_to_the_agent_and_wrapped_up() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let (status, twiml) = post_twilio(&host, "voice", &fixture("voice/incoming.form")).await;
    assert_eq!(status, 200);
    assert!(
        twiml.contains("<Say>Thanks for calling Shop &amp; Co.</Say><Enqueue waitUrl="),
        "{twiml}"
    );
    let queue = host.queue().await;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["channel_kind"], "voice");

    let (token, task) = take_task(&host, "ana", json!({"voice_endpoint": "client:ana"})).await;
    let request = &requests(&mock, 1).await[0];
    assert_eq!(
        request.uri,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Calls/CA5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b.json")
    );
    assert!(
        request
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let params = form(&request.body);
    let twiml = field(&params, "Twiml").unwrap();
    assert!(
        twiml.contains("<Dial><Client>ana</Client></Dial>"),
        "{twiml}"
    );

    // The caller hangs up after talking: the task wraps up.
    let ended = form_with(
        &fixture("voice/status-completed.form"),
        "CallDuration",
        "95",
    );
    assert_eq!(post_twilio(&host, "voice/status", &ended).await.0, 200);
    let tasks = host
        .wait_tasks("ana", &token, |t| {
            t.iter().any(|t| t["state"] == "wrapping")
        })
        .await;
    assert_eq!(tasks[0]["id"], task["id"]);
    // Wrap-up lasts until the agent completes with a disposition.
    // A pause: with no wrap-up time there is no timer, so no event marks it still wrapping.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(host.tasks_of("ana", &token).await[0]["state"], "wrapping");
    let (status, done) = host
        .call(
            "POST",
            &format!("/api/tasks/{}/complete", task["id"].as_str().unwrap()),
            Some(&token),
            Some(json!({"disposition": "reshipped"})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "completed");
    let (_, timeline) = sheena(&host).await;
    let texts: Vec<&str> = timeline
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Incoming call from +16505551234", "Call ended after 95 s"]
    );
    let (stats_status, stats) = host.admin_get("/api/stats").await;
    assert_eq!(stats_status, 200);
    assert_eq!(stats["channels"]["voice"]["abandoned"], 0, "{stats}");
}

#[tokio::test]
async fn voice_webhooks_need_twilio_signatures() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    let incoming = fixture("voice/incoming.form");
    let url = format!("{PUBLIC}/webhooks/voice");
    let cases: Vec<Attempt> = vec![
        (
            form_with(&incoming, "From", "+15005550006"),
            vec![(
                "x-twilio-signature",
                twilio_signature(TWILIO_TOKEN, &url, &incoming),
            )],
        ),
        (
            incoming.clone(),
            vec![(
                "x-twilio-signature",
                twilio_signature("wrong", &url, &incoming),
            )],
        ),
        (incoming.clone(), vec![]),
    ];
    for (body, headers) in cases {
        let (status, text) = host
            .post_webhook(
                "/webhooks/voice",
                "application/x-www-form-urlencoded",
                &headers,
                body,
            )
            .await;
        assert!(matches!(status, 401 | 403), "{status} {text}");
    }
    assert!(host.queue().await.is_empty(), "no call was queued");
    assert!(host.lookup(SHEENA).await.is_empty());
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_queued_is_counted_abandoned() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    assert_eq!(
        post_twilio(&host, "voice", &fixture("voice/incoming.form"))
            .await
            .0,
        200
    );
    assert_eq!(host.queue().await.len(), 1);
    let hangup = fixture("voice/status-completed.form");
    for _ in 0..2 {
        // Redelivered: still one cancellation.
        assert_eq!(post_twilio(&host, "voice/status", &hangup).await.0, 200);
    }
    assert!(host.queue().await.is_empty(), "the task left the queue");
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["channels"]["voice"]["abandoned"], 1, "{stats}");
    let (_, timeline) = sheena(&host).await;
    let conversation = host
        .conversation(timeline[0]["conversation_id"].as_str().unwrap())
        .await;
    assert_eq!(conversation["status"], "resolved");
    assert_eq!(
        timeline.last().unwrap()["text"],
        "The caller hung up while waiting"
    );
    assert!(mock.requests().is_empty(), "no call to connect");
}

#[tokio::test]
async fn webhooks_for_unknown_plugins_and_oversized_bodies_are_refused() {
    let mock = MockServer::start().await;
    let host = TestHost::with_phone_channels(&mock).await;
    for path in [
        "/webhooks/nope",
        "/webhooks/longest-idle",
        "/webhooks/nope/deeper",
    ] {
        let (status, body) = host
            .post_webhook(path, "application/json", &[], b"{}".to_vec())
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Over the default 1 MiB limit, even when signed: 413, nothing stored.
    let text = String::from_utf8(fixture("whatsapp/text.json")).unwrap();
    let big = text
        .replace("Hi, my order", &"x".repeat(1024 * 1024))
        .into_bytes();
    let (status, _) = post_whatsapp(&host, &big).await;
    assert_eq!(status, 413);
    assert!(host.lookup(SHEENA).await.is_empty());
}

/// WhatsApp's first-party manifest as shipped (its host follows
/// `api_base`), the admin pointing `api_base` at `mock` and granting
/// `grants`.
async fn whatsapp_via(mock: &MockServer, grants: &[String]) -> TestHost {
    let plugins_dir = tempfile::tempdir().unwrap();
    let dir = std::sync::Arc::new(plugins_dir);
    let plugins = switchboard_tests::test_config(dir.path()).plugins_dir();
    std::fs::create_dir_all(&plugins).unwrap();
    switchboard_tests::install(
        &plugins,
        "whatsapp",
        &switchboard_tests::first_party_manifest("whatsapp"),
        &switchboard_tests::wasm("whatsapp"),
    );
    let (api_base, grants) = (format!("{}/v21.0", mock.url()), grants.to_vec());
    TestHost::start_in(dir, move |c| {
        let settings = c.plugins.entry("whatsapp".into()).or_default();
        for (key, value) in [
            ("api_base", api_base.as_str()),
            ("app_secret", WA_SECRET),
            ("access_token", WA_TOKEN),
        ] {
            settings.config.insert(key.into(), value.into());
        }
        settings.grants.outbound_http = Some(grants);
    })
    .await
}

#[tokio::test]
async fn a_granted_endpoint_the_admin_configures_gets_the_replies() {
    let mock = MockServer::start().await;
    let host = whatsapp_via(&mock, &[mock.host_port()]).await;
    let plugin = host.plugin("whatsapp").await;
    assert_eq!(plugin["status"], "active", "{plugin}");
    assert_eq!(
        plugin["outbound_http"],
        json!([mock.host_port()]),
        "{plugin}"
    );

    let (status, _) = post_whatsapp(&host, &fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200);
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    reply(&host, &token, conversation, "On its way.").await;
    let sent = requests(&mock, 1).await;
    assert!(sent[0].uri.ends_with("/messages"), "{}", sent[0].uri);
    assert!(String::from_utf8_lossy(&sent[0].body).contains("On its way."));
}

#[tokio::test]
async fn an_endpoint_outside_the_grants_is_refused_at_start_naming_plugin_key_and_host() {
    let mock = MockServer::start().await;
    let host = whatsapp_via(&mock, &["graph.facebook.com".to_string()]).await;
    let plugin = host.plugin("whatsapp").await;
    assert_eq!(plugin["status"], "failed", "{plugin}");
    let error = plugin["error"].as_str().unwrap();
    for part in [
        "whatsapp",
        "`api_base`",
        &mock.host_port(),
        "grants.outbound_http",
    ] {
        assert!(error.contains(part), "{part} missing from: {error}");
    }
    // Nothing reaches the provider the admin did not grant.
    let (status, _) = post_whatsapp(&host, &fixture("whatsapp/text.json")).await;
    assert_eq!(status, 503);
}
