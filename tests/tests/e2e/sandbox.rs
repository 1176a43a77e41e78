//! Failure isolation and capabilities: a plugin that loops, traps, exhausts
//! its memory, returns garbage or reaches for what it was not granted gets an
//! error for that call only; the host and other plugins keep serving.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchboard::runtime::{CallError, Fault, PluginStatus};
use switchboard_tests::*;

fn bundles(capabilities: &str) -> Vec<(&'static str, String, std::path::PathBuf)> {
    vec![
        (
            "misbehave",
            misbehave_manifest("misbehave", capabilities, 16, 300),
            wasm("misbehave"),
        ),
        (
            "longest-idle",
            first_party_manifest("longest-idle"),
            wasm("longest-idle"),
        ),
    ]
}

fn fault(result: Result<(u16, String), CallError>) -> Fault {
    match result {
        Err(CallError::Fault {
            fault,
            plugin,
            version,
        }) => {
            assert_eq!(plugin, "misbehave");
            assert_eq!(version, "1.0.0");
            fault
        }
        other => panic!("expected a plugin fault, got {other:?}"),
    }
}

/// The host stays healthy: the plugin still answers normal calls and the
/// other plugin still decides.
async fn assert_healthy(t: &TestRuntime) {
    assert_eq!(
        webhook(&t.runtime, "misbehave", "/version").await.unwrap(),
        (200, "v1".into())
    );
    let (task, candidates) = sample_routing(10);
    t.runtime
        .route_select("longest-idle", &task, &candidates)
        .await
        .unwrap();
}

// A current-thread runtime has a single worker: if a looping plugin held it,
// no other call could make progress until the deadline.
#[tokio::test(flavor = "current_thread")]
async fn infinite_loop_hits_its_deadline_while_other_plugins_keep_serving() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    let done = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let other = {
        let (runtime, done, completed) = (t.runtime.clone(), done.clone(), completed.clone());
        tokio::spawn(async move {
            let (task, candidates) = sample_routing(50);
            while !done.load(Ordering::Acquire) {
                runtime
                    .route_select("longest-idle", &task, &candidates)
                    .await
                    .unwrap();
                completed.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    // Let the other caller get going first.
    assert!(
        eventually(Duration::from_secs(10), || completed
            .load(Ordering::Relaxed)
            > 0)
        .await
    );
    let before = completed.load(Ordering::Relaxed);
    let started = Instant::now();
    let result = webhook(&t.runtime, "misbehave", "/loop").await;
    let elapsed = started.elapsed();
    let during = completed.load(Ordering::Relaxed) - before;
    done.store(true, Ordering::Release);
    other.await.unwrap();

    assert_eq!(fault(result), Fault::Timeout { ms: 300 });
    assert!(
        elapsed >= Duration::from_millis(300),
        "cut off early: {elapsed:?}"
    );
    // Generous margin: the deadline is enforced to the epoch tick (1 ms), the
    // rest is scheduling noise on a loaded CI machine.
    assert!(
        elapsed < Duration::from_millis(300 + 700),
        "cut off late: {elapsed:?}"
    );
    assert!(
        during >= 20,
        "only {during} calls to the other plugin completed during the loop"
    );
    assert_healthy(&t).await;
}

#[tokio::test]
async fn memory_bomb_is_stopped_at_the_limit() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    let result = webhook(&t.runtime, "misbehave", "/oom").await;
    assert_eq!(fault(result), Fault::MemoryLimit { mb: 16 });
    assert_healthy(&t).await;
}

#[tokio::test]
async fn trap_is_an_error_for_that_call_only() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    let result = webhook(&t.runtime, "misbehave", "/trap").await;
    match fault(result) {
        Fault::Trap(message) => assert!(message.contains("asked to trap"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_healthy(&t).await;
    let info = info(&t.runtime, "misbehave");
    assert_eq!(info.failures, 1);
    assert_eq!(info.status, PluginStatus::Active);
}

#[tokio::test]
async fn garbage_output_is_rejected() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    match fault(webhook(&t.runtime, "misbehave", "/garbage").await) {
        Fault::InvalidOutput(message) => assert!(message.contains("9999"), "{message}"),
        other => panic!("expected invalid output, got {other:?}"),
    }
    assert_healthy(&t).await;
    assert_eq!(info(&t.runtime, "misbehave").failures, 1);
}

#[tokio::test]
async fn plugin_reported_errors_reach_the_caller() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    let (status, body) = webhook(&t.runtime, "misbehave", "/reject").await.unwrap();
    assert_eq!(status, 0);
    assert!(
        body.contains("BadRequest") && body.contains("rejected on request"),
        "{body}"
    );
    // A bad request is the caller's fault, not the plugin's.
    assert_eq!(info(&t.runtime, "misbehave").failures, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn ungranted_outbound_host_is_denied_logged_and_never_contacted() {
    let mock = MockServer::start().await;
    let t = TestRuntime::new(&bundles("outbound_http = []"), |_| {}).await;
    let logs = LogCapture::default();
    let _guard = logs.install();

    let url = format!("{}/should-not-arrive", mock.url());
    let result = webhook(&t.runtime, "misbehave", &format!("/http?url={url}")).await;
    match fault(result) {
        Fault::CapabilityDenied(message) => {
            assert!(message.contains(&mock.host_port()), "{message}")
        }
        other => panic!("expected a capability denial, got {other:?}"),
    }
    assert!(
        mock.requests().is_empty(),
        "the request was made: {:?}",
        mock.requests()
    );
    let logged = logs.text();
    assert!(
        logged.contains("misbehave") && logged.contains("is not granted"),
        "not logged: {logged}"
    );
    assert_healthy(&t).await;
}

#[tokio::test]
async fn granted_outbound_host_is_reachable_and_grants_narrow_it() {
    let mock = MockServer::start().await;
    mock.respond_with(200, "pong");
    let caps = format!("outbound_http = [\"{}\"]", mock.host_port());
    let t = TestRuntime::new(&bundles(&caps), |_| {}).await;
    let url = format!("{}/hello?x=1", mock.url());
    let (status, body) = webhook(&t.runtime, "misbehave", &format!("/http?url={url}"))
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "200 pong"));
    let seen = mock.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/hello?x=1");

    // Declared, but the admin granted only another host: denied.
    let t = TestRuntime::new(&bundles(&caps), |c| {
        c.plugins
            .entry("misbehave".into())
            .or_default()
            .grants
            .outbound_http = Some(vec!["api.example.com".into()]);
    })
    .await;
    let result = webhook(&t.runtime, "misbehave", &format!("/http?url={url}")).await;
    assert!(matches!(fault(result), Fault::CapabilityDenied(_)));
    assert_eq!(mock.requests().len(), 1, "no second request");
}

#[tokio::test]
async fn ungranted_kv_fails_the_call() {
    let t = TestRuntime::new(&bundles("kv = false"), |_| {}).await;
    match fault(webhook(&t.runtime, "misbehave", "/kv").await) {
        Fault::CapabilityDenied(message) => assert!(message.contains("kv"), "{message}"),
        other => panic!("expected a capability denial, got {other:?}"),
    }
    assert_healthy(&t).await;

    // Declared but revoked by the admin: also denied.
    let t = TestRuntime::new(&bundles("kv = true"), |c| {
        c.plugins.entry("misbehave".into()).or_default().grants.kv = Some(false);
    })
    .await;
    assert!(matches!(
        fault(webhook(&t.runtime, "misbehave", "/kv").await),
        Fault::CapabilityDenied(_)
    ));
}

#[tokio::test]
async fn granted_kv_persists_across_calls_in_fresh_instances() {
    let t = TestRuntime::new(&bundles("kv = true"), |_| {}).await;
    for expected in 1..=3 {
        let (status, body) = webhook(&t.runtime, "misbehave", "/kv").await.unwrap();
        assert_eq!((status, body), (200, expected.to_string()));
    }
}

#[tokio::test]
async fn ungranted_customer_read_fails_the_call() {
    let t = TestRuntime::new(&bundles("customers = \"none\""), |_| {}).await;
    match fault(webhook(&t.runtime, "misbehave", "/customer?email=a@b.c").await) {
        Fault::CapabilityDenied(message) => assert!(message.contains("customers"), "{message}"),
        other => panic!("expected a capability denial, got {other:?}"),
    }
    let t = TestRuntime::new(&bundles("customers = \"read\""), |_| {}).await;
    let (status, body) = webhook(&t.runtime, "misbehave", "/customer?email=a@b.c")
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "none"));
}

#[tokio::test]
async fn repeated_failures_mark_failing_then_open_the_circuit_until_reload() {
    let t = TestRuntime::new(&bundles(""), |c| {
        c.runtime.failing_after = 2;
        c.runtime.circuit_open_after = 4;
    })
    .await;
    for _ in 0..2 {
        let _ = webhook(&t.runtime, "misbehave", "/trap").await;
    }
    assert_eq!(info(&t.runtime, "misbehave").status, PluginStatus::Failing);
    // Still serving while failing.
    assert_eq!(
        webhook(&t.runtime, "misbehave", "/version")
            .await
            .unwrap()
            .0,
        200
    );
    assert_eq!(info(&t.runtime, "misbehave").status, PluginStatus::Active);
    for _ in 0..4 {
        let _ = webhook(&t.runtime, "misbehave", "/trap").await;
    }
    let info_now = info(&t.runtime, "misbehave");
    assert_eq!(info_now.status, PluginStatus::CircuitOpen);
    assert!(info_now.error.unwrap().contains("asked to trap"));
    assert!(matches!(
        webhook(&t.runtime, "misbehave", "/version").await,
        Err(CallError::CircuitOpen { .. })
    ));
    // Other plugins are unaffected.
    let (task, candidates) = sample_routing(3);
    t.runtime
        .route_select("longest-idle", &task, &candidates)
        .await
        .unwrap();

    t.runtime.reload("misbehave").await.unwrap();
    assert_eq!(info(&t.runtime, "misbehave").status, PluginStatus::Active);
    assert_eq!(
        webhook(&t.runtime, "misbehave", "/version")
            .await
            .unwrap()
            .0,
        200
    );
}

#[tokio::test]
async fn router_assigning_a_non_candidate_is_a_fault() {
    let mut all = bundles("");
    all.push((
        "rogue-router",
        first_party_manifest("testing/rogue-router"),
        wasm("rogue-router"),
    ));
    let t = TestRuntime::new(&all, |_| {}).await;
    let (mut task, candidates) = sample_routing(5);
    task.channel = "stranger".into();
    match t
        .runtime
        .route_select("rogue-router", &task, &candidates)
        .await
    {
        Err(CallError::Fault {
            fault: Fault::InvalidOutput(message),
            ..
        }) => {
            assert!(message.contains("not a candidate"), "{message}")
        }
        other => panic!("expected invalid output, got {other:?}"),
    }
    let rogue = info(&t.runtime, "rogue-router");
    assert_eq!((rogue.calls, rogue.failures), (1, 1));
    // The same plugin answering sensibly is accepted.
    task.channel = "chat".into();
    let decision = t
        .runtime
        .route_select("rogue-router", &task, &candidates)
        .await
        .unwrap();
    assert!(matches!(
        decision,
        switchboard::wit::routing::Decision::Assign(5)
    ));
    assert_eq!(
        t.runtime
            .route_prioritize("rogue-router", &task)
            .await
            .unwrap(),
        103
    );
}

#[tokio::test]
async fn config_reaches_plugins_with_admin_overrides_and_json_for_non_strings() {
    let t = TestRuntime::new(&bundles(""), |c| {
        let settings = c.plugins.entry("misbehave".into()).or_default();
        settings
            .config
            .insert("api_base".into(), toml::Value::String("https://x".into()));
        settings
            .config
            .insert("retries".into(), toml::Value::Integer(3));
        let mut intents = toml::Table::new();
        intents.insert("hours".into(), toml::Value::String("9-5".into()));
        settings
            .config
            .insert("intents".into(), toml::Value::Table(intents));
    })
    .await;
    let get = |key: &'static str| {
        let runtime = t.runtime.clone();
        async move {
            webhook(&runtime, "misbehave", &format!("/config?key={key}"))
                .await
                .unwrap()
                .1
        }
    };
    assert_eq!(get("greeting").await, "hello");
    assert_eq!(get("api_base").await, "https://x");
    assert_eq!(get("retries").await, "3");
    assert_eq!(get("intents").await, r#"{"hours":"9-5"}"#);
    assert_eq!(get("missing").await, "<unset>");
}

#[tokio::test]
async fn admin_limits_only_lower_the_manifest() {
    let t = TestRuntime::new(&bundles(""), |c| {
        c.plugins
            .entry("misbehave".into())
            .or_default()
            .limits
            .timeout_ms = Some(100);
        c.runtime.max_memory_mb = 8;
    })
    .await;
    assert_eq!(
        fault(webhook(&t.runtime, "misbehave", "/loop").await),
        Fault::Timeout { ms: 100 }
    );
    assert_eq!(
        fault(webhook(&t.runtime, "misbehave", "/oom").await),
        Fault::MemoryLimit { mb: 8 }
    );
}

/// Routers run in warm instances: an instance whose call trapped or ran out
/// of time is dropped, and the next calls (concurrent ones included) get a
/// working instance.
#[tokio::test]
async fn warm_router_instances_survive_traps_and_timeouts_of_other_calls() {
    let mut all = bundles("");
    all.push((
        "rogue-router",
        first_party_manifest("testing/rogue-router"),
        wasm("rogue-router"),
    ));
    let t = TestRuntime::new(&all, |_| {}).await;
    let (mut task, candidates) = sample_routing(5);
    use switchboard::wit::routing::Decision;
    for bad in ["trap", "loop", "trap"] {
        task.channel = "chat".into();
        let ok = t
            .runtime
            .route_select("rogue-router", &task, &candidates)
            .await;
        assert!(matches!(ok, Ok(Decision::Assign(5))), "{ok:?}");
        task.channel = bad.into();
        let failed = t
            .runtime
            .route_select("rogue-router", &task, &candidates)
            .await;
        assert!(
            matches!(failed, Err(CallError::Fault { .. })),
            "{bad}: {failed:?}"
        );
    }
    task.channel = "chat".into();
    let mut handles = Vec::new();
    for _ in 0..16 {
        let (runtime, task, candidates) = (t.runtime.clone(), task.clone(), candidates.clone());
        handles.push(tokio::spawn(async move {
            runtime
                .route_select("rogue-router", &task, &candidates)
                .await
        }));
    }
    for handle in handles {
        let result = handle.await.unwrap();
        assert!(matches!(result, Ok(Decision::Assign(5))), "{result:?}");
    }
    let rogue = info(&t.runtime, "rogue-router");
    assert_eq!((rogue.calls, rogue.failures), (3 + 3 + 16, 3));
}

/// `misbehave` with extra `[limits]` lines and its key-value store.
fn limited(extra: &str) -> Vec<(&'static str, String, std::path::PathBuf)> {
    let mut bundles = bundles("kv = true");
    bundles[0].1 = bundles[0]
        .1
        .replace("[config]", &format!("{extra}\n\n[config]"));
    bundles
}

/// The plugin's `usage` and `limits` as `GET /api/plugins` shows them.
fn usage(t: &TestRuntime) -> (serde_json::Value, serde_json::Value) {
    let info = serde_json::to_value(info(&t.runtime, "misbehave")).unwrap();
    (info["usage"].clone(), info["limits"].clone())
}

#[tokio::test]
async fn a_full_key_value_store_fails_the_call_and_keeps_what_fit() {
    let t = TestRuntime::new(&limited("kv_keys = 5\nkv_bytes = 100000"), |_| {}).await;
    let got = fault(webhook(&t.runtime, "misbehave", "/kv-fill?n=20").await);
    assert!(
        matches!(&got, Fault::LimitExceeded(m) if m.contains("5 keys, the limit is 5")),
        "{got}"
    );
    let (used, limits) = usage(&t);
    assert_eq!(
        (used["kv_keys"].as_u64(), limits["kv_keys"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(used["kv_bytes"], 5 * (2 + 100));
    // Bytes too.
    let t = TestRuntime::new(&limited("kv_bytes = 250"), |_| {}).await;
    let got = fault(webhook(&t.runtime, "misbehave", "/kv-fill?n=3").await);
    assert!(
        matches!(&got, Fault::LimitExceeded(m) if m.contains("250")),
        "{got}"
    );
    assert_eq!(usage(&t).0["kv_keys"], 2);
    assert_healthy(&t).await;
}

#[tokio::test]
async fn log_lines_past_the_limits_are_dropped_and_counted() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let t = TestRuntime::new(&limited("log_lines = 3\nlog_line_bytes = 100"), |_| {}).await;
    assert_eq!(
        webhook(&t.runtime, "misbehave", "/log-flood?n=10")
            .await
            .unwrap(),
        (200, "logged".into())
    );
    assert_eq!(usage(&t).0["logs_dropped"], 7);
    let lines: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("yyyy"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().all(|l| l.matches('y').count() <= 100));
    assert_healthy(&t).await;
}

#[tokio::test]
async fn too_many_events_identities_or_bytes_fail_the_webhook() {
    let t = TestRuntime::new(
        &limited("events = 10\nidentities = 20\noutput_kb = 64"),
        |_| {},
    )
    .await;
    for (path, expected) in [
        ("/events?n=11", "reported 11 events; the limit is 10"),
        (
            "/identities?n=21",
            "reported 21 identities; the limit is 20",
        ),
        ("/big?kb=65", "the limit is 64 KiB"),
    ] {
        let got = fault(webhook(&t.runtime, "misbehave", path).await);
        assert!(
            matches!(&got, Fault::LimitExceeded(m) if m.contains(expected)),
            "{path}: {got}"
        );
    }
    // Just within them, all is well.
    for path in ["/events?n=10", "/identities?n=20", "/big?kb=60"] {
        assert_eq!(
            webhook(&t.runtime, "misbehave", path).await.unwrap().0,
            200,
            "{path}"
        );
    }
    assert_healthy(&t).await;
}

#[tokio::test]
async fn a_runaway_recursion_is_a_trap_of_that_call() {
    let t = TestRuntime::new(&bundles(""), |_| {}).await;
    let got = fault(webhook(&t.runtime, "misbehave", "/recurse").await);
    assert!(
        matches!(&got, Fault::Trap(m) if m.contains("stack")),
        "{got}"
    );
    assert_healthy(&t).await;
}

// Time blocked in the host (a guest's sleep waits on the host's clock; an
// outbound request waits on a server that never answers) counts against the
// deadline like spinning does, and waiting plugins hold no worker: on a
// single-threaded runtime another plugin keeps deciding meanwhile.
#[tokio::test(flavor = "current_thread")]
async fn time_blocked_in_host_calls_counts_against_the_deadline() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let t = TestRuntime::new(
        &bundles(&format!("outbound_http = [\"{address}\"]")),
        |_| {},
    )
    .await;
    let completed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let other = {
        let (runtime, done, completed) = (t.runtime.clone(), done.clone(), completed.clone());
        tokio::spawn(async move {
            let (task, candidates) = sample_routing(50);
            while !done.load(Ordering::Acquire) {
                runtime
                    .route_select("longest-idle", &task, &candidates)
                    .await
                    .unwrap();
                completed.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    for path in [
        "/sleep?ms=60000".to_string(),
        format!("/http?url=http://{address}/never"),
    ] {
        let before = completed.load(Ordering::Relaxed);
        let got = fault(webhook(&t.runtime, "misbehave", &path).await);
        assert!(matches!(got, Fault::Timeout { ms: 300 }), "{path}: {got}");
        assert!(
            completed.load(Ordering::Relaxed) > before,
            "{path}: the router made no decision while the plugin waited"
        );
    }
    done.store(true, Ordering::Release);
    other.await.unwrap();
    accepting.abort();
    assert_healthy(&t).await;
}
