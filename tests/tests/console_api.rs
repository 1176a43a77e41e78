//! The endpoints behind the web UI: who a token is, the queue's last hour,
//! plugin bundle uploads, and the UI's own files.

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard_tests::{ADMIN_TOKEN, TestHost, first_party_manifest, wasm};

async fn upload(host: &TestHost, token: &str, body: Value) -> (u16, Value) {
    host.call("POST", "/api/plugins", Some(token), Some(body))
        .await
}

fn upload_body(manifest: &str, wasm_bytes: &[u8]) -> Value {
    json!({
        "manifest": manifest,
        "wasm_base64": base64::engine::general_purpose::STANDARD.encode(wasm_bytes),
    })
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
async fn an_uploaded_bundle_is_validated_then_installed_and_loaded() {
    let host = TestHost::start(|_| {}).await;
    let manifest =
        first_party_manifest("least-busy").replace("name = \"least-busy\"", "name = \"uploaded\"");
    let good = std::fs::read(wasm("least-busy")).unwrap();

    // Not an admin: 403, nothing written.
    let agent = host.agent("ana", json!({"name": "Ana"})).await;
    let (status, _) = upload(&host, &agent, upload_body(&manifest, &good)).await;
    assert_eq!(status, 403);

    // Broken bundles: 422 with the error, nothing written.
    let broken_cases = [
        (manifest.clone(), b"not a component".to_vec(), "uploaded"),
        (
            manifest.replace("kind = \"router\"", "kind = \"channel\""),
            good.clone(),
            "uploaded",
        ),
        (
            manifest.replace("name = \"uploaded\"", "name = \"../escape\""),
            good.clone(),
            "name",
        ),
        ("just text".to_string(), good.clone(), "name"),
    ];
    for (manifest, wasm_bytes, mentions) in broken_cases {
        let (status, body) = upload(&host, ADMIN_TOKEN, upload_body(&manifest, &wasm_bytes)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_bundle");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(mentions),
            "{body}"
        );
    }
    assert!(!host.plugins_dir().join("uploaded").exists());
    let (_, body) = upload(
        &host,
        ADMIN_TOKEN,
        upload_body(&manifest, b"not a component"),
    )
    .await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("plugin.wasm") && !message.contains("switchboard-upload"),
        "names the uploaded file, not where it was staged: {message}"
    );
    assert!(!host.plugins_dir().join("../escape").exists());
    let (status, _) = upload(
        &host,
        ADMIN_TOKEN,
        json!({"manifest": manifest, "wasm_base64": "***"}),
    )
    .await;
    assert_eq!(status, 400);

    // A good one: installed, loaded, and listed.
    let (status, info) = upload(&host, ADMIN_TOKEN, upload_body(&manifest, &good)).await;
    assert_eq!(status, 201, "{info}");
    assert_eq!(info["name"], "uploaded");
    assert_eq!(info["status"], "active");
    assert_eq!(info["kind"], "router");
    assert_eq!(
        std::fs::read(host.plugins_dir().join("uploaded/plugin.wasm")).unwrap(),
        good
    );
    assert_eq!(host.plugin("uploaded").await["status"], "active");
    // Uploading again replaces it: 200.
    let (status, _) = upload(&host, ADMIN_TOKEN, upload_body(&manifest, &good)).await;
    assert_eq!(status, 200);
    // A broken upload over it leaves the good version serving and on disk.
    let (status, _) = upload(&host, ADMIN_TOKEN, upload_body(&manifest, b"\0asm garbage")).await;
    assert_eq!(status, 422);
    assert_eq!(host.plugin("uploaded").await["status"], "active");
    assert_eq!(
        std::fs::read(host.plugins_dir().join("uploaded/plugin.wasm")).unwrap(),
        good
    );
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
