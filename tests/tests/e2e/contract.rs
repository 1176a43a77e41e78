//! The plugin contract's versions: real components built for the frozen
//! `switchboard:plugin@0.1`, `@0.2` and `@0.3` (`tests/fixtures/contract-v0.1/`,
//! `contract-v0.2/` and `contract-v0.3/`: a router, a channel, a bot and a
//! CRM connector built by each version's SDK) load and work beside current
//! (0.4) ones, through the host's adapters; a component whose imports
//! contradict its manifest's `api` is refused with a message naming both.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_tests::channels::{granting, requests};
use switchboard_tests::*;

/// A component of the fixtures of contract `version` (`0.1`, `0.2`, `0.3`).
fn fixture(version: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("fixtures/contract-v{version}"))
        .join(file)
}

/// A 0.1 component of the fixtures.
fn v0_1(file: &str) -> PathBuf {
    fixture("0.1", file)
}

/// A fixture's manifest, renamed `name`.
fn fixture_manifest(version: &str, fixture_name: &str, name: &str) -> String {
    let text = std::fs::read_to_string(fixture(version, &format!("{fixture_name}.toml"))).unwrap();
    let original = text.lines().next().unwrap().to_string();
    text.replacen(&original, &format!("name = \"{name}\""), 1)
}

/// A 0.1 fixture's manifest, renamed `name`.
fn v0_1_manifest(fixture_name: &str, name: &str) -> String {
    fixture_manifest("0.1", fixture_name, name)
}

/// Sets the plugin `name`'s config value `key`.
fn set(config: &mut switchboard::config::Config, name: &str, key: &str, value: &str) {
    config
        .plugins
        .entry(name.into())
        .or_default()
        .config
        .insert(key.into(), value.into());
}

#[tokio::test]
async fn components_built_for_0_1_load_and_work_beside_current_ones() {
    let (provider, acme) = (MockServer::start().await, MockServer::start().await);
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let plugins = test_config(dir.path()).plugins_dir();
    std::fs::create_dir_all(&plugins).unwrap();
    // 0.1: the routing policy, a chat channel, its bot, a CRM connector.
    install(
        &plugins,
        "old-router",
        &v0_1_manifest("longest-idle", "old-router"),
        &v0_1("longest_idle.wasm"),
    );
    let old_channel = test_channel_manifest("old", "chat", Some(&provider), "")
        .replace("api = \"0.4\"", "api = \"0.1\"");
    install(&plugins, "old", &old_channel, &v0_1("test_channel.wasm"));
    install(
        &plugins,
        "old-bot",
        &v0_1_manifest("faq-bot", "old-bot"),
        &v0_1("faq_bot.wasm"),
    );
    install(
        &plugins,
        "acme",
        &granting(&v0_1_manifest("partner-crm", "acme"), &acme),
        &v0_1("partner_crm.wasm"),
    );
    // 0.4: a chat channel beside them.
    install(
        &plugins,
        "chat",
        &test_channel_manifest("chat", "chat", Some(&provider), ""),
        &wasm("test-channel"),
    );
    let acme_url = acme.url();
    let host = TestHost::start_in(dir, move |c| {
        c.routing.router = "old-router".into();
        c.plugins.entry("old".into()).or_default().bot = Some("old-bot".into());
        set(c, "acme", "api_base", &acme_url);
        set(c, "acme", "api_key", "acme-key");
    })
    .await;
    for (name, api) in [
        ("old-router", "0.1"),
        ("old", "0.1"),
        ("old-bot", "0.1"),
        ("acme", "0.1"),
        ("chat", "0.4"),
    ] {
        let plugin = host.plugin(name).await;
        assert_eq!(plugin["status"], "active", "{plugin}");
        assert_eq!(plugin["api"], api, "{plugin}");
        // 0.1 is deprecated: the admin is told until when it loads.
        assert_eq!(
            plugin["deprecated"]
                .as_str()
                .is_some_and(|d| d.contains("until 2027-12-01")),
            api == "0.1",
            "{plugin}"
        );
    }

    // A customer known through the 0.4 channel.
    let status = host
        .inbound(
            "chat",
            json!({"id": "c1", "from": {"email": "ann@example.com"}, "text": "hi"}),
        )
        .await;
    assert_eq!(status, 200);
    let ann = host.customer_id("email:ann@example.com").await;

    // The 0.1 channel says nothing of trust and is no provider that signs:
    // the email it reports is a claim, which links nobody.
    let status = host
        .inbound(
            "old",
            json!({"id": "o1", "thread": "t-old", "from": {"email": "ann@example.com"},
                   "text": "how long does shipping take"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(host.customer_id("email:ann@example.com").await, ann);
    let visitor = host.customer_id("handle:old:t-old").await;
    assert_ne!(visitor, ann);
    let profile = host.admin_json(&format!("/api/customers/{visitor}")).await;
    assert_eq!(
        profile["claims"][0]["value"], "ann@example.com",
        "{profile}"
    );

    // The 0.1 bot answers, and the 0.1 channel delivers the answer.
    let sent = requests(&provider, 1).await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Orders ship within")),
        "{body}"
    );

    // Asked for a person, the bot hands off; the 0.1 router picks the agent.
    let token = host
        .agent("ann-agent", json!({"name": "Ann", "capacity": {"chat": 2}}))
        .await;
    host.set_status("ann-agent", &token, "available").await;
    let status = host
        .inbound(
            "old",
            json!({"id": "o2", "thread": "t-old", "from": {"email": "ann@example.com"},
                   "text": "agent please"}),
        )
        .await;
    assert_eq!(status, 200);
    let of_visitor = |tasks: &[Value]| tasks.iter().any(|t| t["customer_id"] == visitor);
    let tasks = host.wait_tasks("ann-agent", &token, of_visitor).await;
    for task in &tasks {
        assert_eq!(task["routed_by"], "old-router", "{task}");
    }
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["router"]["fallbacks"], 0, "{stats}");

    // The 0.1 CRM connector hears of it, and sees no claim as a fact.
    let events = poll(Duration::from_secs(20), async || {
        let got: Vec<Recorded> = acme
            .requests()
            .into_iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains(&visitor))
            .collect();
        (!got.is_empty())
            .then_some(got)
            .ok_or("the 0.1 CRM connector never got the visitor's events")
    })
    .await;
    for event in events {
        let text = String::from_utf8_lossy(&event.body);
        assert!(
            !text.contains("ann@example.com"),
            "a claim reached the CRM: {text}"
        );
    }
}

#[tokio::test]
async fn a_component_built_for_another_contract_than_its_manifest_is_refused() {
    let host = TestHost::start(|c| c.runtime.watch = false).await;
    let plugins = host.plugins_dir();
    let cases = [
        (
            "says-old",
            test_channel_manifest("says-old", "chat", None, "")
                .replace("api = \"0.4\"", "api = \"0.1\""),
            wasm("test-channel"),
            ("switchboard:plugin@0.4", "api = \"0.1\""),
        ),
        (
            "says-new",
            test_channel_manifest("says-new", "chat", None, ""),
            v0_1("test_channel.wasm"),
            ("switchboard:plugin@0.1", "api = \"0.4\""),
        ),
        (
            "says-newer",
            test_channel_manifest("says-newer", "chat", None, ""),
            fixture("0.2", "test_channel.wasm"),
            ("switchboard:plugin@0.2", "api = \"0.4\""),
        ),
        (
            "says-newest",
            test_channel_manifest("says-newest", "chat", None, ""),
            fixture("0.3", "test_channel.wasm"),
            ("switchboard:plugin@0.3", "api = \"0.4\""),
        ),
    ];
    for (name, manifest, wasm, (imports, says)) in cases {
        install(&plugins, name, &manifest, &wasm);
        let (status, body) = host
            .admin_post(&format!("/api/plugins/{name}/reload"))
            .await;
        assert_eq!(status, 422, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(imports) && message.contains(says),
            "{message}"
        );
        assert_eq!(host.plugin(name).await["status"], "failed");
    }
}

/// A host with the fixtures of contract `version`: its router routing, its
/// test channel `old` (replying to the returned provider mock) with its bot,
/// and its partner CRM `acme` (pointed at the returned CRM mock).
async fn host_with_fixtures(version: &str) -> (TestHost, MockServer, MockServer) {
    let (provider, acme) = (MockServer::start().await, MockServer::start().await);
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let plugins = test_config(dir.path()).plugins_dir();
    std::fs::create_dir_all(&plugins).unwrap();
    install(
        &plugins,
        "old-router",
        &fixture_manifest(version, "longest-idle", "old-router"),
        &fixture(version, "longest_idle.wasm"),
    );
    let old_channel = test_channel_manifest("old", "chat", Some(&provider), "")
        .replace("api = \"0.4\"", &format!("api = \"{version}\""));
    install(
        &plugins,
        "old",
        &old_channel,
        &fixture(version, "test_channel.wasm"),
    );
    install(
        &plugins,
        "old-bot",
        &fixture_manifest(version, "faq-bot", "old-bot"),
        &fixture(version, "faq_bot.wasm"),
    );
    install(
        &plugins,
        "acme",
        &granting(&fixture_manifest(version, "partner-crm", "acme"), &acme),
        &fixture(version, "partner_crm.wasm"),
    );
    let acme_url = acme.url();
    let host = TestHost::start_in(dir, move |c| {
        c.routing.router = "old-router".into();
        c.plugins.entry("old".into()).or_default().bot = Some("old-bot".into());
        set(c, "acme", "api_base", &acme_url);
        set(c, "acme", "api_key", "acme-key");
    })
    .await;
    for name in ["old-router", "old", "old-bot", "acme"] {
        let plugin = host.plugin(name).await;
        assert_eq!(plugin["status"], "active", "{plugin}");
        assert_eq!(plugin["api"], version, "{plugin}");
    }
    (host, provider, acme)
}

/// What every older version keeps doing: its bot answers through its
/// channel; handed off, its router picks the agent. Returns the agent's
/// token and the accepted task.
async fn old_components_serve_a_customer(
    host: &TestHost,
    provider: &MockServer,
) -> (String, Value) {
    let status = host
        .inbound(
            "old",
            json!({"id": "o1", "thread": "t-old", "from": {"email": "bo@example.com"},
                   "text": "how long does shipping take"}),
        )
        .await;
    assert_eq!(status, 200);
    let sent = requests(provider, 1).await;
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Orders ship within")),
        "{body}"
    );
    let token = host
        .agent("ann", json!({"name": "Ann", "capacity": {"chat": 2}}))
        .await;
    host.set_status("ann", &token, "available").await;
    let status = host
        .inbound(
            "old",
            json!({"id": "o2", "thread": "t-old", "from": {"email": "bo@example.com"},
                   "text": "agent please"}),
        )
        .await;
    assert_eq!(status, 200);
    let tasks = host
        .wait_tasks("ann", &token, |t| {
            t.iter().any(|t| t["state"] == "reserved")
        })
        .await;
    assert_eq!(tasks[0]["routed_by"], "old-router", "{tasks:?}");
    let task = host
        .accept_task(&token, tasks[0]["id"].as_str().unwrap())
        .await;
    (token, task)
}

/// Writes an internal note `text` on the task's conversation, then
/// completes the task and waits until the CRM mock heard it close.
async fn note_and_close(host: &TestHost, acme: &MockServer, token: &str, task: &Value, text: &str) {
    let conversation = task["conversation_id"].as_str().unwrap();
    let (status, _) = host
        .call(
            "POST",
            &format!("/api/conversations/{conversation}/notes"),
            Some(token),
            Some(json!({ "text": text })),
        )
        .await;
    assert_eq!(status, 201);
    host.complete_task(token, task["id"].as_str().unwrap(), None)
        .await;
    poll(Duration::from_secs(20), async || {
        acme.requests()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("conversation_closed"))
            .then_some(())
            .ok_or("the old CRM connector never heard the conversation close")
    })
    .await;
}

/// The Acme documents the CRM mock received, as text.
fn acme_bodies(acme: &MockServer) -> Vec<String> {
    acme.requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

#[tokio::test]
async fn components_built_for_0_2_load_and_work_beside_current_ones() {
    let (host, provider, acme) = host_with_fixtures("0.2").await;
    let (token, task) = old_components_serve_a_customer(&host, &provider).await;
    // A note is a 0.3 event: the 0.2 CRM connector is not sent it, and
    // keeps getting what it knows.
    note_and_close(&host, &acme, &token, &task, "VIP-NOTE-TEXT").await;
    assert!(
        acme_bodies(&acme)
            .iter()
            .all(|b| !b.contains("VIP-NOTE-TEXT")),
        "a note reached a 0.2 CRM connector"
    );
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["router"]["fallbacks"], 0, "{stats}");
    let crm = host.admin_json("/api/crm").await;
    assert_eq!(crm["dead_letters"], json!([]), "{crm}");
}

#[tokio::test]
async fn components_built_for_0_3_load_and_work_beside_current_ones() {
    let (host, provider, acme) = host_with_fixtures("0.3").await;
    let (token, task) = old_components_serve_a_customer(&host, &provider).await;
    // Notes are 0.3: the 0.3 connector gets them.
    note_and_close(&host, &acme, &token, &task, "VIP-NOTE-TEXT").await;
    assert!(
        acme_bodies(&acme)
            .iter()
            .any(|b| b.contains("VIP-NOTE-TEXT")),
        "the 0.3 CRM connector never got the note"
    );
    // An erasure is a 0.4 event: the 0.3 connector is not sent it, and
    // nothing is left failed in the queue.
    let id = host.customer_id("email:bo@example.com").await;
    let (status, erased) = host.erase_customer(&id).await;
    assert_eq!(status, 200, "{erased}");
    let crm = host
        .admin_json_until("/api/crm", "the erasure settled", |v| {
            v["pending"].as_array().is_some_and(Vec::is_empty)
        })
        .await;
    assert_eq!(crm["dead_letters"], json!([]), "{crm}");
    assert!(
        acme_bodies(&acme)
            .iter()
            .all(|b| !b.contains("customer_erased")),
        "a 0.3 connector cannot have been sent an erasure"
    );
    let stats = host.admin_json("/api/stats").await;
    assert_eq!(stats["router"]["fallbacks"], 0, "{stats}");
}
