//! The `webchat` channel over real HTTP: pre-chat identities and merges,
//! the session secret, agent replies read back by their own session only
//! (and reported delivered), CORS, the widget and bad input.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, channels};

const SHOP: &str = "https://shop.example.com";
const SESSION: &str = "wc-7f3a9c";

async fn start() -> (MockServer, TestHost) {
    let mock = MockServer::start().await;
    let host =
        channels::host_with_channels(&mock, &[("webchat", &[("allowed_origins", SHOP)])], |_| {})
            .await;
    (mock, host)
}

/// POSTs a JSON body to the webchat endpoint; returns status and JSON body.
async fn post_raw(host: &TestHost, body: Vec<u8>, headers: &[(&str, String)]) -> (u16, Value) {
    let (status, text) = host
        .post_webhook("/webhooks/webchat", "application/json", headers, body)
        .await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(host: &TestHost, body: Value, headers: &[(&str, String)]) -> (u16, Value) {
    post_raw(host, serde_json::to_vec(&body).unwrap(), headers).await
}

/// The fixture: Sheena's first message, with her email and phone.
async fn post_fixture(host: &TestHost) -> String {
    let (status, body) = post_raw(host, channels::fixture("webchat/message.json"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session_id"], SESSION);
    let secret = body["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 64, "a hex HMAC-SHA256: {secret}");
    assert!(body["message_id"].as_str().is_some_and(|m| !m.is_empty()));
    secret
}

/// `GET /webhooks/webchat/messages`; returns status and JSON body.
async fn read(host: &TestHost, session: &str, after: u64, secret: Option<&str>) -> (u16, Value) {
    let mut request = host.client.get(host.url(&format!(
        "/webhooks/webchat/messages?session_id={session}&after={after}"
    )));
    if let Some(secret) = secret {
        request = request.header("x-webchat-secret", secret);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn lookup(host: &TestHost, identity: &str) -> Vec<Value> {
    let (status, body) = host
        .call(
            "GET",
            &format!("/api/customers?identity={}", urlencode(identity)),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

async fn queue(host: &TestHost) -> Vec<Value> {
    let (status, body) = host
        .call("GET", "/api/queue", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The conversation of the session's task in the queue.
async fn conversation_of(host: &TestHost, customer: &str) -> Value {
    let (status, timeline) = host
        .call(
            "GET",
            &format!("/api/customers/{customer}/timeline"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{timeline}");
    let id = timeline[0]["conversation_id"].as_str().unwrap().to_string();
    conversation(host, &id).await
}

async fn conversation(host: &TestHost, id: &str) -> Value {
    let (status, body) = host
        .call(
            "GET",
            &format!("/api/conversations/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn customer_id(customers: &[Value]) -> String {
    assert_eq!(customers.len(), 1, "{customers:?}");
    customers[0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn prechat_identities_are_attested_together() {
    let (_mock, host) = start().await;
    post_fixture(&host).await;

    let by_email = lookup(&host, "email:sheena.nelson@example.com").await;
    let by_phone = lookup(&host, "phone:+16505551234").await;
    let by_handle = lookup(&host, &format!("handle:webchat:{SESSION}")).await;
    let id = customer_id(&by_email);
    assert_eq!(customer_id(&by_phone), id);
    assert_eq!(customer_id(&by_handle), id);
    assert_eq!(by_email[0]["display_name"], "Sheena");

    let tasks = queue(&host).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["channel"], "webchat");
    assert_eq!(tasks[0]["channel_kind"], "chat");
    assert_eq!(tasks[0]["customer_id"], id.as_str());

    let conversation = conversation_of(&host, &id).await;
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["text"],
        "Still waiting on order 4821, can someone help?"
    );
    host.stop().await;
}

#[tokio::test]
async fn prechat_form_merges_an_email_profile_and_a_phone_profile() {
    let (_mock, host) = start().await;
    let (status, body) = post(
        &host,
        json!({"session_id": "by-email", "visitor": {"email": "sheena.nelson@example.com"},
               "text": "hello by email"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(
        &host,
        json!({"session_id": "by-phone", "visitor": {"phone": "+16505551234"},
               "text": "hello by phone"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let email_customer = customer_id(&lookup(&host, "email:sheena.nelson@example.com").await);
    let phone_customer = customer_id(&lookup(&host, "phone:+16505551234").await);
    assert_ne!(email_customer, phone_customer, "two profiles before");

    post_fixture(&host).await;
    let after_email = customer_id(&lookup(&host, "email:sheena.nelson@example.com").await);
    let after_phone = customer_id(&lookup(&host, "phone:+16505551234").await);
    assert_eq!(after_email, after_phone, "the pre-chat form merged them");
    host.stop().await;
}

#[tokio::test]
async fn later_messages_of_a_session_need_its_secret() {
    let (_mock, host) = start().await;
    let secret = post_fixture(&host).await;
    let customer = customer_id(&lookup(&host, &format!("handle:webchat:{SESSION}")).await);

    let second = json!({"session_id": SESSION, "text": "anyone there?"});
    let (status, body) = post(&host, second.clone(), &[]).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(
        &host,
        second.clone(),
        &[("x-webchat-secret", "00".repeat(32))],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        conversation_of(&host, &customer).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a refused message is not stored"
    );

    let (status, body) = post(&host, second, &[("x-webchat-secret", secret.clone())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["secret"], secret.as_str());
    // The query parameter works too.
    let (status, body) = host
        .post_webhook(
            &format!("/webhooks/webchat?secret={secret}"),
            "application/json",
            &[],
            serde_json::to_vec(&json!({"session_id": SESSION, "text": "third", "id": "c3"}))
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let conversation = conversation_of(&host, &customer).await;
    let texts: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Still waiting on order 4821, can someone help?",
            "anyone there?",
            "third"
        ]
    );
    // A retried client id is stored once.
    let (status, _) = post(
        &host,
        json!({"session_id": SESSION, "text": "third", "id": "c3"}),
        &[("x-webchat-secret", secret.clone())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        conversation_of(&host, &customer).await["messages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    host.stop().await;
}

#[tokio::test]
async fn agent_replies_reach_only_their_session_and_become_delivered() {
    let (_mock, host) = start().await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"chat": 2}}))
        .await;
    host.set_status("ann", &ann, "available").await;
    let secret = post_fixture(&host).await;
    let (status, other) = post(
        &host,
        json!({"session_id": "someone-else", "text": "hi"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{other}");
    let other_secret = other["secret"].as_str().unwrap().to_string();
    assert_ne!(other_secret, secret);

    let customer = customer_id(&lookup(&host, "email:sheena.nelson@example.com").await);
    let tasks = host
        .wait_tasks("ann", &ann, |t| {
            t.iter().any(|t| t["customer_id"] == customer.as_str())
        })
        .await;
    let task = tasks
        .iter()
        .find(|t| t["customer_id"] == customer.as_str())
        .unwrap();
    let (task_id, conversation_id) = (
        task["id"].as_str().unwrap().to_string(),
        task["conversation_id"].as_str().unwrap().to_string(),
    );
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/tasks/{task_id}/accept"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation_id}/messages"),
            Some(&ann),
            Some(json!({"text": "We are on it"})),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {body}");

    // The visitor's poll sees the reply.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let reply = loop {
        let (status, body) = read(&host, SESSION, 0, Some(&secret)).await;
        assert_eq!(status, 200, "{body}");
        if let Some(m) = body["messages"].as_array().and_then(|m| m.first()) {
            assert_eq!(body["messages"].as_array().unwrap().len(), 1, "{body}");
            assert_eq!(body["next"], m["seq"]);
            break m.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reply never reached the session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(reply["text"], "We are on it");
    assert_eq!(reply["author"], "agent");
    let seq = reply["seq"].as_u64().unwrap();
    let (status, body) = read(&host, SESSION, seq, Some(&secret)).await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], json!([]), "nothing after the last seq");
    assert_eq!(body["next"], seq);

    // Nobody else reads it.
    let (status, _) = read(&host, SESSION, 0, Some(&other_secret)).await;
    assert_eq!(status, 401);
    let (status, _) = read(&host, SESSION, 0, None).await;
    assert_eq!(status, 401);
    let (status, body) = read(&host, "someone-else", 0, Some(&other_secret)).await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], json!([]), "{body}");

    // Fetching it reported it delivered (each fetch of it reports again, so
    // re-read until the host has recorded the delivery before the fetch).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let conversation = conversation(&host, &conversation_id).await;
        let outbound = conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "outbound")
            .cloned()
            .unwrap();
        assert_eq!(outbound["id"], reply["id"]);
        if outbound["status"] == "delivered" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reply never became delivered: {outbound}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        read(&host, SESSION, 0, Some(&secret)).await;
    }
    host.stop().await;
}

#[tokio::test]
async fn cors_allows_listed_origins_and_refuses_others() {
    let (_mock, host) = start().await;
    let preflight = host
        .client
        .request(reqwest::Method::OPTIONS, host.url("/webhooks/webchat"))
        .header("origin", SHOP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-webchat-secret",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |name: &str| {
        preflight
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("access-control-allow-origin"), SHOP);
    assert!(header("access-control-allow-headers").contains("x-webchat-secret"));
    assert!(header("access-control-allow-methods").contains("POST"));

    let evil = "https://evil.example.com";
    let preflight = host
        .client
        .request(reqwest::Method::OPTIONS, host.url("/webhooks/webchat"))
        .header("origin", evil)
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 403);
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let (status, body) = post_raw(
        &host,
        channels::fixture("webchat/message.json"),
        &[("origin", evil.to_string())],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        lookup(&host, "email:sheena.nelson@example.com")
            .await
            .is_empty()
    );
    assert!(queue(&host).await.is_empty(), "nothing stored");

    // The allowed origin posts, and reads the answer (CORS headers).
    let response = host
        .client
        .post(host.url("/webhooks/webchat"))
        .header("origin", SHOP)
        .header("content-type", "application/json")
        .body(channels::fixture("webchat/message.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        SHOP
    );
    // ...and so do its errors, which a page can then read.
    let response = host
        .client
        .post(host.url("/webhooks/webchat"))
        .header("origin", SHOP)
        .header("content-type", "application/json")
        .body(r#"{"session_id": "wc-7f3a9c", "text": "no secret"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["access-control-allow-origin"]
            .to_str()
            .unwrap(),
        SHOP
    );
    assert_eq!(queue(&host).await.len(), 1);

    // The host's own pages (the demo) are same-origin: allowed unlisted.
    let (status, body) = post(
        &host,
        json!({"session_id": "demo-page", "text": "from the demo"}),
        &[("origin", host.url(""))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    host.stop().await;
}

#[tokio::test]
async fn widget_is_served_and_bad_input_is_refused() {
    let (_mock, host) = start().await;
    let response = host
        .client
        .get(host.url("/webhooks/webchat/widget.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("application/javascript"),
        "{content_type}"
    );
    let js = response.text().await.unwrap();
    assert!(js.contains("document.currentScript"));
    assert!(js.contains("crypto.getRandomValues"));
    assert!(js.contains("x-webchat-secret"));

    let demo = host
        .client
        .get(host.url("/webhooks/webchat/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(demo.status().as_u16(), 200);
    assert!(
        demo.text()
            .await
            .unwrap()
            .contains(r#"src="/webhooks/webchat/widget.js""#)
    );

    let (status, body) = post_raw(&host, b"{not json".to_vec(), &[]).await;
    assert_eq!(status, 400, "{body}");
    for bad in [
        json!({"session_id": "s1"}),
        json!({"session_id": "s1", "text": "   "}),
        json!({"text": "hi"}),
        json!({"session_id": "", "text": "hi"}),
        json!({"session_id": "has space", "text": "hi"}),
        json!({"session_id": "../etc", "text": "hi"}),
        json!({"session_id": "x".repeat(129), "text": "hi"}),
        json!({"session_id": "s1", "text": "x".repeat(4001)}),
        json!({"session_id": "s1", "text": "hi", "visitor": {"email": "not an email"}}),
        json!([1, 2]),
    ] {
        let (status, body) = post(&host, bad.clone(), &[]).await;
        assert_eq!(status, 400, "{bad} -> {body}");
    }
    let (status, _) = read(&host, "bad id", 0, Some("00")).await;
    assert_eq!(status, 400);
    assert!(queue(&host).await.is_empty(), "nothing stored");

    // The longest text is fine.
    let (status, body) = post(
        &host,
        json!({"session_id": "s1", "text": "x".repeat(4000)}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let (status, _) = host.call("GET", "/webhooks/webchat/nope", None, None).await;
    assert_eq!(status, 404);
    let (status, _) = host.call("PUT", "/webhooks/webchat", None, None).await;
    assert_eq!(status, 405);
    host.stop().await;
}
