//! Identity trust: only identities a provider authenticated (or a website
//! vouched for) link a message to a customer. A web chat visitor who types
//! someone else's phone number gets a profile of its own, marked as
//! claiming it; the real customer's history reaches neither the agent's view
//! of that chat, the bot, nor the CRM events for it. One event cannot merge
//! more than two profiles at once.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::{self, identifier_hash, post_whatsapp, take_task};
use switchboard_tests::{MockServer, TestHost, poll};

/// Sheena's number as WhatsApp attests it (`whatsapp/text.json`).
const SHEENA: &str = "phone:+16505551234";

/// A web chat message (a later one of a session carries its `secret`);
/// asserts it was taken and returns the session's secret.
async fn webchat(
    host: &TestHost,
    session: &str,
    secret: Option<&str>,
    visitor: Value,
    text: &str,
) -> String {
    let body = json!({"session_id": session, "visitor": visitor, "text": text});
    let headers: Vec<(&str, String)> = secret
        .map(|s| ("x-webchat-secret", s.to_string()))
        .into_iter()
        .collect();
    let (status, answer) = host
        .post_webhook(
            "/webhooks/webchat",
            "application/json",
            &headers,
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    answer["secret"].as_str().unwrap().to_string()
}

/// The customer known by the web chat session `session`.
async fn visitor(host: &TestHost, session: &str) -> String {
    host.customer_id(&format!("handle:webchat:{session}")).await
}

/// The texts of a customer's conversation's messages by `author`.
async fn said_by(host: &TestHost, conversation: &str, author: &str) -> Vec<String> {
    host.conversation(conversation).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["author"] == author)
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_visitor_claiming_someone_elses_number_gets_a_profile_of_its_own() {
    let (provider, crm) = (MockServer::start().await, MockServer::start().await);
    // The CRM is down: its events stay queued, where they can be read.
    for _ in 0..200 {
        crm.respond_with(503, "{}");
    }
    let host = TestHost::with_claims(&provider, &crm).await;
    let (status, body) = post_whatsapp(&host, &channels::fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200, "{body}");
    let sheena = host.customer_id(SHEENA).await;

    // A visitor types Sheena's number into the pre-chat form.
    let claim = json!({"name": "Not Sheena", "phone": "+1 650-555-1234"});
    let secret = webchat(&host, "wc-spoof", None, claim, "context").await;
    let spoofer = visitor(&host, "wc-spoof").await;
    assert_ne!(spoofer, sheena, "a claim linked the visitor to Sheena");
    // Her number still leads to her alone.
    assert_eq!(host.customer_id(SHEENA).await, sheena);
    let profile = host.admin_json(&format!("/api/customers/{spoofer}")).await;
    assert_eq!(
        profile["claims"],
        json!([{"kind": "phone", "value": "+16505551234"}]),
        "{profile}"
    );
    assert!(
        !profile["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "phone"),
        "{profile}"
    );
    // A person may check and merge.
    let suggestions = host.admin_json("/api/merge-suggestions").await;
    let mut pair = [sheena.clone(), spoofer.clone()];
    pair.sort();
    assert!(
        suggestions
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["customers"] == json!(pair)
                && s["evidence"] == json!(["claimed phone:+16505551234"])),
        "{suggestions}"
    );

    // The bot was told the visitor's own history (none) and the claim as a
    // claim.
    let timeline = host.timeline(&spoofer).await;
    let conversation = timeline[0]["conversation_id"].as_str().unwrap().to_string();
    let context = poll(Duration::from_secs(20), async || {
        said_by(&host, &conversation, "bot")
            .await
            .pop()
            .ok_or("the bot never answered")
    })
    .await;
    assert_eq!(
        context,
        "history 0; handle:webchat:wc-spoof verified, phone:+16505551234 claimed"
    );

    // The agent who takes the chat sees nothing of Sheena's.
    webchat(&host, "wc-spoof", Some(&secret), json!({}), "handoff").await;
    // Chats only (the bot asks for billing): Sheena's WhatsApp task waits
    // for someone else.
    let chats_only = json!({"capacity": {"voice": 0, "chat": 2, "messaging": 0, "email": 0},
                            "skills": {"billing": 3}});
    let (token, task) = take_task(&host, "ann", chats_only).await;
    assert_eq!(task["customer_id"], spoofer);
    let view: Value = host
        .client
        .get(host.url(&format!("/api/conversations/{conversation}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["history"], json!([]), "{view}");
    let shown = serde_json::to_string(&view).unwrap();
    assert!(
        !shown.contains("order 4821"),
        "Sheena's WhatsApp text shown: {view}"
    );

    // Every CRM event since the visitor came is about the visitor.
    let crm_view = host.admin_json("/api/crm").await;
    let visitor_events: Vec<&Value> = crm_view["pending"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["customer_id"] == spoofer)
        .collect();
    assert!(
        visitor_events
            .iter()
            .any(|e| e["event"] == "interaction_logged"),
        "{crm_view}"
    );
    let sheenas: Vec<&Value> = crm_view["pending"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["customer_id"] == sheena)
        .collect();
    let sheenas_messages: Vec<String> = host
        .timeline(&sheena)
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    for event in &sheenas {
        if let Some(message) = event["message_id"].as_str() {
            assert!(
                sheenas_messages.contains(&message.to_string()),
                "a CRM event about Sheena carries a message not hers: {event}"
            );
        }
    }
}

#[tokio::test]
async fn a_visitor_the_website_vouches_for_is_linked_and_a_wrong_hash_is_a_claim() {
    let (provider, crm) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_claims(&provider, &crm).await;
    let (status, _) = post_whatsapp(&host, &channels::fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200);
    let sheena = host.customer_id(SHEENA).await;

    // Signed in on the website, which signs her number.
    let phone = "+1 650-555-1234";
    let vouched = json!({"phone": phone, "identifier_hash": identifier_hash(phone)});
    webchat(&host, "wc-signed", None, vouched, "hello").await;
    assert_eq!(visitor(&host, "wc-signed").await, sheena);

    // The hash of another identifier proves nothing.
    let forged = json!({"phone": phone, "identifier_hash": identifier_hash("+15550000000")});
    webchat(&host, "wc-forged", None, forged, "hello").await;
    let forger = visitor(&host, "wc-forged").await;
    assert_ne!(forger, sheena);
    assert_eq!(host.customer_id(SHEENA).await, sheena);
    let profile = host.admin_json(&format!("/api/customers/{forger}")).await;
    assert_eq!(profile["claims"][0]["value"], "+16505551234", "{profile}");
}

#[tokio::test]
async fn one_event_attesting_fifty_customers_merges_nothing_and_suggests() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    for i in 0..50 {
        let status = host
            .inbound(
                "chat",
                json!({"id": format!("m{i}"), "from": {"email": format!("c{i}@example.com")}, "text": "hi"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let customers: Vec<String> = {
        let mut ids = Vec::new();
        for i in 0..50 {
            ids.push(host.customer_id(&format!("email:c{i}@example.com")).await);
        }
        ids
    };
    let also: Vec<Value> = (1..50)
        .map(|i| json!({"email": format!("c{i}@example.com")}))
        .collect();
    let status = host
        .inbound(
            "chat",
            json!({"id": "all", "from": {"email": "c0@example.com"}, "also": also, "text": "we are all one"}),
        )
        .await;
    assert_eq!(status, 200);

    for (i, id) in customers.iter().enumerate() {
        assert_eq!(
            &host.customer_id(&format!("email:c{i}@example.com")).await,
            id,
            "customer {i} was merged"
        );
    }
    let audit = host.admin_json("/api/audit?action=customer.merge").await;
    assert_eq!(audit, json!([]), "nothing is merged automatically: {audit}");
    let suggestions = host.admin_json("/api/merge-suggestions").await;
    assert!(
        !suggestions.as_array().unwrap().is_empty(),
        "a person is asked instead"
    );
}

#[tokio::test]
async fn a_supervisor_who_checked_the_claim_merges_the_profiles() {
    let (provider, crm) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_claims(&provider, &crm).await;
    let (status, _) = post_whatsapp(&host, &channels::fixture("whatsapp/text.json")).await;
    assert_eq!(status, 200);
    let sheena = host.customer_id(SHEENA).await;
    let claim = json!({"name": "Sheena", "phone": "+1 650-555-1234"});
    webchat(&host, "wc-really-her", None, claim, "it is me").await;
    let visitor = visitor(&host, "wc-really-her").await;

    // A supervisor sees the suggestion, checks with the customer, merges.
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let (status, suggestions) = host
        .call("GET", "/api/merge-suggestions", Some(&sue), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(suggestions.as_array().unwrap().len(), 1, "{suggestions}");
    let (status, merged) = host
        .call(
            "POST",
            &format!("/api/customers/{sheena}/merge"),
            Some(&sue),
            Some(json!({"other": visitor})),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    // Her number was already hers: not a claim any more.
    assert_eq!(merged["claims"], json!([]), "{merged}");
    assert_eq!(visitor_id_now(&host).await, sheena);
    let audit = host.admin_json("/api/audit?action=customer.merge").await;
    assert_eq!(audit[0]["actor"], "supervisor:sue", "{audit}");
    assert_eq!(audit[0]["merged"], visitor);
}

/// Who the `wc-really-her` session belongs to now.
async fn visitor_id_now(host: &TestHost) -> String {
    visitor(host, "wc-really-her").await
}
