//! Wait information end to end, on a scripted queue: one agent with room
//! for one SMS conversation is busy; the customers who write next are told
//! their place and the estimated wait (the estimator's default handle time
//! of 4 minutes, one slot), and `GET /api/queue` shows the same.

use std::time::Duration;

use serde_json::json;
use switchboard::config::Config;
use switchboard_tests::channels::{sms_from, sms_sent};
use switchboard_tests::presets::{SMS, fast_outbox};
use switchboard_tests::{MockServer, TestHost, eventually};

fn queue_told(config: &mut Config) {
    fast_outbox(config);
    config.routing.default_handle_ms.messaging = 240_000;
    config.routing.default_capacity.messaging = 1;
    config.routing.queued_reply.insert(
        "en".into(),
        "Thanks! You are number {position} in the queue; the wait is about {wait}.".into(),
    );
}

/// The texts the mock Twilio was asked to send to `to`.
fn sent_to(mock: &MockServer, to: &str) -> Vec<String> {
    sms_sent(mock)
        .into_iter()
        .filter(|(t, _)| t == to)
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn waiting_customers_are_told_their_place_and_the_estimated_wait() {
    let mock = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], queue_told).await;
    // Ann, available, takes the first customer at once: her one slot is
    // full.
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"messaging": 1}}))
        .await;
    host.set_status("ann", &ann, "available").await;
    sms_from(&host, Some("+16505551234"), "SMwait1", "First!").await;
    let tasks = host
        .wait_tasks("ann", &ann, |t| t.iter().any(|t| t["state"] == "reserved"))
        .await;
    host.accept_task(&ann, tasks[0]["id"].as_str().unwrap())
        .await;
    assert!(
        sent_to(&mock, "+16505551234").is_empty(),
        "a customer an agent took at once is told nothing"
    );

    sms_from(&host, Some("+16505552000"), "SMwait2", "Second").await;
    sms_from(&host, Some("+16505553000"), "SMwait3", "Third").await;
    for (to, told) in [
        (
            "+16505552000",
            "You are number 1 in the queue; the wait is about 4 minutes.",
        ),
        (
            "+16505553000",
            "You are number 2 in the queue; the wait is about 8 minutes.",
        ),
    ] {
        assert!(
            eventually(Duration::from_secs(10), || sent_to(&mock, to)
                .iter()
                .any(|t| t.ends_with(told)))
            .await,
            "{to} was not told {told:?}: {:?}",
            sent_to(&mock, to)
        );
    }
    let queue = host.admin_json("/api/queue").await;
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert_eq!(queue[0]["position_in_kind"], 1);
    assert_eq!(queue[0]["estimated_wait_ms"], 240_000);
    assert_eq!(queue[1]["position_in_kind"], 2);
    assert_eq!(queue[1]["estimated_wait_ms"], 480_000);
    host.stop().await;
}
