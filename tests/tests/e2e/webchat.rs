//! The `webchat` channel over real HTTP: pre-chat identities and merges,
//! the session secret, agent replies read back by their own session only
//! (and reported delivered), CORS, the widget and bad input.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::{self, reply, take_task, texts};
use switchboard_tests::{TestHost, poll, wait_until};

const SHOP: &str = "https://shop.example.com";
const SESSION: &str = "wc-7f3a9c";

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

/// The fixture: Sheena's first message, with her email and phone, signed in
/// on the shop (vouched for: they are verified).
async fn post_fixture(host: &TestHost) -> String {
    let (status, body) = post_raw(host, channels::vouched_webchat_fixture(), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session_id"], SESSION);
    let secret = body["secret"].as_str().unwrap().to_string();
    // `<expires>.<hex HMAC-SHA256>`, expiring a day after the first message.
    let (expires, mac) = secret.split_once('.').expect("expires.mac");
    assert_eq!(mac.len(), 64, "a hex HMAC-SHA256: {secret}");
    let in_a_day = switchboard_tests::now_ms() / 1000 + 24 * 3600;
    let expires: u64 = expires.parse().unwrap();
    assert!(expires.abs_diff(in_a_day) < 120, "{secret}");
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

/// The conversation of the customer's first timeline entry.
async fn conversation_of(host: &TestHost, customer: &str) -> Value {
    let timeline = host.timeline(customer).await;
    host.conversation(timeline[0]["conversation_id"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn a_vouched_visitors_identities_are_attested_together() {
    let host = TestHost::with_webchat(SHOP).await;
    post_fixture(&host).await;

    let id = host.customer_id("email:sheena.nelson@example.com").await;
    assert_eq!(host.customer_id("phone:+16505551234").await, id);
    assert_eq!(
        host.customer_id(&format!("handle:webchat:{SESSION}")).await,
        id
    );
    assert_eq!(
        host.lookup("email:sheena.nelson@example.com").await[0]["display_name"],
        "Sheena"
    );

    let tasks = host.queue().await;
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
async fn a_vouched_visitor_merges_an_email_profile_and_a_phone_profile() {
    let host = TestHost::with_webchat(SHOP).await;
    let (email, phone) = ("sheena.nelson@example.com", "+16505551234");
    for first in [
        json!({"session_id": "by-email", "text": "hello by email",
               "visitor": {"email": email, "identifier_hash": channels::identifier_hash(email)}}),
        json!({"session_id": "by-phone", "text": "hello by phone",
               "visitor": {"phone": phone, "identifier_hash": channels::identifier_hash(phone)}}),
    ] {
        let (status, body) = post(&host, first, &[]).await;
        assert_eq!(status, 200, "{body}");
    }
    let email_customer = host.customer_id("email:sheena.nelson@example.com").await;
    let phone_customer = host.customer_id("phone:+16505551234").await;
    assert_ne!(email_customer, phone_customer, "two profiles before");

    post_fixture(&host).await;
    let after_email = host.customer_id("email:sheena.nelson@example.com").await;
    let after_phone = host.customer_id("phone:+16505551234").await;
    assert_eq!(after_email, after_phone, "the pre-chat form merged them");
    host.stop().await;
}

#[tokio::test]
async fn later_messages_of_a_session_need_its_secret() {
    let host = TestHost::with_webchat(SHOP).await;
    let secret = post_fixture(&host).await;
    let customer = host.customer_id(&format!("handle:webchat:{SESSION}")).await;

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
    // Only the header carries it: a query parameter ends up in access logs.
    let (status, body) = host
        .post_webhook(
            &format!("/webhooks/webchat?secret={secret}"),
            "application/json",
            &[],
            serde_json::to_vec(&json!({"session_id": SESSION, "text": "third", "id": "c3"}))
                .unwrap(),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = post(
        &host,
        json!({"session_id": SESSION, "text": "third", "id": "c3"}),
        &[("x-webchat-secret", secret.clone())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let conversation = conversation_of(&host, &customer).await;
    assert_eq!(
        texts(conversation["messages"].as_array().unwrap()),
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
    let host = TestHost::with_webchat(SHOP).await;
    let secret = post_fixture(&host).await;
    let customer = host.customer_id("email:sheena.nelson@example.com").await;
    let (ann, task) = take_task(&host, "ann", json!({"name": "Ann"})).await;
    assert_eq!(task["customer_id"], customer.as_str());
    let (status, other) = post(
        &host,
        json!({"session_id": "someone-else", "text": "hi"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{other}");
    let other_secret = other["secret"].as_str().unwrap().to_string();
    assert_ne!(other_secret, secret);

    let conversation_id = task["conversation_id"].as_str().unwrap();
    reply(&host, &ann, conversation_id, "We are on it").await;

    // The visitor's poll sees the reply.
    let reply = poll(Duration::from_secs(10), async || {
        let (status, body) = read(&host, SESSION, 0, Some(&secret)).await;
        assert_eq!(status, 200, "{body}");
        let Some(m) = body["messages"].as_array().and_then(|m| m.first()) else {
            return Err("the reply never reached the session");
        };
        assert_eq!(body["messages"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["next"], m["seq"]);
        Ok(m.clone())
    })
    .await;
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
    poll(Duration::from_secs(10), async || {
        let conversation = host.conversation(conversation_id).await;
        let outbound = conversation["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "outbound")
            .cloned()
            .unwrap();
        assert_eq!(outbound["id"], reply["id"]);
        if outbound["status"] == "delivered" {
            return Ok(());
        }
        read(&host, SESSION, 0, Some(&secret)).await;
        Err(format!("the reply never became delivered: {outbound}"))
    })
    .await;
    host.stop().await;
}

/// A CORS preflight (`OPTIONS`) of the webchat endpoint from `origin`, with
/// extra headers.
async fn preflight_from(
    host: &TestHost,
    origin: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = host
        .client
        .request(reqwest::Method::OPTIONS, host.url("/webhooks/webchat"))
        .header("origin", origin);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// POSTs a JSON body to the webchat endpoint from a page at `SHOP`; returns
/// the status and the `access-control-allow-origin` answered, if any.
async fn post_from_shop(host: &TestHost, body: Vec<u8>) -> (u16, Option<String>) {
    let response = host
        .client
        .post(host.url("/webhooks/webchat"))
        .header("origin", SHOP)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), allowed)
}

#[tokio::test]
async fn cors_allows_listed_origins_and_refuses_others() {
    let host = TestHost::with_webchat(SHOP).await;
    let preflight = preflight_from(
        &host,
        SHOP,
        &[
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type, x-webchat-secret",
            ),
        ],
    )
    .await;
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
    let preflight = preflight_from(&host, evil, &[]).await;
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
        host.lookup("email:sheena.nelson@example.com")
            .await
            .is_empty()
    );
    assert!(host.queue().await.is_empty(), "nothing stored");

    // The allowed origin posts, and reads the answer (CORS headers).
    assert_eq!(
        post_from_shop(&host, channels::fixture("webchat/message.json")).await,
        (200, Some(SHOP.to_string()))
    );
    // ...and so do its errors, which a page can then read.
    assert_eq!(
        post_from_shop(
            &host,
            r#"{"session_id": "wc-7f3a9c", "text": "no secret"}"#.into()
        )
        .await,
        (401, Some(SHOP.to_string()))
    );
    assert_eq!(host.queue().await.len(), 1);

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

/// `GET path` without credentials (a page the browser loads).
async fn get_page(host: &TestHost, path: &str) -> reqwest::Response {
    host.client.get(host.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn widget_is_served_and_bad_input_is_refused() {
    let host = TestHost::with_webchat(SHOP).await;
    let response = get_page(&host, "/webhooks/webchat/widget.js").await;
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

    let demo = get_page(&host, "/webhooks/webchat/demo").await;
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
    assert!(host.queue().await.is_empty(), "nothing stored");

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

/// With `wait=1` a read that finds nothing is held by the host until the
/// agent's reply is delivered, and then answers with it; without `wait` it
/// answers at once, empty.
#[tokio::test]
async fn a_waiting_read_is_answered_by_the_next_reply() {
    let host = TestHost::with_webchat(SHOP).await;
    let secret = post_fixture(&host).await;
    let (ann, task) = take_task(&host, "ann", json!({"name": "Ann"})).await;

    let (status, body) = read(&host, SESSION, 0, Some(&secret)).await;
    assert_eq!(status, 200);
    assert_eq!(body["messages"], json!([]), "nothing yet, answered at once");
    let reads = host.plugin("webchat").await["calls"].as_u64().unwrap();

    let url = host.url(&format!(
        "/webhooks/webchat/messages?session_id={SESSION}&after=0&wait=1"
    ));
    let waiting = tokio::spawn({
        let client = host.client.clone();
        let secret = secret.clone();
        async move {
            let response = client
                .get(url)
                .header("x-webchat-secret", secret)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let long_poll_header = response.headers().contains_key("x-switchboard-long-poll");
            let body: Value = response.json().await.unwrap();
            (status, long_poll_header, body)
        }
    });
    // The read is held: the plugin answered it (its calls moved) with
    // nothing yet.
    wait_until(
        Duration::from_secs(10),
        "the held read at the plugin",
        async || host.plugin("webchat").await["calls"].as_u64().unwrap() > reads,
    )
    .await;
    assert!(!waiting.is_finished(), "the read was not held");

    reply(
        &host,
        &ann,
        task["conversation_id"].as_str().unwrap(),
        "Here now",
    )
    .await;
    let (status, long_poll_header, body) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the held read answers once the reply is delivered")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        !long_poll_header,
        "the host keeps its instruction to itself"
    );
    assert_eq!(texts(body["messages"].as_array().unwrap()), ["Here now"]);
}

#[tokio::test]
async fn the_widget_is_told_whether_anyone_is_there_to_answer() {
    let host = TestHost::with_webchat(SHOP).await;
    let secret = post_fixture(&host).await;
    // The count is refreshed at most once a second: wait for it to change.
    let available = |want: u64| {
        let (host, secret) = (&host, secret.clone());
        async move {
            switchboard_tests::poll(std::time::Duration::from_secs(10), async || {
                let (status, body) = read(host, SESSION, 0, Some(&secret)).await;
                (status == 200 && body["agents_available"] == want)
                    .then_some(())
                    .ok_or(format!("wanted {want} agents available: {status} {body}"))
            })
            .await
        }
    };
    available(0).await;

    // An agent with chat capacity becomes available: she is offered
    // Sheena's chat and still has room for one more.
    let token = host
        .agent(
            "ann",
            json!({"name": "Ann", "capacity": {"chat": 2, "voice": 0}}),
        )
        .await;
    host.set_status("ann", &token, "available").await;
    available(1).await;
    host.set_status("ann", &token, "away").await;
    available(0).await;
    host.stop().await;
}

/// The visitor sees who answered (the agent's name, from contract 0.3.2's
/// `switchboard-agent-name`) and is told at once, even while a read is
/// held, that the agent closed the conversation; her next message opens a
/// new one.
#[tokio::test]
async fn the_visitor_sees_who_answered_and_when_the_chat_was_closed() {
    let host = TestHost::with_webchat(SHOP).await;
    let secret = post_fixture(&host).await;
    let (ann, task) = take_task(&host, "ann", json!({"name": "Ann Lee"})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    reply(&host, &ann, conversation, "Hi, Ann here").await;
    let body = poll(Duration::from_secs(10), async || {
        let (status, body) = read(&host, SESSION, 0, Some(&secret)).await;
        (status == 200 && body["messages"].as_array().is_some_and(|m| !m.is_empty()))
            .then_some(body.clone())
            .ok_or(format!("no reply yet: {status} {body}"))
    })
    .await;
    assert_eq!(body["messages"][0]["name"], "Ann Lee", "{body}");
    assert_eq!(body["closed"], false, "{body}");
    // The agent's own view names her too.
    let stored = host.conversation(conversation).await;
    let names: Vec<&Value> = stored["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["agent_name"])
        .collect();
    assert!(names.contains(&&json!("Ann Lee")), "{stored}");

    // A read waits (the widget believes the chat open), then Ann closes it.
    let next = body["next"].as_u64().unwrap();
    let url = host.url(&format!(
        "/webhooks/webchat/messages?session_id={SESSION}&after={next}&wait=1&closed=0"
    ));
    let reads = host.plugin("webchat").await["calls"].as_u64().unwrap();
    let waiting = tokio::spawn(
        host.client
            .get(url)
            .header("x-webchat-secret", secret.clone())
            .send(),
    );
    wait_until(
        Duration::from_secs(10),
        "the held read at the plugin",
        async || host.plugin("webchat").await["calls"].as_u64().unwrap() > reads,
    )
    .await;
    assert!(!waiting.is_finished(), "the read was not held");
    host.complete_task(&ann, task["id"].as_str().unwrap(), None)
        .await;
    let response = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the held read answers once the chat is closed")
        .unwrap()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["closed"], true, "{body}");
    assert_eq!(body["messages"], json!([]));

    // Her next message starts a new conversation: open again.
    let (status, sent) = post(
        &host,
        json!({"session_id": SESSION, "text": "One more thing"}),
        &[("x-webchat-secret", secret.clone())],
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let (_, body) = read(&host, SESSION, next, Some(&secret)).await;
    assert_eq!(body["closed"], false, "{body}");
    host.stop().await;
}

/// The consent the visitor gave in the widget (`data-consent`) is recorded
/// on her profile with the text she agreed to, and audited; a message
/// without it records nothing.
#[tokio::test]
async fn consent_given_in_the_widget_is_recorded_on_the_profile() {
    let host = TestHost::with_webchat(SHOP).await;
    let agreed = "I agree that this chat is stored under the shop's privacy policy.";
    let first = json!({"session_id": "wc-consent", "text": "Hi, a question about returns",
                       "consent": true, "consent_text": agreed});
    let (status, body) = post(&host, first, &[]).await;
    assert_eq!(status, 200, "{body}");
    let customer = host.customer_id("handle:webchat:wc-consent").await;
    let profile = host.admin_json(&format!("/api/customers/{customer}")).await;
    let consent = &profile["consent"]["webchat"];
    assert_eq!(consent["status"], "opted_in", "{profile}");
    assert_eq!(consent["source"], format!("widget: {agreed}"), "{profile}");
    assert!(consent["at"].as_u64().is_some(), "{profile}");
    let audit = host
        .admin_json(&format!(
            "/api/audit?action=consent.granted&target={customer}"
        ))
        .await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    // The export carries it too.
    let export = host
        .admin_json(&format!("/api/customers/{customer}/export"))
        .await;
    assert_eq!(
        export["customer"]["consent"]["webchat"]["status"], "opted_in",
        "{export}"
    );

    // Another visitor who was never asked: nothing recorded.
    let (status, body) = post(
        &host,
        json!({"session_id": "wc-noconsent", "text": "hello", "consent": false}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let other = host.customer_id("handle:webchat:wc-noconsent").await;
    let profile = host.admin_json(&format!("/api/customers/{other}")).await;
    assert!(profile["consent"].get("webchat").is_none(), "{profile}");
    // The widget knows the option.
    let widget = host
        .client
        .get(host.url("/webhooks/webchat/widget.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(widget.contains("data-consent"));
}

/// A visitor whose chat waits behind another is told her place and the
/// estimated wait with every read (the widget shows them); once an agent
/// has it, no place.
#[tokio::test]
async fn the_widget_is_told_the_visitor_s_place_in_the_queue() {
    let host = TestHost::with_webchat(SHOP).await;
    // Ann has room for one chat, and takes the first visitor's.
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"chat": 1}}))
        .await;
    host.set_status("ann", &ann, "available").await;
    let (status, first) = post(
        &host,
        json!({"session_id": "wc-first", "text": "hello"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let tasks = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    host.accept_task(&ann, tasks[0]["id"].as_str().unwrap())
        .await;
    let (_, read_first) = read(&host, "wc-first", 0, first["secret"].as_str()).await;
    assert_eq!(read_first["queue"], Value::Null, "{read_first}");

    let (status, second) = post(
        &host,
        json!({"session_id": "wc-second", "text": "anyone?"}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let secret = second["secret"].as_str().unwrap().to_string();
    // The default chat handle time is 8 minutes; one slot, nobody ahead.
    let (status, answer) = read(&host, "wc-second", 0, Some(&secret)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["queue"],
        json!({"position": 1, "wait_ms": 480_000}),
        "{answer}"
    );
    // A held read is answered at once while the widget shows another
    // place (here none), and held while it shows the right one.
    let held = |place: u32| {
        host.client
            .get(host.url(&format!(
                "/webhooks/webchat/messages?session_id=wc-second&after=0&wait=1&closed=0&place={place}"
            )))
            .header("x-webchat-secret", secret.as_str())
            .send()
    };
    let at_once = tokio::time::timeout(Duration::from_secs(5), held(0))
        .await
        .expect("a read with a stale place is answered at once")
        .unwrap();
    let at_once: Value = at_once.json().await.unwrap();
    assert_eq!(at_once["queue"]["position"], 1, "{at_once}");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), held(1))
            .await
            .is_err(),
        "a read whose place is right is held"
    );
    // The widget knows what to do with it.
    let widget = host
        .client
        .get(host.url("/webhooks/webchat/widget.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(widget.contains("in the queue"));
}
