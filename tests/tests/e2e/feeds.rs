//! The event feed out: an admin points a webhook at a receiver, which gets
//! the history's events it asked for, in order, signed with its secret;
//! a receiver that is down gets them late, still in order; a batch that
//! keeps failing is dead-lettered, the feed goes on, and a redrive sends
//! it again. The cursor survives a restart.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use switchboard_tests::channels::{reply, sms_from, take_task};
use switchboard_tests::presets::{SMS, fast_outbox};
use switchboard_tests::{ADMIN_TOKEN, MockServer, Recorded, TestHost};

/// Fast retries, small batches, quick polls.
fn quick(config: &mut switchboard::config::Config) {
    fast_outbox(config);
    config.feeds.poll_ms = 20;
    config.feeds.base_backoff_ms = 20;
    config.feeds.max_backoff_ms = 40;
    config.feeds.batch = 3;
}

async fn create_feed(host: &TestHost, body: Value) -> Value {
    let (status, feed) = host
        .call("POST", "/api/feeds", Some(ADMIN_TOKEN), Some(body))
        .await;
    assert_eq!(status, 201, "{feed}");
    feed
}

/// Waits until the feed has dealt with the whole history.
async fn caught_up(host: &TestHost, id: &str) -> Value {
    host.admin_json_until(&format!("/api/feeds/{id}"), "caught up", |f| {
        f["delivered_seq"] == f["history_seq"] && f["redriving"] == 0
    })
    .await
}

/// The request's events, after checking its signature against `secret`.
fn verified_events(request: &Recorded, secret: &str) -> Vec<Value> {
    let header = request.header("switchboard-signature").expect("signed");
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("t=…,v1=…");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("the signature verifies");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["events"].as_array().unwrap().clone()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn a_receiver_gets_the_events_it_asked_for_in_order_signed_even_after_being_down() {
    let mock = MockServer::start().await;
    let receiver = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], quick).await;
    // Down for its first three tries.
    for _ in 0..3 {
        receiver.respond_with(503, "{}");
    }
    let feed = create_feed(
        &host,
        json!({"url": format!("{}/bi", receiver.url()), "events": ["task.*", "message.*"], "after": 0}),
    )
    .await;
    let id = feed["id"].as_str().unwrap().to_string();
    let secret = feed["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{feed}");
    let listed = host.admin_json("/api/feeds").await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "{listed}");

    sms_from(&host, None, "SMfeed1", "Where is my parcel?").await;
    let (token, task) = take_task(&host, "ann", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap();
    reply(&host, &token, conversation, "On its way").await;
    host.complete_task(&token, task["id"].as_str().unwrap(), None)
        .await;
    caught_up(&host, &id).await;

    let history = host.admin_json("/api/history").await;
    let wanted: Vec<Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let kind = e["kind"].as_str().unwrap();
            kind.starts_with("task.") || kind.starts_with("message.")
        })
        .cloned()
        .collect();
    assert!(wanted.len() >= 6, "{history}");
    let requests = receiver.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.method == "POST" && r.uri == "/bi")
    );
    // The three failed tries carried the same first batch.
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(requests[0].body, requests[3].body);
    let delivered: Vec<Value> = requests[3..]
        .iter()
        .flat_map(|r| verified_events(r, &secret))
        .collect();
    assert_eq!(delivered, wanted);
    assert!(delivered.iter().all(|e| e["kind"] != "agent.status"));
    let feed = host.admin_json(&format!("/api/feeds/{id}")).await;
    assert_eq!(
        (feed["attempts"].clone(), feed["dead_letters"].clone()),
        (json!(0), json!(0))
    );

    // After a restart the feed goes on where it was: nothing twice.
    let host = host.restart().await;
    let before = receiver.requests().len();
    sms_from(&host, None, "SMfeed2", "Thanks!").await;
    caught_up(&host, &id).await;
    let later: Vec<Value> = receiver.requests()[before..]
        .iter()
        .flat_map(|r| verified_events(r, &secret))
        .collect();
    assert_eq!(later[0]["kind"], "message.in", "{later:#?}");
    assert!(seqs(&later)[0] > *seqs(&delivered).last().unwrap());
}

#[tokio::test]
async fn a_batch_that_keeps_failing_is_dead_lettered_and_a_redrive_delivers_it() {
    let mock = MockServer::start().await;
    let receiver = MockServer::start().await;
    let host = TestHost::with_channels(&mock, &[SMS], |c| {
        quick(c);
        c.feeds.max_attempts = 2;
    })
    .await;

    // Bad input changes nothing; only the admin manages feeds.
    for bad in [
        json!({"url": "ftp://example.com/x"}),
        json!({"url": "http://example.com/x", "events": ["Task.*"]}),
        json!({"url": "http://example.com/x", "secret": "short"}),
        json!({"url": "http://example.com/x", "surprise": 1}),
    ] {
        let (status, body) = host
            .call("POST", "/api/feeds", Some(ADMIN_TOKEN), Some(bad))
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let (status, _) = host.call("GET", "/api/feeds", Some(&ann), None).await;
    assert_eq!(status, 403);
    let (status, _) = host
        .call(
            "GET",
            "/api/feeds/fd_nope/dead-letters",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(host.admin_json("/api/feeds").await, json!([]));

    receiver.respond_with(500, "{}");
    receiver.respond_with(500, "{}");
    let feed = create_feed(
        &host,
        json!({"url": receiver.url(), "events": ["message.in"], "secret": "a-secret-of-our-own"}),
    )
    .await;
    let id = feed["id"].as_str().unwrap().to_string();
    sms_from(&host, None, "SMdead1", "First").await;
    host.admin_json_until(&format!("/api/feeds/{id}"), "a dead letter", |f| {
        f["dead_letters"] == 1
    })
    .await;
    let dead = host
        .admin_json(&format!("/api/feeds/{id}/dead-letters"))
        .await;
    assert_eq!(dead[0]["kind"], "message.in", "{dead}");

    // The feed went on: the next message arrives.
    sms_from(&host, None, "SMdead2", "Second").await;
    caught_up(&host, &id).await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let second = verified_events(&requests[2], "a-secret-of-our-own");
    assert!(seqs(&second)[0] > dead[0]["seq"].as_u64().unwrap());

    // Redriven: the dead letter is delivered, and leaves the list.
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/feeds/{id}/redrive"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, body["redriven"].clone()),
        (200, json!(1)),
        "{body}"
    );
    let feed = caught_up(&host, &id).await;
    assert_eq!(feed["dead_letters"], 0);
    let requests = receiver.requests();
    assert_eq!(
        verified_events(&requests[3], "a-secret-of-our-own"),
        dead.as_array().unwrap().clone()
    );

    let (status, _) = host
        .call(
            "DELETE",
            &format!("/api/feeds/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(host.admin_json("/api/feeds").await, json!([]));
}
