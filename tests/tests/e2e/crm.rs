//! CRM connectors end to end: the first-party `rest-crm` plugin against a
//! mock CRM (a real HTTP server on loopback), with customers and messages
//! created through the JSON test channel and a real agent.
//!
//! - a CRM that is down (503) gets every event later, in order per customer,
//!   and nothing is lost or sent twice across a host restart;
//! - a CRM that refuses an event (4xx) dead-letters it at once, visible in
//!   `GET /api/crm`, and `POST /api/crm/redrive` delivers it again;
//! - enrichment makes a customer a VIP from the CRM's contact, and the
//!   `vip-first` router serves them before an older task;
//! - a partner's connector (`examples/partner-crm`) builds outside the
//!   workspace and hot-loads into a running host, which then sends it events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard_tests::channels::secrets::CRM_TOKEN;
use switchboard_tests::channels::{granting, reply, take_task};
use switchboard_tests::*;

/// The test channel's plugin name (a `chat` channel).
const CHAT: &str = "chat";
/// How many 503s the mock CRM answers while it is "down"; the tests end
/// the outage by draining what is left.
const OUTAGE: usize = 1_000;

/// A customer message through the test channel.
async fn say(host: &TestHost, id: &str, email: &str, name: &str, text: &str) {
    let status = host
        .inbound(
            CHAT,
            json!({"id": id, "from": {"email": email}, "name": name, "text": text}),
        )
        .await;
    assert_eq!(status, 200, "inbound {id}");
}

/// Waits (20 s at most) until what the mock CRM received satisfies `check`.
async fn crm_got(crm: &MockServer, what: &str, check: impl Fn(&[Recorded]) -> bool) {
    assert!(
        eventually(Duration::from_secs(20), || check(&crm.requests())).await,
        "the CRM never got {what}; it got:\n{}",
        describe(&crm.requests())
    );
}

/// `GET /api/crm`.
async fn crm_view(host: &TestHost) -> Value {
    host.admin_json("/api/crm").await
}

/// Waits (20 s at most) until `GET /api/crm` satisfies `check`; returns it.
async fn crm_view_until(host: &TestHost, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    host.admin_json_until("/api/crm", what, check).await
}

fn list(view: &Value, key: &str) -> Vec<Value> {
    view[key].as_array().unwrap().clone()
}

/// Ends the outage: takes every 503 still queued at the mock by calling it
/// directly; returns how many it took.
async fn drain(crm: &MockServer) -> usize {
    let client = reqwest::Client::new();
    let mut taken = 0;
    loop {
        let status = client
            .get(format!("{}/__drain", crm.url()))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            return taken;
        }
        assert_eq!(status, 503);
        taken += 1;
    }
}

/// The status each request got from a mock that had `queued` answers
/// waiting when it received the first of `requests` (and answers 200 once
/// they are used up). The mock records a request and takes its answer
/// without yielding in between, so recording order is answering order.
fn answered(requests: &[Recorded], queued: &[u16]) -> Vec<(Recorded, u16)> {
    let mut queue = queued.iter().copied();
    requests
        .iter()
        .map(|r| (r.clone(), queue.next().unwrap_or(200)))
        .collect()
}

/// The requests the host made (not the test's own draining).
fn from_host(requests: &[(Recorded, u16)]) -> Vec<(Recorded, u16)> {
    requests
        .iter()
        .filter(|(r, _)| r.uri != "/__drain")
        .cloned()
        .collect()
}

/// What the CRM took in: the host's requests it answered 200.
fn accepted(requests: &[Recorded], queued: &[u16]) -> Vec<Recorded> {
    from_host(&answered(requests, queued))
        .into_iter()
        .filter(|(_, status)| *status == 200)
        .map(|(r, _)| r)
        .collect()
}

fn body(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn line(r: &Recorded) -> String {
    format!(
        "{} {} {}",
        r.method,
        r.uri,
        String::from_utf8_lossy(&r.body)
    )
}

fn describe(requests: &[Recorded]) -> String {
    requests.iter().map(line).collect::<Vec<_>>().join("\n")
}

fn count(requests: &[Recorded], method: &str, uri: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.uri == uri)
        .count()
}

/// The outage every delivery test starts with: the contact search (none)
/// and its creation (`c1`) succeed, then the CRM goes down.
fn queue_contact_then_outage(crm: &MockServer) -> Vec<u16> {
    crm.respond_with(200, r#"{"contacts":[]}"#);
    crm.respond_with(200, r#"{"id":"c1"}"#);
    for _ in 0..OUTAGE {
        crm.respond_with(503, r#"{"error":"maintenance"}"#);
    }
    let mut queued = vec![200, 200];
    queued.extend(std::iter::repeat_n(503, OUTAGE));
    queued
}

/// Ann's story, while the CRM may be down: she writes, her plan is set,
/// agent Ana takes the task and replies, Ann answers, Ana completes the
/// task. Returns Ann's customer id and the conversation id.
async fn anns_conversation(host: &TestHost, crm: &MockServer) -> (String, String) {
    say(host, "m1", "ann@example.com", "Ann", "hi").await;
    let ann = host.customer_id("email:ann@example.com").await;
    // The CRM refuses her first message twice: it is being retried.
    crm_got(crm, "the first activity twice", |r| {
        count(r, "POST", "/api/contacts/c1/activities") >= 2
    })
    .await;
    host.set_attributes(&ann, json!({"plan": "gold"})).await;
    let (token, task) = take_task(host, "ana", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    reply(host, &token, &conversation, "hello").await;
    say(host, "m2", "ann@example.com", "Ann", "thanks").await;
    host.complete_task(
        &token,
        task["id"].as_str().unwrap(),
        Some(json!({"disposition": "resolved"})),
    )
    .await;
    (ann, conversation)
}

/// Checks what the CRM accepted for Ann: her contact found-or-created
/// first, then one activity per message in timeline order, updates (her
/// plan before Ana's reply) in between, and the conversation's note last —
/// each exactly once.
async fn check_anns_record(host: &TestHost, accepted: &[Recorded], ann: &str, conversation: &str) {
    let all = describe(accepted);
    assert!(accepted.len() >= 6, "{all}");
    assert_eq!(
        (accepted[0].method.as_str(), accepted[0].uri.as_str()),
        ("GET", "/api/contacts?email=ann%40example.com"),
        "{all}"
    );
    assert_eq!(
        (accepted[1].method.as_str(), accepted[1].uri.as_str()),
        ("POST", "/api/contacts"),
        "{all}"
    );
    assert_eq!(
        body(&accepted[1]),
        json!({"name": "Ann", "email": "ann@example.com", "external_id": ann}),
        "{all}"
    );
    for r in accepted {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {CRM_TOKEN}").as_str()),
            "{}",
            line(r)
        );
    }

    let rest = &accepted[2..];
    // Everything else goes to contact c1: activities, the note, updates.
    let records: Vec<&Recorded> = rest.iter().filter(|r| r.method == "POST").collect();
    let uris: Vec<&str> = records.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "/api/contacts/c1/activities",
            "/api/contacts/c1/activities",
            "/api/contacts/c1/activities",
            "/api/contacts/c1/notes",
        ],
        "{all}"
    );
    let timeline = host.timeline(ann).await;
    assert_eq!(timeline.len(), 3, "{timeline:?}");
    for (record, entry) in records.iter().zip(&timeline) {
        let activity = body(record);
        assert_eq!(
            activity,
            json!({
                "type": "message",
                "channel": CHAT,
                "direction": entry["direction"],
                "author": entry["author"],
                "text": entry["text"],
                "at": entry["at"],
                "conversation_id": conversation,
                "message_id": entry["id"],
            }),
            "{all}"
        );
    }
    let texts: Vec<Value> = records[..3]
        .iter()
        .map(|r| body(r)["text"].clone())
        .collect();
    assert_eq!(texts, [json!("hi"), json!("hello"), json!("thanks")]);
    assert_eq!(
        body(records[3]),
        json!({
            "title": "Conversation on chat",
            "body": "[customer] hi\n[agent] hello\n[customer] thanks",
            "disposition": "resolved",
            "conversation_id": conversation,
        }),
        "{all}"
    );

    // Updates: PATCHes of c1 only; the one carrying her plan came before
    // Ana's reply (it was recorded before it).
    for r in rest.iter().filter(|r| r.method != "POST") {
        assert_eq!(
            (r.method.as_str(), r.uri.as_str()),
            ("PATCH", "/api/contacts/c1"),
            "{all}"
        );
    }
    let plan = rest
        .iter()
        .position(|r| r.method == "PATCH" && body(r)["plan"] == "gold")
        .unwrap_or_else(|| panic!("her plan never reached the CRM:\n{all}"));
    let answer = rest
        .iter()
        .position(|r| body(r)["text"] == "hello")
        .unwrap();
    assert!(plan < answer, "{all}");
    assert_eq!(
        body(&rest[plan]),
        json!({"name": "Ann", "email": "ann@example.com", "plan": "gold", "external_id": ann})
    );
}

#[tokio::test]
async fn a_crm_that_is_down_gets_every_event_later_in_order_per_customer() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    let queued = queue_contact_then_outage(&crm);
    let host = TestHost::with_rest_crm(
        Arc::new(tempfile::tempdir().unwrap()),
        &crm,
        &provider,
        false,
        |c| c.crm.max_attempts = 100_000,
    )
    .await;

    let (ann, conversation) = anns_conversation(&host, &crm).await;

    // While the CRM is down, only her first message is tried, again and
    // again: her later events wait behind it.
    let during = crm.requests();
    assert!(during.len() >= 4, "{}", describe(&during));
    for r in &during[2..] {
        assert_eq!(
            r.uri,
            "/api/contacts/c1/activities",
            "{}",
            describe(&during)
        );
        assert_eq!(body(r)["text"], "hi");
    }
    let view = crm_view(&host).await;
    let pending: Vec<Value> = list(&view, "pending")
        .into_iter()
        .filter(|e| e["customer_id"] == ann.as_str())
        .collect();
    // Her messages and the closed conversation, in order (profile updates
    // may come in between).
    let events: Vec<&str> = pending
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|e| *e != "customer_updated")
        .collect();
    assert_eq!(
        events,
        [
            "interaction_logged",
            "interaction_logged",
            "interaction_logged",
            "conversation_closed"
        ],
        "{view}"
    );
    assert_eq!(pending[0]["event"], "interaction_logged", "{view}");
    assert!(pending[0]["attempts"].as_u64().unwrap() >= 2, "{view}");
    assert_eq!(pending[0]["plugin"], "rest-crm");
    assert!(
        pending[0]["last_error"].as_str().unwrap().contains("503"),
        "{view}"
    );
    assert!(list(&view, "dead_letters").is_empty(), "{view}");

    // The CRM comes back: everything arrives.
    drain(&crm).await;
    crm_got(&crm, "the conversation's note", |r| {
        count(r, "POST", "/api/contacts/c1/notes") >= 1
    })
    .await;
    crm_view_until(&host, "nothing pending", |v| {
        list(v, "pending").is_empty() && list(v, "dead_letters").is_empty()
    })
    .await;
    let accepted = accepted(&crm.requests(), &queued);
    check_anns_record(&host, &accepted, &ann, &conversation).await;
}

#[tokio::test]
async fn events_waiting_for_a_crm_survive_a_restart_and_arrive_once() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    let queued = queue_contact_then_outage(&crm);
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let configure = |c: &mut Config| c.crm.max_attempts = 100_000;
    let host = TestHost::with_rest_crm(dir, &crm, &provider, false, configure).await;

    let (ann, conversation) = anns_conversation(&host, &crm).await;
    let waiting = list(&crm_view(&host).await, "pending").len();
    assert!(waiting >= 4, "{}", crm_view(&host).await);
    let dir = host.stop().await;
    let before_restart = crm.requests().len();
    assert_eq!(
        count(&crm.requests(), "POST", "/api/contacts/c1/notes"),
        0,
        "delivered before the restart"
    );

    // The CRM comes back while the host is down; the host comes back on
    // the same data directory.
    drain(&crm).await;
    let host = TestHost::with_rest_crm(dir, &crm, &provider, false, configure).await;
    crm_got(&crm, "the conversation's note", |r| {
        count(r, "POST", "/api/contacts/c1/notes") >= 1
    })
    .await;
    crm_view_until(&host, "nothing pending", |v| {
        list(v, "pending").is_empty() && list(v, "dead_letters").is_empty()
    })
    .await;
    // Nothing pending: whatever was sent twice has arrived by now.
    let requests = crm.requests();
    let after: Vec<Recorded> = requests[before_restart..]
        .iter()
        .filter(|r| r.uri != "/__drain")
        .cloned()
        .collect();
    assert_eq!(
        body(&after[0])["text"],
        "hi",
        "the restarted host started elsewhere:\n{}",
        describe(&after)
    );
    let accepted = accepted(&requests, &queued);
    check_anns_record(&host, &accepted, &ann, &conversation).await;
}

#[tokio::test]
async fn a_refused_event_is_dead_lettered_and_redriven_on_request() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    crm.respond_with(200, r#"{"contacts":[]}"#);
    crm.respond_with(200, r#"{"id":"c1"}"#);
    crm.respond_with(422, r#"{"error":"text is not allowed"}"#);
    let host = TestHost::with_rest_crm(
        Arc::new(tempfile::tempdir().unwrap()),
        &crm,
        &provider,
        false,
        |_| {},
    )
    .await;

    say(&host, "m1", "ann@example.com", "Ann", "hi").await;
    let ann = host.customer_id("email:ann@example.com").await;
    let view = crm_view_until(&host, "a dead letter", |v| {
        !list(v, "dead_letters").is_empty()
    })
    .await;
    let dead = list(&view, "dead_letters");
    assert_eq!(dead.len(), 1, "{view}");
    assert_eq!(dead[0]["plugin"], "rest-crm", "{view}");
    assert_eq!(dead[0]["customer_id"], ann.as_str(), "{view}");
    assert_eq!(dead[0]["event"], "interaction_logged", "{view}");
    assert_eq!(dead[0]["attempts"], 1, "retried: {view}");
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("422"),
        "{view}"
    );
    assert!(dead[0]["id"].is_string() && dead[0].get("next_at").is_some());

    // The customer's next events are not held up by it, and it is not
    // retried.
    say(&host, "m2", "ann@example.com", "Ann", "still there?").await;
    crm_got(&crm, "the second message", |r| {
        r.iter().any(|r| body(r)["text"] == "still there?")
    })
    .await;
    // Her next event delivered and nothing pending: the dead letter was
    // passed over, not yet to be retried.
    crm_view_until(&host, "nothing pending", |v| list(v, "pending").is_empty()).await;
    let hi = |r: &[Recorded]| r.iter().filter(|r| body(r)["text"] == "hi").count();
    assert_eq!(hi(&crm.requests()), 1, "{}", describe(&crm.requests()));
    assert_eq!(list(&crm_view(&host).await, "dead_letters").len(), 1);

    // Admins only: a supervisor may not look or redrive.
    let token = host
        .agent(
            "ana",
            json!({"name": "Ana", "capacity": {"chat": 2}, "role": "supervisor"}),
        )
        .await;
    let (status, _) = host
        .call("POST", "/api/crm/redrive", Some(&token), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = host.call("GET", "/api/crm", Some(&token), None).await;
    assert_eq!(status, 403);

    let (status, answer) = host.admin_post("/api/crm/redrive").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"redriven": 1}));
    crm_got(&crm, "the redriven message", |r| hi(r) == 2).await;
    crm_view_until(&host, "no dead letter", |v| {
        list(v, "dead_letters").is_empty() && list(v, "pending").is_empty()
    })
    .await;
    let redriven = crm
        .requests()
        .into_iter()
        .rfind(|r| body(r)["text"] == "hi")
        .unwrap();
    assert_eq!(redriven.uri, "/api/contacts/c1/activities");
}

/// Waits (20 s at most) until customer `id`'s profile satisfies `check`;
/// returns it.
async fn profile_until(host: &TestHost, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    host.admin_json_until(&format!("/api/customers/{id}"), "the profile", check)
        .await
}

#[tokio::test]
async fn enrichment_makes_a_vip_whom_vip_first_serves_before_an_older_task() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    let host = TestHost::with_rest_crm(
        Arc::new(tempfile::tempdir().unwrap()),
        &crm,
        &provider,
        true,
        |c| c.routing.router = "vip-first".into(),
    )
    .await;

    // Bob, a normal customer, writes first. The CRM has no contact for him
    // (its answers serve the search and the creation, in whichever order
    // the host asks).
    for _ in 0..3 {
        crm.respond_with(200, r#"{"contacts":[],"id":"c-bob"}"#);
    }
    say(&host, "b1", "bob@example.com", "Bob", "my order is late").await;
    let bob = host.customer_id("email:bob@example.com").await;
    profile_until(&host, &bob, |p| p["attributes"]["enriched_at"].is_string()).await;
    crm_view_until(&host, "Bob's events delivered", |v| {
        list(v, "pending").is_empty()
    })
    .await;

    // Then Ann, whom the CRM knows as a VIP.
    for _ in 0..6 {
        crm.respond_with(
            200,
            r#"{"contacts":[{"id":"c1","tier":"vip","owner":"Dana"}],"id":"c1"}"#,
        );
    }
    say(&host, "a1", "ann@example.com", "Ann", "I need help").await;
    let ann = host.customer_id("email:ann@example.com").await;
    let profile = profile_until(&host, &ann, |p| p["attributes"]["tier"] == "vip").await;
    assert_eq!(profile["attributes"]["account_owner"], "Dana", "{profile}");
    assert!(
        profile["attributes"]["enriched_at"].is_string(),
        "{profile}"
    );
    let search = crm
        .requests()
        .into_iter()
        .find(|r| r.uri == "/api/contacts?email=ann%40example.com")
        .expect("the CRM was asked about Ann");
    assert_eq!(
        search.header("authorization"),
        Some(format!("Bearer {CRM_TOKEN}").as_str())
    );
    let bobs = host.admin_json(&format!("/api/customers/{bob}")).await;
    assert!(bobs["attributes"].get("tier").is_none(), "{bobs}");

    // Both wait; Ann's task, the younger, now ranks first.
    host.admin_json_until("/api/queue", "Ann's task prioritized", |queue| {
        let priority = |customer: &str| {
            queue
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["customer_id"] == customer)
                .map(|t| t["priority"].as_u64().unwrap())
        };
        matches!((priority(&ann), priority(&bob)), (Some(a), Some(b)) if a > b)
    })
    .await;

    // One agent, room for one chat: Ann is served first.
    let token = host
        .agent("ana", json!({"name": "Ana", "capacity": {"chat": 1}}))
        .await;
    host.set_status("ana", &token, "available").await;
    let tasks = host
        .wait_tasks("ana", &token, |t| {
            t.iter().any(|t| t["state"] == "reserved")
        })
        .await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["customer_id"], ann.as_str(), "{tasks:?}");
}

#[tokio::test]
async fn the_partner_connector_builds_outside_the_workspace_and_hot_loads() {
    let built = build_example("partner-crm", "partner_crm");

    let acme = MockServer::start().await;
    let provider = MockServer::start().await;
    let api_base = format!("{}/v2", acme.url());
    let host = TestHost::with_channels(&provider, &[], |c| {
        let config = &mut c.plugins.entry("partner-crm".into()).or_default().config;
        config.insert("api_base".into(), api_base.into());
        config.insert("api_key".into(), "acme-key-123".into());
    })
    .await;
    host.install_channel(CHAT, "chat", Some(&provider), "")
        .await;

    // The partner's bundle, its grant pointed at the mock Acme API, dropped
    // into the running host's plugins directory.
    let manifest = granting(&example_manifest("partner-crm"), &acme);
    install(&host.plugins_dir(), "partner-crm", &manifest, &built);
    host.plugin_until("partner-crm", "active", |p| p["status"] == "active")
        .await;
    assert_eq!(host.plugin("partner-crm").await["kind"], "crm");

    say(&host, "z1", "zoe@example.com", "Zoe", "hello from Zoe").await;
    let zoe = host.customer_id("email:zoe@example.com").await;
    let events = |r: &[Recorded]| -> Vec<Value> {
        r.iter()
            .filter(|r| r.method == "POST" && r.uri == "/v2/switchboard/events")
            .map(body)
            .collect()
    };
    crm_got(&acme, "Zoe's message", |r| {
        events(r).iter().any(|e| e["event"] == "interaction_logged")
    })
    .await;
    let received = events(&acme.requests());
    assert_eq!(received[0]["event"], "customer_created", "{received:?}");
    assert_eq!(received[0]["customer"]["id"], zoe.as_str());
    assert_eq!(
        received[0]["customer"]["emails"],
        json!(["zoe@example.com"])
    );
    let message = received
        .iter()
        .find(|e| e["event"] == "interaction_logged")
        .unwrap();
    assert_eq!(message["message"]["text"], "hello from Zoe");
    assert_eq!(message["message"]["direction"], "inbound");
    for r in acme.requests() {
        assert_eq!(r.header("x-api-key"), Some("acme-key-123"), "{}", line(&r));
    }
}

#[tokio::test]
async fn an_internal_note_reaches_the_crm_as_a_note_and_the_customer_never() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    crm.respond_with(200, r#"{"contacts":[]}"#);
    crm.respond_with(200, r#"{"id":"c1"}"#);
    let host = TestHost::with_rest_crm(
        Arc::new(tempfile::tempdir().unwrap()),
        &crm,
        &provider,
        false,
        |_| {},
    )
    .await;
    say(&host, "m1", "ann@example.com", "Ann", "my parcel is late").await;
    let (token, task) = take_task(&host, "ana", json!({})).await;
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    let (status, note) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/notes"),
            Some(&token),
            Some(json!({"text": "Courier says Tuesday; refund if not"})),
        )
        .await;
    assert_eq!(status, 201, "{note}");
    crm_got(&crm, "the note", |r| {
        r.iter().any(|r| {
            r.method == "POST"
                && r.uri == "/api/contacts/c1/notes"
                && body(r)["body"] == "Courier says Tuesday; refund if not"
        })
    })
    .await;
    let posted = crm
        .requests()
        .into_iter()
        .find(|r| r.uri == "/api/contacts/c1/notes")
        .unwrap();
    let posted = body(&posted);
    assert_eq!(posted["internal"], true, "{posted}");
    assert_eq!(posted["title"], "Internal note by ana", "{posted}");
    assert_eq!(posted["conversation_id"], conversation.as_str());
    // Sent once, with its own idempotency key.
    assert_eq!(count(&crm.requests(), "POST", "/api/contacts/c1/notes"), 1);
    // Nothing of it went to the channel.
    assert!(
        provider
            .requests()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains("Courier says")),
        "a note reached the provider"
    );
}

#[tokio::test]
async fn an_erased_customer_s_contact_is_deleted_from_the_crm() {
    let crm = MockServer::start().await;
    let provider = MockServer::start().await;
    crm.respond_with(200, r#"{"contacts":[]}"#);
    crm.respond_with(200, r#"{"id":"c1"}"#);
    let host = TestHost::with_rest_crm(
        Arc::new(tempfile::tempdir().unwrap()),
        &crm,
        &provider,
        false,
        |_| {},
    )
    .await;
    say(&host, "m1", "ann@example.com", "Ann", "please forget me").await;
    let (token, task) = take_task(&host, "ana", json!({})).await;
    host.complete_task(&token, task["id"].as_str().unwrap(), None)
        .await;
    crm_got(&crm, "the closed conversation", |r| {
        count(r, "POST", "/api/contacts/c1/notes") == 1
    })
    .await;
    let id = host.customer_id("email:ann@example.com").await;
    let (status, erased) = host.erase_customer(&id).await;
    assert_eq!(status, 200, "{erased}");
    // `customer-erased` reaches rest-crm, which deletes the contact it
    // remembered for her.
    crm_got(&crm, "the contact's deletion", |r| {
        count(r, "DELETE", "/api/contacts/c1") == 1
    })
    .await;
    let view = crm_view_until(&host, "the erasure delivered", |v| {
        v["pending"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    assert!(list(&view, "dead_letters").is_empty(), "{view}");
}
