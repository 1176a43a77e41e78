//! The agents' and supervisors' JSON API (what the web UI uses) over real
//! HTTP: who a token is, roles and ownership, bad input, agent replies
//! through the outbox, live events and metrics, the queue's last hour, the
//! UI's own files, and what survives a restart.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::{ADMIN_TOKEN, MockServer, TestHost, test_message, wait_until};

fn msg(id: &str, email: &str, text: &str) -> Value {
    test_message(id, json!({"email": email}), text)
}

/// Ann holds one task (from ann-customer@example.com); Bob holds none; Sue
/// is a supervisor.
async fn floor(host: &TestHost) -> (String, String, String, Value) {
    host.install_channel("chat", "chat", None, "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    host.set_status("ann", &ann, "available").await;
    host.inbound("chat", msg("m1", "ann-customer@example.com", "hello"))
        .await;
    let task = host.wait_tasks("ann", &ann, |t| t.len() == 1).await[0].clone();
    (ann, bob, sue, task)
}

#[tokio::test]
async fn agents_see_only_their_own_work() {
    let host = TestHost::start(|_| {}).await;
    let (ann, bob, sue, task) = floor(&host).await;
    let id = task["id"].as_str().unwrap();
    let conversation = task["conversation_id"].as_str().unwrap();
    let customer = task["customer_id"].as_str().unwrap();

    let forbidden_for_bob = [
        ("GET", "/api/agents/ann/tasks".to_string(), None),
        ("GET", "/api/agents/ann".to_string(), None),
        (
            "POST",
            "/api/agents/ann/status".to_string(),
            Some(json!({"status": "offline"})),
        ),
        ("GET", "/api/queue".to_string(), None),
        ("GET", "/api/stats".to_string(), None),
        ("GET", "/api/agents".to_string(), None),
        (
            "PUT",
            "/api/agents/eve".to_string(),
            Some(json!({"name": "Eve"})),
        ),
        ("GET", "/api/plugins".to_string(), None),
        ("POST", "/api/plugins/chat/disable".to_string(), None),
        (
            "POST",
            format!("/api/customers/{customer}/merge"),
            Some(json!({"other": customer})),
        ),
    ];
    for (method, path, body) in &forbidden_for_bob {
        let (status, error) = host.call(method, path, Some(&bob), body.clone()).await;
        assert_eq!(status, 403, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "forbidden");
    }
    // A record that is not Bob's answers exactly like one that does not
    // exist, so sequential ids do not tell an agent what exists.
    let not_his = [
        ("GET", format!("/api/tasks/{id}"), None),
        ("POST", format!("/api/tasks/{id}/accept"), None),
        ("POST", format!("/api/tasks/{id}/reject"), None),
        ("POST", format!("/api/tasks/{id}/complete"), None),
        ("GET", format!("/api/conversations/{conversation}"), None),
        (
            "POST",
            format!("/api/conversations/{conversation}/messages"),
            Some(json!({"text": "hi"})),
        ),
        ("GET", format!("/api/customers/{customer}"), None),
        ("GET", format!("/api/customers/{customer}/timeline"), None),
    ];
    for (method, path, body) in &not_his {
        let (status, error) = host.call(method, path, Some(&bob), body.clone()).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
        assert_eq!(error["error"]["code"], "not_found", "{method} {path}");
        let missing = path
            .replace(&format!("/{id}"), "/999999")
            .replace(&format!("/{conversation}"), "/999999")
            .replace(&format!("/{customer}"), "/999999");
        let (status, absent) = host.call(method, &missing, Some(&bob), body.clone()).await;
        assert_eq!(status, 404, "{method} {missing}: {absent}");
        assert_eq!(
            absent["error"]["code"], error["error"]["code"],
            "{method} {path}"
        );
    }
    // An agent's look-up leaves out customers that are not its own.
    let (status, found) = host
        .call(
            "GET",
            "/api/customers?identity=email:ann-customer@example.com",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!((status, found), (200, json!([])));
    // Nothing Bob tried changed anything.
    assert_eq!(host.tasks_of("ann", &ann).await[0]["state"], "reserved");
    let (_, a) = host.call("GET", "/api/agents/ann", Some(&ann), None).await;
    assert_eq!(a["status"], "available");

    // Ann reads her own work; the supervisor reads everything.
    for token in [&ann, &sue] {
        for path in [
            "/api/agents/ann/tasks".to_string(),
            format!("/api/tasks/{id}"),
            format!("/api/conversations/{conversation}"),
            format!("/api/customers/{customer}"),
            format!("/api/customers/{customer}/timeline"),
        ] {
            let (status, body) = host.call("GET", &path, Some(token), None).await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    let (_, found) = host
        .call(
            "GET",
            "/api/customers?identity=email:ann-customer@example.com",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    for path in ["/api/queue", "/api/stats", "/api/agents"] {
        assert_eq!(
            host.call("GET", path, Some(&sue), None).await.0,
            200,
            "{path}"
        );
    }
    // Admin-only endpoints refuse supervisors too.
    assert_eq!(
        host.call("GET", "/api/plugins", Some(&sue), None).await.0,
        403
    );
    assert_eq!(
        host.call(
            "PUT",
            "/api/agents/eve",
            Some(&sue),
            Some(json!({"name": "Eve"}))
        )
        .await
        .0,
        403
    );
    // Only the reserved agent accepts: not even a supervisor.
    assert_eq!(
        host.call("POST", &format!("/api/tasks/{id}/accept"), Some(&sue), None)
            .await
            .0,
        403
    );
    // No token or an unknown one: 401.
    assert_eq!(host.call("GET", "/api/queue", None, None).await.0, 401);
    assert_eq!(
        host.call("GET", "/api/queue", Some("sb_agent_nope"), None)
            .await
            .0,
        401
    );
    host.stop().await;
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_changes_nothing() {
    let host = TestHost::start(|c| c.max_body_bytes = 4096).await;
    let (ann, _bob, _sue, task) = floor(&host).await;
    let id = task["id"].as_str().unwrap();
    let before_tasks = host.tasks_of("ann", &ann).await;
    let (_, before_agent) = host
        .call("GET", "/api/agents/ann", Some(ADMIN_TOKEN), None)
        .await;

    // Unknown ids: 404.
    for (method, path) in [
        ("POST", "/api/tasks/tsk_nope/accept"),
        ("POST", "/api/tasks/tsk_nope/complete"),
        ("GET", "/api/conversations/con_nope"),
        ("GET", "/api/customers/cus_nope"),
        ("GET", "/api/customers/cus_nope/timeline"),
        ("GET", "/api/agents/nobody/tasks"),
        ("POST", "/webhooks/no-such-channel"),
    ] {
        let (status, body) = host.call(method, path, Some(ADMIN_TOKEN), None).await;
        let (agent_status, _) = host.call(method, path, Some(&ann), None).await;
        assert!(
            status == 404 || agent_status == 404,
            "{method} {path}: {status} {body}"
        );
    }
    let (status, _) = host
        .call(
            "POST",
            "/api/agents/nobody/status",
            Some(ADMIN_TOKEN),
            Some(json!({"status": "away"})),
        )
        .await;
    assert_eq!(status, 404);

    // Wrong transitions: 409.
    let (status, body) = host
        .call(
            "POST",
            &format!("/api/tasks/{id}/complete"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, 409, "completing a reserved task: {body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(
        host.call("POST", &format!("/api/tasks/{id}/accept"), Some(&ann), None)
            .await
            .0,
        200
    );
    assert_eq!(
        host.call("POST", &format!("/api/tasks/{id}/accept"), Some(&ann), None)
            .await
            .0,
        409
    );
    assert_eq!(
        host.call("POST", &format!("/api/tasks/{id}/reject"), Some(&ann), None)
            .await
            .0,
        409
    );

    // Malformed JSON and schema violations: 400.
    let raw = |path: &str, body: &str| {
        host.client
            .post(host.url(path))
            .bearer_auth(&ann)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let r = raw("/api/agents/ann/status", "{not json").await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
    assert_eq!(
        raw("/api/agents/ann/status", r#"{"status":"sleeping"}"#)
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        raw(&format!("/api/tasks/{id}/complete"), "[1,")
            .await
            .unwrap()
            .status(),
        400
    );
    let (status, _) = host
        .call(
            "PUT",
            "/api/agents/ann",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "Ann", "skills": {"billing": 9}})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = host
        .call(
            "PUT",
            "/api/agents/bad%20id",
            Some(ADMIN_TOKEN),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = host
        .call(
            "GET",
            "/api/customers?identity=fax:123",
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 400);
    // A webhook the channel cannot parse: 400, nothing stored.
    let r = host
        .client
        .post(host.url("/webhooks/chat"))
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Oversized bodies: 413.
    let big = "x".repeat(8192);
    let r = host
        .client
        .post(host.url("/webhooks/chat"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    let (status, _) = host
        .call(
            "PUT",
            "/api/agents/ann",
            Some(ADMIN_TOKEN),
            Some(json!({"name": big})),
        )
        .await;
    assert_eq!(status, 413);

    // Nothing changed: Ann is as she was, her one task is now assigned (the
    // one valid accept), and no other message or task exists.
    let (_, after_agent) = host
        .call("GET", "/api/agents/ann", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(after_agent["name"], before_agent["name"]);
    assert_eq!(after_agent["skills"], before_agent["skills"]);
    let after_tasks = host.tasks_of("ann", &ann).await;
    assert_eq!(after_tasks.len(), before_tasks.len());
    assert_eq!(after_tasks[0]["state"], "assigned");
    let (_, q) = host
        .call("GET", "/api/queue", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(q, json!([]));
    let (_, timeline) = host
        .call(
            "GET",
            &format!(
                "/api/customers/{}/timeline",
                task["customer_id"].as_str().unwrap()
            ),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(timeline.as_array().unwrap().len(), 1);
    host.stop().await;
}

#[tokio::test]
async fn agent_replies_go_through_the_outbox_with_retries_and_status_updates() {
    let mock = MockServer::start().await;
    let host = TestHost::start(|c| {
        c.outbox.base_backoff_ms = 50;
        c.outbox.max_attempts = 3;
    })
    .await;
    host.install_channel("chat", "chat", Some(&mock), "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    host.set_status("ann", &ann, "available").await;
    host.inbound(
        "chat",
        msg("in-1", "Reply.Me@example.com", "where is my order?"),
    )
    .await;
    let task = host.wait_tasks("ann", &ann, |t| t.len() == 1).await[0].clone();
    let id = task["id"].as_str().unwrap();
    let conversation = task["conversation_id"].as_str().unwrap().to_string();
    host.call("POST", &format!("/api/tasks/{id}/accept"), Some(&ann), None)
        .await;

    // First try answers 503 (retryable), the second 200 with an id.
    mock.respond_with(503, r#"{"error":"busy"}"#);
    mock.respond_with(200, r#"{"id":"prov-1"}"#);
    let (status, sent) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/messages"),
            Some(&ann),
            Some(json!({"text": "On its way!"})),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    assert_eq!(sent["status"], "queued");
    assert_eq!(sent["direction"], "outbound");
    assert_eq!(sent["author"], "agent");
    let message_status = || async {
        let (_, c) = host
            .call(
                "GET",
                &format!("/api/conversations/{conversation}"),
                Some(&ann),
                None,
            )
            .await;
        c["messages"][1].clone()
    };
    wait_until(Duration::from_secs(10), "the reply sent", async || {
        message_status().await["status"] == "sent"
    })
    .await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "one retry after the 503");
    assert_eq!(requests[1].uri, "/messages");
    let body: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(body["text"], "On its way!");
    assert_eq!(body["to"], "reply.me@example.com");
    assert_eq!(body["in_reply_to"], "in-1");
    assert_eq!(message_status().await["provider_message_id"], "prov-1");

    // The provider reports delivery, then a late "sent" that must not undo it.
    let r = host.client.post(host.url("/webhooks/chat")).json(&json!({"statuses": [{"id": "prov-1", "status": "delivered"}, {"id": "prov-1", "status": "sent"}]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(message_status().await["status"], "delivered");

    // A permanent refusal (400) is not retried: dead letter, message failed.
    mock.respond_with(400, r#"{"error":"bad number"}"#);
    host.call(
        "POST",
        &format!("/api/conversations/{conversation}/messages"),
        Some(&ann),
        Some(json!({"text": "second"})),
    )
    .await;
    let outbox = host
        .admin_json_until("/api/outbox", "a dead letter", |o| {
            o["dead_letters"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(outbox["pending"], json!([]));
    assert_eq!(mock.requests().len(), 3, "no retry after a 400");
    let (_, c) = host
        .call(
            "GET",
            &format!("/api/conversations/{conversation}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(c["messages"][2]["status"], "failed");

    // Completing resolves the conversation: replies are refused (409) and
    // the customer's next message opens a new conversation and task.
    let (s, _) = host
        .call(
            "POST",
            &format!("/api/tasks/{id}/complete"),
            Some(&ann),
            Some(json!({"disposition": "answered"})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, c) = host
        .call(
            "GET",
            &format!("/api/conversations/{conversation}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(c["status"], "resolved");
    host.inbound("chat", msg("in-2", "reply.me@example.com", "thanks!"))
        .await;
    let next = host.wait_tasks("ann", &ann, |t| t.len() == 1).await[0].clone();
    assert_ne!(next["conversation_id"], conversation.as_str());
    assert_eq!(next["customer_id"], task["customer_id"]);
    host.stop().await;
}

#[tokio::test]
async fn events_stream_offers_to_the_agent_and_metrics_are_exported() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let mut events = host
        .client
        .get(host.url("/api/events"))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    host.set_status("ann", &ann, "available").await;
    host.inbound("chat", msg("m1", "sse@example.com", "hi"))
        .await;
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: task.reserved") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{seen}");
    assert!(seen.contains("\"agent_id\":\"ann\""));

    let text = host.metrics_text().await;
    for metric in [
        "switchboard_messages_received_total",
        "switchboard_tasks_created_total",
        "switchboard_queue_waiting",
        "switchboard_agents",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
    host.stop().await;
}

#[tokio::test]
async fn agents_tasks_and_customers_survive_a_restart() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "skills": {"billing": 3}}))
        .await;
    host.inbound("chat", msg("m1", "keep@example.com", "still here?"))
        .await;
    let dir = host.stop().await;

    let host = TestHost::start_in(dir, |_| {}).await;
    let (status, agent) = host.call("GET", "/api/agents/ann", Some(&ann), None).await;
    assert_eq!(status, 200, "the token still works");
    assert_eq!(agent["skills"]["billing"], 3);
    let (_, q) = host
        .call("GET", "/api/queue", Some(ADMIN_TOKEN), None)
        .await;
    assert_eq!(q.as_array().unwrap().len(), 1);
    host.set_status("ann", &ann, "available").await;
    let tasks = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    assert_eq!(tasks[0]["id"], q[0]["id"]);
    host.stop().await;
}

#[tokio::test]
async fn me_tells_the_role_behind_a_token() {
    let host = TestHost::start(|_| {}).await;
    let ana = host.agent("ana", json!({"name": "Ana"})).await;
    let sue = host
        .agent("sue", json!({"name": "Sue", "role": "supervisor"}))
        .await;
    let (status, me) = host.call("GET", "/api/me", Some(ADMIN_TOKEN), None).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")));
    assert!(me["agent"].is_null());
    let (_, me) = host.call("GET", "/api/me", Some(&ana), None).await;
    assert_eq!(me["role"], "agent");
    assert_eq!(me["agent"]["id"], "ana");
    assert_eq!(
        me["agent"]["capacity"]["email"], 5,
        "with default capacities"
    );
    let (_, me) = host.call("GET", "/api/me", Some(&sue), None).await;
    assert_eq!(me["role"], "supervisor");
    assert_eq!(me["agent"]["name"], "Sue");
    let (status, _) = host.call("GET", "/api/me", Some("nope"), None).await;
    assert_eq!(status, 401);
    let (status, _) = host.call("GET", "/api/me", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn stats_history_ends_with_the_queue_now() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    assert_eq!(
        host.inbound(
            "chat",
            json!({"id": "m1", "from": {"email": "a@b.c"}, "text": "hi"})
        )
        .await,
        200
    );
    // The sampler records one point at start, then every interval; the
    // answer always ends with the queue as it is now.
    let history = host
        .admin_json_until("/api/stats/history", "two points", |h| {
            h["points"].as_array().unwrap().len() >= 2
        })
        .await;
    assert_eq!(history["interval_ms"], 15_000);
    let points = history["points"].as_array().unwrap();
    let now = points.last().unwrap();
    assert_eq!(now["total"], 1);
    assert_eq!(now["waiting"]["chat"], 1);
    assert_eq!(now["waiting"]["voice"], 0);
    assert!(points[0]["at"].as_u64() <= now["at"].as_u64());
    let agent = host.agent("ana", json!({"name": "Ana"})).await;
    let (status, _) = host
        .call("GET", "/api/stats/history", Some(&agent), None)
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn the_ui_is_served_from_the_binary() {
    let host = TestHost::start(|_| {}).await;
    let page = host.client.get(host.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/ui/app.js"), "the page loads its script");
    let script = host
        .client
        .get(host.url("/ui/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status().as_u16(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let missing = host
        .client
        .get(host.url("/ui/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}
