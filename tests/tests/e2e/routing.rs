//! Routing over real HTTP: capacity per channel kind (voice exclusive),
//! queue order by priority and age with SLA state, reservation timeouts,
//! wrap-up time (across a restart too), rejects, escalation, hot-swapped and
//! failing routers, `vip-first`, the customer's preferred agent, and the
//! dispatcher's decision for one task.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::{TestHost, install, test_message as msg, wait_past, wait_until, wasm};

/// Waits until plugin `name` runs the build of crate `package`.
async fn wait_for_version(host: &TestHost, name: &str, package: &str) {
    use sha2::Digest as _;
    let want = hex::encode(sha2::Sha256::digest(std::fs::read(wasm(package)).unwrap()));
    let runtime = host.server.runtime.clone();
    assert!(
        switchboard_tests::eventually(Duration::from_secs(10), || runtime
            .plugin(name)
            .is_some_and(|p| p.wasm_sha256.as_deref() == Some(want.as_str())))
        .await,
        "{name} never ran {package}"
    );
}

/// Accepts and completes task `id` as the agent holding `token`; returns
/// the completed task.
async fn serve(host: &TestHost, token: &str, id: &str) -> Value {
    host.accept_task(token, id).await;
    host.complete_task(token, id, None).await
}

#[tokio::test]
async fn capacity_is_enforced_per_kind_and_voice_is_exclusive() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    host.install_channel("phone", "voice", None, "").await;
    let ann = host
        .agent(
            "ann",
            json!({"name": "Ann", "capacity": {"chat": 2, "voice": 1}}),
        )
        .await;
    host.set_status("ann", &ann, "available").await;
    for i in 0..3 {
        host.inbound(
            "chat",
            msg(
                &format!("c{i}"),
                json!({"email": format!("c{i}@example.com")}),
                "hi",
            ),
        )
        .await;
    }
    let tasks = host.wait_tasks("ann", &ann, |t| t.len() == 2).await;
    host.wait_prioritized().await;
    assert_eq!(host.tasks_of("ann", &ann).await.len(), 2, "chat capacity 2");
    assert_eq!(host.queue().await.len(), 1);

    // A voice call waits while Ann holds chats (voice is exclusive).
    host.inbound("phone", msg("v1", json!({"phone": "+16505550000"}), "call"))
        .await;
    host.wait_prioritized().await;
    assert_eq!(host.queue().await.len(), 2);

    // Completing one chat frees capacity: the third chat (older than the
    // call, same priority) is offered.
    let first = tasks[0]["id"].as_str().unwrap();
    host.accept_task(&ann, first).await;
    let done = host
        .complete_task(&ann, first, Some(json!({"disposition": "resolved"})))
        .await;
    assert_eq!(done["state"], "completed");
    let tasks = host
        .wait_tasks("ann", &ann, |t| {
            t.len() == 2 && t.iter().all(|t| t["channel"] == "chat")
        })
        .await;
    assert_eq!(tasks.len(), 2);

    // Once every chat is done, the call is offered — and while Ann is on
    // it, no chat is.
    for t in &tasks {
        serve(&host, &ann, t["id"].as_str().unwrap()).await;
    }
    let tasks = host
        .wait_tasks("ann", &ann, |t| t.len() == 1 && t[0]["channel"] == "phone")
        .await;
    assert_eq!(tasks[0]["channel_kind"], "voice");
    host.inbound("chat", msg("c9", json!({"email": "c9@example.com"}), "hi"))
        .await;
    host.wait_prioritized().await;
    assert_eq!(
        host.tasks_of("ann", &ann).await.len(),
        1,
        "nothing joins a call"
    );
    host.stop().await;
}

#[tokio::test]
async fn queue_orders_by_priority_then_age_with_sla_state() {
    let host = TestHost::start(|c| {
        c.routing.priority.voice = 10;
        c.routing.sla_ms.chat = 100;
    })
    .await;
    host.install_channel("chat", "chat", None, "").await;
    host.install_channel("phone", "voice", None, "").await;
    host.inbound(
        "chat",
        msg("c1", json!({"email": "one@example.com"}), "first chat"),
    )
    .await;
    // The second chat is younger: stamped after the first.
    wait_past(host.queue().await[0]["created_at"].as_u64().unwrap()).await;
    host.inbound(
        "chat",
        msg("c2", json!({"email": "two@example.com"}), "second chat"),
    )
    .await;
    host.inbound("phone", msg("v1", json!({"phone": "+16505550001"}), "call"))
        .await;
    // Both chats past their 100 ms target, the older 250 ms old.
    host.admin_json_until("/api/stats", "a chat waiting 250 ms", |s| {
        s["channels"]["chat"]["oldest_wait_ms"]
            .as_u64()
            .is_some_and(|ms| ms >= 250)
    })
    .await;
    let q = host.queue().await;
    let order: Vec<&str> = q.iter().map(|t| t["channel"].as_str().unwrap()).collect();
    assert_eq!(order, ["phone", "chat", "chat"]);
    assert!(q[1]["created_at"].as_u64() <= q[2]["created_at"].as_u64());
    assert_eq!(q[0]["position"], 1);
    assert_eq!(q[1]["sla_state"], "breached", "{q:?}");
    assert_eq!(q[0]["sla_state"], "ok");

    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["channels"]["chat"]["waiting"], 2);
    assert_eq!(stats["channels"]["chat"]["breached_waiting"], 2);
    assert_eq!(stats["channels"]["chat"]["sla_pct"], 0.0);
    assert!(
        stats["channels"]["chat"]["oldest_wait_ms"]
            .as_u64()
            .unwrap()
            >= 250
    );
    assert_eq!(stats["channels"]["voice"]["waiting"], 1);
    assert_eq!(stats["channels"]["voice"]["sla_pct"], Value::Null);

    // An agent who takes one task at a time gets them in queue order.
    let bob = host
        .agent(
            "bob",
            json!({"name": "Bob", "capacity": {"chat": 1, "voice": 1}}),
        )
        .await;
    host.set_status("bob", &bob, "available").await;
    let mut served = Vec::new();
    for _ in 0..3 {
        let t = host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
        let id = t[0]["id"].as_str().unwrap().to_string();
        let (_, conv) = host
            .call(
                "GET",
                &format!(
                    "/api/conversations/{}",
                    t[0]["conversation_id"].as_str().unwrap()
                ),
                Some(&bob),
                None,
            )
            .await;
        served.push(conv["messages"][0]["text"].as_str().unwrap().to_string());
        serve(&host, &bob, &id).await;
    }
    assert_eq!(served, ["call", "first chat", "second chat"]);
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["channels"]["chat"]["handled"], 2);
    assert_eq!(stats["channels"]["chat"]["answered"], 2);
    assert_eq!(
        stats["channels"]["chat"]["sla_pct"], 0.0,
        "both chats waited past 100 ms"
    );
    assert!(stats["channels"]["chat"]["aht_ms"].is_u64());
    assert_eq!(stats["channels"]["voice"]["sla_pct"], 100.0);
    host.stop().await;
}

#[tokio::test]
async fn reservation_timeout_returns_the_task_and_sets_the_agent_away() {
    let host = TestHost::start(|c| c.routing.reservation_timeout_ms = 300).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    host.set_status("ann", &ann, "available").await;
    host.inbound("chat", msg("m", json!({"email": "x@example.com"}), "hello"))
        .await;
    let t = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    assert_eq!(t[0]["state"], "reserved");
    let q = host
        .admin_json_until("/api/queue", "the task returned", |q| {
            q.as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(q[0]["state"], "pending");
    assert_eq!(q[0]["agent_id"], Value::Null);
    let (_, agent) = host.call("GET", "/api/agents/ann", Some(&ann), None).await;
    assert_eq!(agent["status"], "away");
    assert!(host.tasks_of("ann", &ann).await.is_empty());
    // The lapsed reservation is no longer Ann's: accepting it answers like
    // any task that is not hers (404), and changes nothing.
    let id = t[0]["id"].as_str().unwrap();
    let (status, _) = host
        .call("POST", &format!("/api/tasks/{id}/accept"), Some(&ann), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(host.admin_get("/api/queue").await.1[0]["state"], "pending");
    host.stop().await;
}

#[tokio::test]
async fn wrap_up_time_holds_capacity_then_completes_the_task_even_across_a_restart() {
    fn configure(c: &mut switchboard::config::Config) {
        c.routing.wrap_up_ms.chat = 300;
    }
    let handled = async |host: &TestHost| {
        let (_, stats) = host.admin_get("/api/stats").await;
        stats["channels"]["chat"]["handled"].as_u64().unwrap()
    };
    let host = TestHost::start(configure).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"chat": 1}}))
        .await;
    host.set_status("ann", &ann, "available").await;

    // Live: the wrap-up holds Ann's one chat slot, then runs out.
    host.inbound("chat", msg("m1", json!({"email": "a@example.com"}), "one"))
        .await;
    let t = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    let first = t[0]["id"].as_str().unwrap().to_string();
    host.accept_task(&ann, &first).await;
    let wrapping = host.complete_task(&ann, &first, None).await;
    assert_eq!(wrapping["state"], "wrapping");
    host.inbound("chat", msg("m2", json!({"email": "b@example.com"}), "two"))
        .await;
    host.wait_prioritized().await;
    assert_eq!(host.queue().await.len(), 1, "wrap-up still holds the slot");
    assert_eq!(handled(&host).await, 0);
    let t = host
        .wait_tasks("ann", &ann, |t| {
            t.len() == 1 && t[0]["id"] != first.as_str()
        })
        .await;
    let second = t[0]["id"].as_str().unwrap().to_string();
    assert_eq!(handled(&host).await, 1, "the first task completed");

    // Across a restart: the wrap-up runs out while the host is down and is
    // finished when it comes back.
    host.accept_task(&ann, &second).await;
    let wrapping = host.complete_task(&ann, &second, None).await;
    assert_eq!(wrapping["state"], "wrapping");
    host.inbound(
        "chat",
        msg("m3", json!({"email": "c@example.com"}), "three"),
    )
    .await;
    host.wait_prioritized().await;
    assert_eq!(host.queue().await.len(), 1);
    let dir = host.stop().await;
    wait_past(wrapping["wrap_until"].as_u64().unwrap()).await;
    let host = TestHost::start_in(dir, configure).await;
    let t = host
        .wait_tasks("ann", &ann, |t| {
            t.len() == 1 && t[0]["id"] != first.as_str() && t[0]["id"] != second.as_str()
        })
        .await;
    assert_eq!(t[0]["state"], "reserved");
    assert_eq!(handled(&host).await, 2);
    host.stop().await;
}

#[tokio::test]
async fn rejected_task_is_offered_to_another_agent() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    let since = host.set_status("ann", &ann, "available").await["idle_since"].clone();
    // Bob becomes available later: Ann has been idle longer.
    wait_past(since.as_u64().unwrap()).await;
    host.set_status("bob", &bob, "available").await;
    host.inbound("chat", msg("m", json!({"email": "x@example.com"}), "hello"))
        .await;
    let t = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    let id = t[0]["id"].as_str().unwrap();
    let (status, body) = host
        .call("POST", &format!("/api/tasks/{id}/reject"), Some(&ann), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let t = host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
    assert_eq!(t[0]["id"], id);
    // Offered to Bob after the reject: the one task is his, Ann was passed
    // over.
    assert!(
        host.tasks_of("ann", &ann).await.is_empty(),
        "not offered back to Ann"
    );
    host.stop().await;
}

#[tokio::test]
async fn escalation_relaxes_required_skills_after_the_wait() {
    let host = TestHost::start(|c| {
        c.routing.escalate_after_ms = 400;
        c.routing.channel_skills.insert(
            "billing".into(),
            [("billing".to_string(), 5u8)].into_iter().collect(),
        );
    })
    .await;
    host.install_channel("billing", "chat", None, "").await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "skills": {"billing": 2}}))
        .await;
    host.set_status("ann", &ann, "available").await;
    host.inbound(
        "billing",
        msg("m", json!({"email": "x@example.com"}), "invoice?"),
    )
    .await;
    host.wait_prioritized().await;
    let q = host.queue().await;
    assert_eq!(q.len(), 1, "Ann's level 2 does not cover billing 5");
    assert_eq!(q[0]["skills"], json!([{"name": "billing", "min_level": 5}]));
    let t = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    assert_eq!(t[0]["escalated"], true);
    assert_eq!(t[0]["skills"], json!([]));
    host.stop().await;
}

#[tokio::test]
async fn hot_swapped_router_changes_decisions_and_failing_router_falls_back() {
    let host = TestHost::start(|c| c.routing.router = "policy".into()).await;
    let plugins = host.plugins_dir();
    install(
        &plugins,
        "policy",
        &switchboard_tests::first_party_manifest("testing/rogue-router")
            .replace("name = \"rogue-router\"", "name = \"policy\""),
        &wasm("rogue-router"),
    );
    host.install_channel("chat", "chat", None, "").await;
    let ann = host
        .agent("ann", json!({"name": "Ann", "capacity": {"chat": 5}}))
        .await;
    let bob = host
        .agent("bob", json!({"name": "Bob", "capacity": {"chat": 5}}))
        .await;
    let since = host.set_status("ann", &ann, "available").await["idle_since"].clone();
    // Bob becomes available later: Ann has been idle longer.
    wait_past(since.as_u64().unwrap()).await;
    host.set_status("bob", &bob, "available").await;
    let runtime = host.server.runtime.clone();
    assert!(
        switchboard_tests::eventually(Duration::from_secs(10), || runtime
            .plugin("policy")
            .is_some_and(|p| p.status == switchboard::runtime::PluginStatus::Active))
        .await
    );

    // rogue-router: always the highest agent number (Bob).
    host.inbound("chat", msg("m1", json!({"email": "a@example.com"}), "1"))
        .await;
    host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
    host.inbound("chat", msg("m2", json!({"email": "b@example.com"}), "2"))
        .await;
    host.wait_tasks("bob", &bob, |t| t.len() == 2).await;
    assert!(host.tasks_of("ann", &ann).await.is_empty());

    // Hot-load longest-idle under the same name: Ann (idle longest) is next.
    install(
        &plugins,
        "policy",
        &switchboard_tests::first_party_manifest("longest-idle")
            .replace("name = \"longest-idle\"", "name = \"policy\""),
        &wasm("longest-idle"),
    );
    wait_for_version(&host, "policy", "longest-idle").await;
    host.inbound("chat", msg("m3", json!({"email": "c@example.com"}), "3"))
        .await;
    host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    assert_eq!(host.tasks_of("bob", &bob).await.len(), 2);

    // A router that traps (rogue-router traps on channel `trap`): the
    // built-in policy decides and the fallback is counted.
    install(
        &plugins,
        "policy",
        &switchboard_tests::first_party_manifest("testing/rogue-router")
            .replace("name = \"rogue-router\"", "name = \"policy\""),
        &wasm("rogue-router"),
    );
    host.install_channel("trap", "chat", None, "").await;
    wait_for_version(&host, "policy", "rogue-router").await;
    for i in 0..3 {
        host.inbound(
            "trap",
            msg(
                &format!("t{i}"),
                json!({"email": format!("t{i}@example.com")}),
                "x",
            ),
        )
        .await;
    }
    wait_until(Duration::from_secs(10), "six tasks assigned", async || {
        host.tasks_of("ann", &ann).await.len() + host.tasks_of("bob", &bob).await.len() >= 6
    })
    .await;
    let stats = host.admin_json("/api/stats").await;
    assert!(
        stats["router"]["fallbacks"].as_u64().unwrap() >= 3,
        "{stats}"
    );
    assert!(host.queue().await.is_empty());
    host.stop().await;
}

async fn set_attribute(host: &TestHost, customer: &str, key: &str, value: &str) {
    let body = host.set_attributes(customer, json!({ key: value })).await;
    assert_eq!(body["attributes"][key], value);
}

#[tokio::test]
async fn vip_first_serves_vips_before_older_tasks_with_the_most_skilled_agent() {
    let host = TestHost::start(|c| {
        c.routing.router = "vip-first".into();
        c.routing.channel_skills.insert(
            "support".into(),
            [("support".to_string(), 1u8)].into_iter().collect(),
        );
    })
    .await;
    host.install_channel("support", "chat", None, "").await;
    // The VIP is known before their message arrives.
    host.inbound(
        "support",
        msg("v0", json!({"email": "vip@example.com"}), "earlier"),
    )
    .await;
    let vip = host.customer_id("email:vip@example.com").await;
    set_attribute(&host, &vip, "tier", "vip").await;
    // Ann serves that first conversation; then both agents step away.
    let ann = host
        .agent(
            "ann",
            json!({"name": "Ann", "skills": {"support": 2}, "capacity": {"chat": 1}}),
        )
        .await;
    let bob = host
        .agent(
            "bob",
            json!({"name": "Bob", "skills": {"support": 5}, "capacity": {"chat": 1}}),
        )
        .await;
    host.set_status("ann", &ann, "available").await;
    let first = host.wait_tasks("ann", &ann, |t| t.len() == 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    serve(&host, &ann, &first).await;
    host.set_status("ann", &ann, "away").await;

    // Two normal customers wait, then the VIP writes again.
    host.inbound(
        "support",
        msg("n1", json!({"email": "n1@example.com"}), "normal 1"),
    )
    .await;
    host.inbound(
        "support",
        msg("n2", json!({"email": "n2@example.com"}), "normal 2"),
    )
    .await;
    // The VIP's task is the youngest.
    let youngest = host
        .queue()
        .await
        .iter()
        .map(|t| t["created_at"].as_u64().unwrap())
        .max();
    wait_past(youngest.unwrap()).await;
    host.inbound(
        "support",
        msg("v1", json!({"email": "vip@example.com"}), "vip again"),
    )
    .await;
    host.wait_prioritized().await;
    let q = host.queue().await;
    assert_eq!(q.len(), 3);
    assert_eq!(
        q[0]["customer_id"],
        vip.as_str(),
        "the VIP jumps the queue: {q:?}"
    );
    assert!(q[0]["priority"].as_u64().unwrap() > q[1]["priority"].as_u64().unwrap());

    // Served in that order: Ann (alone) takes the VIP, then a normal task;
    // Bob takes the other.
    host.set_status("ann", &ann, "available").await;
    let t = host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    assert_eq!(t[0]["customer_id"], vip.as_str());
    serve(&host, &ann, t[0]["id"].as_str().unwrap()).await;
    let ann_task = host.wait_tasks("ann", &ann, |t| t.len() == 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    host.set_status("bob", &bob, "available").await;
    let bob_task = host.wait_tasks("bob", &bob, |t| t.len() == 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Ann finishes first: she is idle longer, and she served the VIP last.
    let done = serve(&host, &ann, &ann_task).await;
    wait_past(done["ended_at"].as_u64().unwrap()).await;
    serve(&host, &bob, &bob_task).await;

    // Longest-idle would pick Ann; vip-first picks the most skilled (Bob).
    host.inbound(
        "support",
        msg("v2", json!({"email": "vip@example.com"}), "vip once more"),
    )
    .await;
    let bobs = host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
    assert_eq!(bobs[0]["customer_id"], vip.as_str());
    assert_eq!(bobs[0]["preferred_agent"], "ann");
    assert!(host.tasks_of("ann", &ann).await.is_empty());
    host.stop().await;
}

#[tokio::test]
async fn the_customers_last_agent_is_preferred() {
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    let ann = host.agent("ann", json!({"name": "Ann"})).await;
    let bob = host.agent("bob", json!({"name": "Bob"})).await;
    host.set_status("bob", &bob, "available").await;
    host.inbound(
        "chat",
        msg("m1", json!({"email": "loyal@example.com"}), "hi"),
    )
    .await;
    let t = host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
    let id = t[0]["id"].as_str().unwrap();
    serve(&host, &bob, id).await;
    // Ann becomes available first (idle longer) — without the hint she
    // would get the next task.
    let since = host.set_status("ann", &ann, "available").await["idle_since"].clone();
    wait_past(since.as_u64().unwrap()).await;
    let customer = host
        .admin_json(&format!(
            "/api/customers/{}",
            t[0]["customer_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(customer["last_agent"], "bob");
    host.inbound(
        "chat",
        msg("m2", json!({"email": "loyal@example.com"}), "me again"),
    )
    .await;
    let next = host.wait_tasks("bob", &bob, |t| t.len() == 1).await;
    assert_eq!(next[0]["preferred_agent"], "bob");
    assert_ne!(next[0]["id"], id);
    assert!(host.tasks_of("ann", &ann).await.is_empty());
    // Someone else's message still goes to the longest idle (Ann).
    host.inbound(
        "chat",
        msg("m3", json!({"email": "new@example.com"}), "hello"),
    )
    .await;
    host.wait_tasks("ann", &ann, |t| t.len() == 1).await;
    host.stop().await;
}

/// The dispatcher's decision for one task, asked without acting on it (what
/// the `route_decision` benchmark measures): the plugin and the built-in
/// copy of its policy name the same agent — one who has the skill and
/// speaks the customer's language — asking changes nothing, and the
/// dispatcher then reserves the task for exactly that agent.
#[tokio::test]
async fn decision_for_matches_the_dispatcher_and_the_built_in_policy() {
    use switchboard::routing::TaskState;
    use switchboard::wit::routing::Decision;
    let mut chosen = Vec::new();
    for router in ["longest-idle", "built-in"] {
        let (routing, _store, _dir, task) =
            switchboard_tests::routing_with_waiting_chat(router, 40).await;
        let decision = routing.decision_for(&task).await;
        let Some(Decision::Assign(number)) = decision else {
            panic!("{router}: expected an assignment, got {decision:?}");
        };
        let agent = routing
            .agents()
            .into_iter()
            .find(|a| a.number == number)
            .expect("the decision names a known agent");
        assert!(agent.skills["billing"] >= 2, "{router}: {agent:?}");
        assert!(
            agent.languages.iter().any(|l| l == "en"),
            "{router}: {agent:?}"
        );
        assert_eq!(routing.task(&task).unwrap().state, TaskState::Pending);
        assert_eq!(routing.stats().router.fallbacks, 0, "{router} fell back");

        assert_eq!(routing.dispatch_round().await, 1);
        let reserved = routing.task(&task).unwrap();
        assert_eq!(reserved.state, TaskState::Reserved);
        assert_eq!(reserved.agent_id.as_deref(), Some(agent.id.as_str()));
        assert!(
            routing.decision_for(&task).await.is_none(),
            "a reserved task is not routed again"
        );
        chosen.push(agent.id);
    }
    assert_eq!(chosen[0], chosen[1], "plugin and built-in policy disagree");
}
