//! Hot reload: bundles swapped under load without a failed call, broken
//! versions that leave the old one serving, directories appearing and
//! disappearing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use switchboard::runtime::PluginStatus;
use switchboard_tests::*;

fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swapping_versions_under_load_fails_no_call() {
    let v1 = wasm("misbehave");
    let v2 = wasm("misbehave-v2");
    let (v1_sha, v2_sha) = (sha256_hex(&v1), sha256_hex(&v2));
    assert_ne!(v1_sha, v2_sha);
    let t = TestRuntime::new(
        &[(
            "probe",
            misbehave_manifest("probe", "", 16, 2_000),
            v1.clone(),
        )],
        |c| c.runtime.reload_debounce_ms = 50,
    )
    .await;
    let _watch = t.runtime.watch().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    // Calls made by each caller.
    let rounds: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let mut callers = Vec::new();
    for caller in 0..4 {
        let (runtime, stop, failures, calls, rounds) = (
            t.runtime.clone(),
            stop.clone(),
            failures.clone(),
            calls.clone(),
            rounds.clone(),
        );
        callers.push(tokio::spawn(async move {
            // Some calls take a few ms, so swaps land while calls are in flight.
            let path = if caller % 2 == 0 {
                "/version"
            } else {
                "/spin?ms=3"
            };
            let mut seen = Vec::new();
            while !stop.load(Ordering::Acquire) {
                match webhook(&runtime, "probe", path).await {
                    Ok((200, version)) => {
                        if seen.last() != Some(&version) {
                            seen.push(version);
                        }
                    }
                    other => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("call failed during reload: {other:?}");
                    }
                }
                calls.fetch_add(1, Ordering::Relaxed);
                rounds[caller].fetch_add(1, Ordering::Release);
            }
            seen
        }));
    }

    let target = t.plugins_dir().join("probe").join("plugin.wasm");
    for swap in 0..20 {
        let (file, sha) = if swap % 2 == 0 {
            (&v2, &v2_sha)
        } else {
            (&v1, &v1_sha)
        };
        // Overwritten in place, as `cp` does: the watcher may see a torn file
        // first, which must not disturb serving.
        std::fs::write(&target, std::fs::read(file).unwrap()).unwrap();
        let swapped = eventually(Duration::from_secs(20), || {
            info(&t.runtime, "probe").wasm_sha256.as_deref() == Some(sha.as_str())
        })
        .await;
        assert!(
            swapped,
            "swap {swap} never took effect: {:?}",
            info(&t.runtime, "probe")
        );
    }
    // Let the callers see the last version: each finishes a call begun after
    // the last swap (the one in flight then may have begun before it).
    let marks: Vec<u64> = rounds.iter().map(|r| r.load(Ordering::Acquire)).collect();
    assert!(
        eventually(Duration::from_secs(10), || rounds
            .iter()
            .zip(&marks)
            .all(|(r, mark)| r.load(Ordering::Acquire) >= mark + 2))
        .await,
        "a caller stopped calling"
    );
    stop.store(true, Ordering::Release);
    let mut changes = 0;
    for caller in callers {
        let seen = caller.await.unwrap();
        changes += seen.len().saturating_sub(1);
        assert!(
            seen.contains(&"v1".to_string()) && seen.contains(&"v2".to_string()),
            "{seen:?}"
        );
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "calls failed during reloads"
    );
    assert!(calls.load(Ordering::Relaxed) > 100);
    assert!(
        changes >= 20,
        "the answering version changed only {changes} times"
    );
    assert_eq!(info(&t.runtime, "probe").status, PluginStatus::Active);
}

#[tokio::test]
async fn a_broken_version_leaves_the_old_one_serving() {
    let t = TestRuntime::new(
        &[(
            "probe",
            misbehave_manifest("probe", "", 16, 500),
            wasm("misbehave"),
        )],
        |c| c.runtime.reload_debounce_ms = 50,
    )
    .await;
    let _watch = t.runtime.watch().unwrap();
    let dir = t.plugins_dir().join("probe");

    // Garbage bytes.
    std::fs::write(dir.join("plugin.wasm"), b"this is not wasm at all").unwrap();
    assert!(
        eventually(Duration::from_secs(10), || info(&t.runtime, "probe")
            .error
            .is_some())
        .await,
        "the broken file was never noticed"
    );
    let shown = info(&t.runtime, "probe");
    assert_eq!(shown.status, PluginStatus::Active);
    let error = shown.error.unwrap();
    assert!(
        error.contains("plugin.wasm") && error.contains("not a WebAssembly file"),
        "{error}"
    );
    assert_eq!(
        webhook(&t.runtime, "probe", "/version").await.unwrap(),
        (200, "v1".into())
    );

    // A component implementing another world (a router in a channel bundle).
    std::fs::copy(wasm("longest-idle"), dir.join("plugin.wasm")).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || info(&t.runtime, "probe")
            .error
            .is_some_and(
                |e| e.contains("does not implement the `channel` world")
            ))
        .await,
        "wrong world not reported: {:?}",
        info(&t.runtime, "probe")
    );
    assert_eq!(
        webhook(&t.runtime, "probe", "/version").await.unwrap(),
        (200, "v1".into())
    );

    // A bad manifest.
    std::fs::copy(wasm("misbehave"), dir.join("plugin.wasm")).unwrap();
    std::fs::write(
        dir.join("plugin.toml"),
        "name = \"probe\"\nversion = \"2.0.0\"\nkind = \"gadget\"\napi = \"0.2\"\n",
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || info(&t.runtime, "probe")
            .error
            .is_some_and(|e| e.contains("plugin.toml") && e.contains("gadget")))
        .await,
        "bad manifest not reported: {:?}",
        info(&t.runtime, "probe")
    );
    assert_eq!(
        webhook(&t.runtime, "probe", "/version").await.unwrap(),
        (200, "v1".into())
    );

    // A good version after all that goes live.
    std::fs::write(
        dir.join("plugin.toml"),
        misbehave_manifest("probe", "", 16, 500).replace("1.0.0", "2.0.0"),
    )
    .unwrap();
    std::fs::copy(wasm("misbehave-v2"), dir.join("plugin.wasm")).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || info(&t.runtime, "probe")
            .version
            .as_deref()
            == Some("2.0.0"))
        .await
    );
    let shown = info(&t.runtime, "probe");
    assert_eq!((shown.status, shown.error), (PluginStatus::Active, None));
    assert_eq!(
        webhook(&t.runtime, "probe", "/version").await.unwrap(),
        (200, "v2".into())
    );
}

#[tokio::test]
async fn directories_appearing_and_disappearing_load_and_unload() {
    let t = TestRuntime::new(&[], |c| c.runtime.reload_debounce_ms = 50).await;
    let _watch = t.runtime.watch().unwrap();
    assert!(t.runtime.plugins().is_empty());

    install(
        &t.plugins_dir(),
        "fresh",
        &misbehave_manifest("fresh", "", 16, 500),
        &wasm("misbehave"),
    );
    assert!(
        eventually(Duration::from_secs(10), || t
            .runtime
            .plugin("fresh")
            .is_some_and(|p| p.status == PluginStatus::Active))
        .await
    );
    assert_eq!(
        webhook(&t.runtime, "fresh", "/version").await.unwrap(),
        (200, "v1".into())
    );

    std::fs::remove_dir_all(t.plugins_dir().join("fresh")).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || t
            .runtime
            .plugin("fresh")
            .is_none())
        .await
    );
    assert!(matches!(
        webhook(&t.runtime, "fresh", "/version").await,
        Err(switchboard::runtime::CallError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_call_in_flight_finishes_on_the_version_it_started_with() {
    let t = TestRuntime::new(
        &[(
            "probe",
            misbehave_manifest("probe", "", 16, 5_000),
            wasm("misbehave"),
        )],
        |_| {},
    )
    .await;
    let runtime = t.runtime.clone();
    let mut slow = Box::pin(async move { webhook(&runtime, "probe", "/spin?ms=400").await });
    // In flight: its first poll takes the serving version (v1) and starts
    // the call; the rest runs in the background.
    let first = std::future::poll_fn(|cx| Poll::Ready(slow.as_mut().poll(cx))).await;
    let slow = tokio::spawn(async move {
        match first {
            Poll::Ready(done) => done,
            Poll::Pending => slow.await,
        }
    });
    std::fs::copy(
        wasm("misbehave-v2"),
        t.plugins_dir().join("probe/plugin.wasm"),
    )
    .unwrap();
    t.runtime.reload("probe").await.unwrap();
    assert_eq!(
        webhook(&t.runtime, "probe", "/version").await.unwrap(),
        (200, "v2".into())
    );
    assert_eq!(slow.await.unwrap().unwrap(), (200, "v1".into()));
}
