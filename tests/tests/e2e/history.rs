//! The event history: every change reports count, appended in the same
//! write as the change, in the order changes happened — a task's whole
//! life, agents' statuses, messages in and out (never their words); read
//! page by page by supervisors; kept across restarts, numbered on from
//! where it stopped; with a retention of its own; and unlinked from a
//! customer who is erased.

use serde_json::{Value, json};
use switchboard_tests::channels::{reply, sms_from, take_task};
use switchboard_tests::presets::{SMS, fast_outbox};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, now_ms};

/// The history as the admin reads it, `after` a seq.
async fn history(host: &TestHost, after: u64) -> Vec<Value> {
    host.admin_json(&format!("/api/history?after={after}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_task_s_life_is_in_the_history_in_order_and_survives_a_restart() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], fast_outbox).await;
    sms_from(&host, None, "SMhist1", "Is my order shipped?").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    reply(&host, &token, conversation, "It left this morning").await;
    host.complete_task(
        &token,
        task["id"].as_str().unwrap(),
        Some(json!({"disposition": "answered"})),
    )
    .await;

    let events = history(&host, 0).await;
    assert_eq!(
        kinds(&events),
        [
            "message.in",
            "task.created",
            "agent.status",
            "task.reserved",
            "task.accepted",
            "message.out",
            "task.completed"
        ],
        "{events:#?}"
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let done = &events[6];
    assert_eq!(done["task_id"], task["id"]);
    assert_eq!(done["agent_id"], "ann");
    assert_eq!(done["channel"], "sms");
    assert_eq!(done["data"]["state"], "completed");
    assert_eq!(done["data"]["disposition"], "answered");
    assert_eq!(done["data"]["channel_kind"], "messaging");
    assert_eq!(events[2]["data"]["status"], "available");
    // Counts, not words.
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("shipped") && !text.contains("morning"),
        "{text}"
    );

    // Paged by seq; supervisors only.
    let rest = history(&host, seqs[3]).await;
    assert_eq!(kinds(&rest), kinds(&events[4..]));
    let (status, _) = host.call("GET", "/api/history", Some(&token), None).await;
    assert_eq!(status, 403);
    let (status, _) = host
        .call("GET", "/api/history?limit=0", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(status, 400);

    // After a restart: the same history, numbered on from where it was.
    let host = host.restart().await;
    assert_eq!(history(&host, 0).await, events);
    sms_from(&host, None, "SMhist2", "Thanks!").await;
    let later = history(&host, seqs[6]).await;
    assert_eq!(
        kinds(&later)[..2],
        ["message.in", "task.created"],
        "{later:#?}"
    );
    assert!(later[0]["seq"].as_u64().unwrap() > seqs[6]);
}

#[tokio::test]
async fn the_history_has_its_own_retention_and_forgets_who_an_erased_customer_was() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], |config| {
        fast_outbox(config);
        config.retention.history_days = Some(30);
        config.retention.allow_as_of = true;
    })
    .await;
    sms_from(&host, None, "SMhist3", "Hello").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    host.complete_task(&token, task["id"].as_str().unwrap(), None)
        .await;
    let events = history(&host, 0).await;
    assert!(!events.is_empty());
    let customer = events[0]["customer_id"].as_str().unwrap().to_string();

    // Erased: her events stay (the counts), without her id.
    let (status, erased) = host.erase_customer(&customer).await;
    assert_eq!(status, 200, "{erased}");
    let after = history(&host, 0).await;
    assert_eq!(kinds(&after), kinds(&events));
    assert!(
        after.iter().all(|e| e["customer_id"].is_null()),
        "{after:#?}"
    );
    assert!(after.iter().any(|e| e["kind"] == "task.completed"));

    // A month and a day on, the pass removes them.
    let (status, pass) = host
        .call(
            "POST",
            "/api/retention/run",
            Some(ADMIN_TOKEN),
            Some(json!({"as_of": now_ms() + 31 * 86_400_000})),
        )
        .await;
    assert_eq!(status, 200, "{pass}");
    assert_eq!(
        pass["history_removed"].as_u64(),
        Some(after.len() as u64),
        "{pass}"
    );
    assert!(history(&host, 0).await.is_empty());
}
