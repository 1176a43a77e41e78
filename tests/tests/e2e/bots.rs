//! Bots end to end: WhatsApp conversations handed to the `faq-bot` plugin
//! first (answers through the mock provider, order status from a mock API,
//! per-language answers, handoffs with a summary), and a bot that traps or
//! loops (`rogue-bot`) handing off at once with nothing lost.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::secrets::{ORDERS_TOKEN, WA_ACCESS_TOKEN as WA_TOKEN};
use switchboard_tests::channels::{take_task, texts, whatsapp_text};
use switchboard_tests::{MockServer, Recorded, TestHost, eventually};

/// The business number the fixtures' customers write to.
const PHONE_NUMBER_ID: &str = "106540352242922";

const SHIPPING: &str = "Orders ship within 1 business day and arrive in 3-5 days.";
const SHIPPING_ES: &str = "Los pedidos se envían en 1 día hábil y llegan en 3-5 días.";
const FALLBACK_START: &str = "Sorry, I did not get that.";

/// The one conversation of the customer writing from `wa_id`.
async fn conversation_of(host: &TestHost, wa_id: &str) -> String {
    let customer = host.customer_id(&format!("phone:+{wa_id}")).await;
    let timeline = host.timeline(&customer).await;
    timeline[0]["conversation_id"].as_str().unwrap().to_string()
}

/// Polls the conversation until `check` holds for its messages; returns
/// the conversation.
async fn wait_conversation(
    host: &TestHost,
    conversation: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> Value {
    host.admin_json_until(&format!("/api/conversations/{conversation}"), what, |c| {
        check(c["messages"].as_array().unwrap())
    })
    .await
}

/// Waits until the conversation has `n` messages written by the bot.
async fn wait_bot_replies(host: &TestHost, conversation: &str, n: usize) -> Value {
    wait_conversation(host, conversation, &format!("{n} bot replies"), |m| {
        authored(m, "bot").len() >= n
    })
    .await
}

/// Waits until the conversation was handed off; returns it.
async fn wait_handoff(host: &TestHost, conversation: &str) -> Value {
    wait_conversation(host, conversation, "a handoff", |m| {
        !authored(m, "system").is_empty()
    })
    .await
}

/// Waits until the conversation is resolved.
async fn wait_resolved(host: &TestHost, conversation: &str) {
    host.admin_json_until(
        &format!("/api/conversations/{conversation}"),
        "resolved",
        |c| c["status"] == "resolved",
    )
    .await;
}

/// The messages of `author`.
fn authored<'a>(messages: &'a [Value], author: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["author"] == author).collect()
}

/// The texts the provider was asked to send (WhatsApp's messages endpoint).
fn sent_texts(provider: &MockServer) -> Vec<String> {
    provider
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.uri.ends_with(&format!("/{PHONE_NUMBER_ID}/messages")))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["text"]["body"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Waits (10 s at most) until the provider was asked to send `n` texts.
async fn wait_sent(provider: &MockServer, n: usize) -> Vec<String> {
    assert!(
        eventually(Duration::from_secs(10), || sent_texts(provider).len() >= n).await,
        "the provider got {:?}",
        sent_texts(provider)
    );
    sent_texts(provider)
}

/// The one waiting task, once there is one (10 s at most).
async fn wait_queued(host: &TestHost) -> Value {
    let queue = wait_queue(host, |q| !q.is_empty()).await;
    assert_eq!(queue.len(), 1, "{queue:?}");
    queue[0].clone()
}

/// The waiting task of `conversation`, once there is one (10 s at most).
async fn wait_task_for(host: &TestHost, conversation: &str) -> Value {
    let queue = wait_queue(host, |q| {
        q.iter().any(|t| t["conversation_id"] == conversation)
    })
    .await;
    queue
        .into_iter()
        .find(|t| t["conversation_id"] == conversation)
        .unwrap()
}

/// Polls the queue until `check` holds; returns it.
async fn wait_queue(host: &TestHost, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let queue = host
        .admin_json_until("/api/queue", "the awaited tasks", |q| {
            check(q.as_array().unwrap())
        })
        .await;
    queue.as_array().unwrap().clone()
}

/// How many calls the plugin has served.
async fn calls(host: &TestHost, plugin: &str) -> u64 {
    host.plugin(plugin).await["calls"].as_u64().unwrap()
}

fn order_requests(orders: &MockServer) -> Vec<Recorded> {
    orders.requests()
}

#[tokio::test]
async fn faq_questions_are_answered_through_the_provider_without_a_task() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(&provider, &orders, &[]).await;

    let plugin = host.plugin("faq-bot").await;
    assert_eq!(plugin["kind"], "bot", "{plugin}");
    assert_eq!(plugin["status"], "active", "{plugin}");
    let channel = host.plugin("whatsapp").await;
    assert_eq!(
        channel["bot"], "faq-bot",
        "the admin sees which bot a channel uses"
    );

    whatsapp_text(
        &host,
        "16505551234",
        "wamid.1",
        "How long does shipping take?",
    )
    .await;
    let conversation = conversation_of(&host, "16505551234").await;
    let c = wait_bot_replies(&host, &conversation, 1).await;
    let messages = c["messages"].as_array().unwrap();
    assert_eq!(
        texts(messages),
        ["How long does shipping take?", SHIPPING],
        "{c:#}"
    );
    assert_eq!(messages[1]["author"], "bot");
    assert_eq!(messages[1]["direction"], "outbound");

    // Delivered through the channel's outbox, to her, from the number she
    // wrote to, with the channel's token.
    assert_eq!(wait_sent(&provider, 1).await, [SHIPPING]);
    let send = provider
        .requests()
        .into_iter()
        .find(|r| r.uri.ends_with("/messages"))
        .unwrap();
    assert_eq!(send.uri, format!("/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        send.header("authorization"),
        Some(format!("Bearer {WA_TOKEN}").as_str())
    );
    let body: Value = serde_json::from_slice(&send.body).unwrap();
    assert_eq!(body["to"], "16505551234");
    let bot_message = messages[1]["id"].as_str().unwrap();
    switchboard_tests::channels::wait_status(&host, &conversation, bot_message, "sent").await;

    // A second question in the same conversation; still no task for anyone.
    whatsapp_text(&host, "16505551234", "wamid.2", "Can I return it?").await;
    wait_bot_replies(&host, &conversation, 2).await;
    let sent = wait_sent(&provider, 2).await;
    assert!(sent[1].starts_with("You can return any item"), "{sent:?}");
    assert!(
        host.queue().await.is_empty(),
        "a bot conversation has no task"
    );
    let c = host.conversation(&conversation).await;
    assert_eq!(c["status"], "open");
    assert!(c["task_id"].is_null(), "{c:#}");
    assert!(order_requests(&orders).is_empty(), "no order lookups");

    // "bye" closes the conversation; the next message starts a new one, with
    // the bot again.
    whatsapp_text(&host, "16505551234", "wamid.3", "Thanks, bye!").await;
    wait_resolved(&host, &conversation).await;
    assert_eq!(sent_texts(&provider).len(), 2, "resolving sends nothing");
    whatsapp_text(
        &host,
        "16505551234",
        "wamid.4",
        "what is the delivery time?",
    )
    .await;
    wait_sent(&provider, 3).await;
    let customer = host.customer_id("phone:+16505551234").await;
    let timeline = host.timeline(&customer).await;
    let last = timeline.last().unwrap();
    assert_eq!(last["text"], SHIPPING);
    assert_ne!(last["conversation_id"], conversation.as_str());
    assert!(host.queue().await.is_empty());
}

#[tokio::test]
async fn asking_for_an_agent_hands_off_with_a_summary_and_the_transcript() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(
        &provider,
        &orders,
        &[
            ("handoff_skills", json!({"support": 2})),
            ("handoff_priority", json!(5)),
        ],
    )
    .await;

    whatsapp_text(
        &host,
        "16505551234",
        "wamid.1",
        "how long is shipping to Oslo?",
    )
    .await;
    let conversation = conversation_of(&host, "16505551234").await;
    wait_bot_replies(&host, &conversation, 1).await;
    whatsapp_text(
        &host,
        "16505551234",
        "wamid.2",
        "I want to talk to an Agent please",
    )
    .await;

    let task = wait_queued(&host).await;
    assert_eq!(task["conversation_id"], conversation.as_str());
    assert_eq!(task["reason"], "customer asked for an agent", "{task:#}");
    let summary = task["summary"].as_str().unwrap();
    assert!(
        summary.contains("\"how long is shipping to Oslo?\"")
            && summary.contains("\"I want to talk to an Agent please\"")
            && summary.contains("bot answered 1 time;")
            && summary.contains("intent: shipping"),
        "{summary}"
    );
    assert_eq!(task["skills"][0]["name"], "support", "{task:#}");
    assert_eq!(task["skills"][0]["min_level"], 2, "{task:#}");
    assert_eq!(task["priority"], 5, "{task:#}");

    let c = wait_handoff(&host, &conversation).await;
    let messages = c["messages"].as_array().unwrap();
    assert_eq!(
        texts(messages),
        [
            "how long is shipping to Oslo?",
            SHIPPING,
            "I want to talk to an Agent please",
            "Handed off to an agent: customer asked for an agent",
        ],
        "{c:#}"
    );
    assert_eq!(
        messages
            .iter()
            .map(|m| m["author"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["customer", "bot", "customer", "system"]
    );
    assert_eq!(
        wait_sent(&provider, 1).await,
        [SHIPPING],
        "no reply to the handoff"
    );

    // The agent who takes the task sees the summary and the bot transcript.
    let (token, accepted) = take_task(&host, "ana", json!({"skills": {"support": 3}})).await;
    assert_eq!(accepted["id"], task["id"]);
    let mine = host.tasks_of("ana", &token).await;
    assert_eq!(mine[0]["summary"], summary);
    assert_eq!(mine[0]["reason"], "customer asked for an agent");
    let (status, view) = host
        .call(
            "GET",
            &format!("/api/conversations/{conversation}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    let seen = view["messages"].as_array().unwrap();
    assert_eq!(authored(seen, "bot").len(), 1);
    assert_eq!(authored(seen, "bot")[0]["text"], SHIPPING);
    assert_eq!(seen.len(), 4);
    assert_eq!(
        sent_texts(&provider),
        [SHIPPING],
        "the bot said nothing more"
    );
}

#[tokio::test]
async fn a_bot_that_traps_or_loops_hands_off_at_once_and_loses_nothing() {
    let provider = MockServer::start().await;
    let host = TestHost::with_rogue_bot(&provider).await;
    assert_eq!(host.plugin("rogue-bot").await["kind"], "bot");

    // A working turn first: the bot answers.
    whatsapp_text(&host, "16505550001", "wamid.ok", "hello").await;
    let fine = conversation_of(&host, "16505550001").await;
    wait_bot_replies(&host, &fine, 1).await;
    assert_eq!(wait_sent(&provider, 1).await, ["ok"]);

    for (wa_id, text) in [("16505550002", "trap"), ("16505550003", "loop")] {
        whatsapp_text(&host, wa_id, &format!("wamid.{text}"), text).await;
        let conversation = conversation_of(&host, wa_id).await;
        let c = wait_handoff(&host, &conversation).await;
        let messages = c["messages"].as_array().unwrap();
        assert_eq!(messages[0]["text"], text, "the message is kept: {c:#}");
        assert_eq!(messages[0]["author"], "customer");
        let note = authored(messages, "system")[0]["text"].as_str().unwrap();
        assert!(
            note.starts_with("Handed off to an agent: bot failed"),
            "{note}"
        );
        let task = wait_task_for(&host, &conversation).await;
        let reason = task["reason"].as_str().unwrap();
        assert!(reason.starts_with("bot failed"), "{text}: {reason}");
        assert!(
            task["summary"].as_str().unwrap_or_default().contains(text),
            "{text}: {task:#}"
        );
        assert!(authored(messages, "bot").is_empty());
    }
    assert_eq!(host.queue().await.len(), 2);
    assert_eq!(
        sent_texts(&provider),
        ["ok"],
        "nothing sent for the failures"
    );
    // The failures were the plugin's, counted against it; the host is fine
    // and the bot still answers others.
    assert!(host.plugin("rogue-bot").await["failures"].as_u64().unwrap() >= 2);
    whatsapp_text(&host, "16505550004", "wamid.ok2", "hi").await;
    assert_eq!(wait_sent(&provider, 2).await, ["ok", "ok"]);

    // The handed-off customer's next message stays with the task.
    let trapped = conversation_of(&host, "16505550002").await;
    whatsapp_text(&host, "16505550002", "wamid.trap2", "hello? anyone?").await;
    let c = host.conversation(&trapped).await;
    assert_eq!(
        texts(c["messages"].as_array().unwrap()).last().copied(),
        Some("hello? anyone?")
    );
    assert_eq!(host.queue().await.len(), 2, "no second task");

    // A bot may also close a conversation.
    whatsapp_text(&host, "16505550005", "wamid.resolve", "resolve").await;
    let closed = conversation_of(&host, "16505550005").await;
    wait_resolved(&host, &closed).await;
    assert_eq!(host.queue().await.len(), 2, "resolving creates no task");
}

#[tokio::test]
async fn order_status_is_answered_from_the_order_api() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(&provider, &orders, &[]).await;

    orders.respond_with(
        200,
        r#"{"id": "4821", "status": "out for delivery", "carrier": "UPS"}"#,
    );
    whatsapp_text(&host, "16505551234", "wamid.1", "Where is order #4821?").await;
    assert_eq!(
        wait_sent(&provider, 1).await,
        ["Order 4821 is out for delivery."]
    );
    let lookups = order_requests(&orders);
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0].method, "GET");
    assert_eq!(lookups[0].uri, "/orders/4821");
    assert_eq!(
        lookups[0].header("authorization"),
        Some(format!("Bearer {ORDERS_TOKEN}").as_str())
    );

    // An unknown order: the API's 404 is an answer, not a failure.
    orders.respond_with(404, r#"{"error": "not found"}"#);
    whatsapp_text(
        &host,
        "16505551234",
        "wamid.2",
        "and the status of order 999?",
    )
    .await;
    assert_eq!(
        wait_sent(&provider, 2).await[1],
        "I could not find order 999."
    );
    assert_eq!(order_requests(&orders)[1].uri, "/orders/999");
    assert!(host.queue().await.is_empty());

    // The API failing hands off, with the order named in the summary.
    orders.respond_with(503, r#"{"error": "down"}"#);
    whatsapp_text(&host, "16505551234", "wamid.3", "where is order 5000").await;
    let task = wait_queued(&host).await;
    assert_eq!(task["reason"], "order lookup failed", "{task:#}");
    let summary = task["summary"].as_str().unwrap();
    assert!(
        summary.contains("order status (order 5000)") && summary.contains("503"),
        "{summary}"
    );
    assert_eq!(sent_texts(&provider).len(), 2, "no reply to the handoff");
}

#[tokio::test]
async fn two_misunderstandings_in_a_row_hand_off() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(&provider, &orders, &[]).await;

    whatsapp_text(&host, "16505551234", "wamid.1", "blorp").await;
    let conversation = conversation_of(&host, "16505551234").await;
    wait_bot_replies(&host, &conversation, 1).await;
    let sent = wait_sent(&provider, 1).await;
    assert!(sent[0].starts_with(FALLBACK_START), "{sent:?}");
    assert!(
        host.queue().await.is_empty(),
        "one misunderstanding is fine"
    );

    whatsapp_text(&host, "16505551234", "wamid.2", "zzzz qqq").await;
    let task = wait_queued(&host).await;
    assert_eq!(task["reason"], "the bot did not understand twice");
    let summary = task["summary"].as_str().unwrap();
    assert!(
        summary.contains("\"blorp\" / \"zzzz qqq\"") && summary.contains("intent: none"),
        "{summary}"
    );
    let c = wait_handoff(&host, &conversation).await;
    assert_eq!(authored(c["messages"].as_array().unwrap(), "bot").len(), 1);
    assert_eq!(
        sent_texts(&provider).len(),
        1,
        "the second time, no fallback"
    );
}

#[tokio::test]
async fn answers_follow_the_customers_language() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(&provider, &orders, &[]).await;

    whatsapp_text(&host, "16505551234", "wamid.1", "shipping?").await;
    assert_eq!(wait_sent(&provider, 1).await, [SHIPPING]);

    let customer = host.customer_id("phone:+16505551234").await;
    host.set_attributes(&customer, json!({"language": "es"}))
        .await;

    whatsapp_text(&host, "16505551234", "wamid.2", "¿Cuánto tarda el envío?").await;
    assert_eq!(wait_sent(&provider, 2).await[1], SHIPPING_ES);
    // An answer without a translation would stay in the default language;
    // the fallback has one.
    whatsapp_text(&host, "16505551234", "wamid.3", "hmm").await;
    let sent = wait_sent(&provider, 3).await;
    assert!(sent[2].starts_with("Perdón, no lo entendí."), "{sent:?}");
}

#[tokio::test]
async fn after_a_handoff_the_bot_stays_out_of_the_conversation() {
    let (provider, orders) = (MockServer::start().await, MockServer::start().await);
    let host = TestHost::with_faq_bot(&provider, &orders, &[]).await;

    whatsapp_text(&host, "16505551234", "wamid.1", "human").await;
    let conversation = conversation_of(&host, "16505551234").await;
    let task = wait_queued(&host).await;
    wait_handoff(&host, &conversation).await;
    let bot_calls = calls(&host, "faq-bot").await;
    assert_eq!(bot_calls, 1);

    // Questions the bot would answer now go to the task's conversation.
    whatsapp_text(
        &host,
        "16505551234",
        "wamid.2",
        "how long does shipping take?",
    )
    .await;
    whatsapp_text(&host, "16505551234", "wamid.3", "where is order 4821").await;
    // A pause: a message after a handoff queues no bot turn, so no event marks the bot left out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = host.conversation(&conversation).await;
    let messages = c["messages"].as_array().unwrap();
    assert_eq!(
        texts(messages),
        [
            "human",
            "Handed off to an agent: customer asked for an agent",
            "how long does shipping take?",
            "where is order 4821",
        ],
        "{c:#}"
    );
    assert_eq!(c["task_id"], task["id"]);
    assert_eq!(
        calls(&host, "faq-bot").await,
        bot_calls,
        "the bot was not asked"
    );
    assert!(
        sent_texts(&provider).is_empty(),
        "no bot reply reached the provider"
    );
    assert!(order_requests(&orders).is_empty());
    let queue = host.queue().await;
    assert_eq!(queue.len(), 1, "still one task: {queue:?}");

    // The agent takes it and sees everything; her reply is the only one sent.
    let (token, accepted) = take_task(&host, "ana", json!({})).await;
    assert_eq!(accepted["conversation_id"], conversation.as_str());
    switchboard_tests::channels::reply(&host, &token, &conversation, "Hi, Ana here.").await;
    assert_eq!(wait_sent(&provider, 1).await, ["Hi, Ana here."]);
    assert_eq!(calls(&host, "faq-bot").await, bot_calls);
}
