//! The README's "Write a plugin" walkthrough, for real: build the example
//! router in `examples/least-loaded-router` (its own workspace, depending on
//! switchboard-sdk alone) with cargo, drop the bundle into a running host's
//! plugins directory, and use it — no restart.

use switchboard::wit::routing::Decision;
use switchboard_tests::*;

#[tokio::test]
async fn the_example_plugin_builds_outside_the_workspace_and_hot_loads() {
    let built = build_example("least-loaded-router", "least_loaded_router");

    let host = TestHost::start(|_| {}).await;
    let manifest = example_manifest("least-loaded-router");
    install(&host.plugins_dir(), "least-loaded", &manifest, &built);
    host.plugin_until("least-loaded", "active", |p| p["status"] == "active")
        .await;

    let (task, mut candidates) = sample_routing(4);
    // All four have the skill (levels 2-5, level 2 needed); agents 1 and 3
    // are free of work, and 3 has been idle longer.
    candidates.load = vec![0, 2, 0, 3];
    let decision = host
        .server
        .runtime
        .route_select("least-loaded", &task, &candidates)
        .await
        .unwrap();
    assert!(matches!(decision, Decision::Assign(3)), "{decision:?}");
}
