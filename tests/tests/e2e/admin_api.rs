//! The admin's API over real HTTP: first start on a fresh data directory
//! (every first-party plugin seeded and loaded; an admin's own plugins
//! directory never reseeded), the admin token, JSON errors, plugins
//! disabled, enabled and reloaded, broken bundles shown and refused while
//! the old version serves, bundle uploads, and restarts from the compile
//! cache.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use switchboard::bundled::BUNDLES;
use switchboard_tests::*;

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

/// What a seeded first-party plugin shows before the admin configures
/// anything: `rest-crm` needs its token; the rest take calls at once.
fn expected_status(plugin: &str) -> &'static str {
    if plugin == "rest-crm" {
        "unconfigured"
    } else {
        "active"
    }
}

#[tokio::test]
async fn a_fresh_data_dir_seeds_and_loads_every_first_party_plugin() {
    let host = TestHost::start(|_| {}).await;
    let (status, body) = host.admin_get("/api/plugins").await;
    assert_eq!(status, 200);
    let listed = body.as_array().unwrap();
    assert!(!BUNDLES.is_empty());
    assert_eq!(listed.len(), BUNDLES.len(), "{body}");
    for bundle in BUNDLES {
        let plugin = listed
            .iter()
            .find(|p| p["name"] == bundle.name)
            .unwrap_or_else(|| panic!("{} missing", bundle.name));
        let manifest: toml::Table = toml::from_str(bundle.manifest).unwrap();
        assert_eq!(plugin["status"], expected_status(bundle.name), "{plugin}");
        assert_eq!(plugin["version"], manifest["version"].as_str().unwrap());
        assert_eq!(plugin["kind"], manifest["kind"].as_str().unwrap());
        assert_eq!(plugin["error"], Value::Null);
        assert_eq!(plugin["calls"], 0);
        assert_eq!(plugin["failures"], 0);
        assert!(
            host.plugins_dir()
                .join(bundle.name)
                .join("plugin.wasm")
                .exists()
        );
    }
    for name in ["longest-idle", "round-robin"] {
        assert!(
            listed
                .iter()
                .any(|p| p["name"] == name && p["kind"] == "router"),
            "{name}"
        );
    }
    let (status, health) = (
        host.client
            .get(host.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        host.client
            .get(host.url("/healthz"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert_eq!(
        (status.as_u16(), health),
        (200, serde_json::json!({"status": "ok"}))
    );
    let crm = listed.iter().find(|p| p["name"] == "rest-crm").unwrap();
    assert_eq!(crm["missing_config"], json!(["token"]), "{crm}");
}

#[tokio::test]
async fn a_default_install_without_a_crm_queues_nothing_for_it() {
    let logs = LogCapture::default();
    let _guard = logs.install();
    let host = TestHost::start(|_| {}).await;
    host.install_channel("chat", "chat", None, "").await;
    for id in ["m1", "m2"] {
        let status = host
            .inbound(
                "chat",
                json!({"id": id, "from": {"email": "ann@example.com"}, "text": "hi"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let crm = host.admin_json("/api/crm").await;
    assert_eq!(crm, json!({"pending": [], "dead_letters": []}));
    // Nothing was asked of the unconfigured connector: not even a warning.
    assert_eq!(host.plugin("rest-crm").await["calls"], 0);
    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.to_lowercase().contains("crm"))
        .collect();
    assert!(warnings.is_empty(), "CRM warnings: {warnings:#?}");
}

#[tokio::test]
async fn admin_endpoints_require_the_admin_token() {
    let host = TestHost::start(|_| {}).await;
    let endpoints = [
        ("GET", "/api/plugins"),
        ("GET", "/api/runtime"),
        ("POST", "/api/plugins/longest-idle/reload"),
        ("POST", "/api/plugins/longest-idle/enable"),
        ("POST", "/api/plugins/longest-idle/disable"),
    ];
    for (method, path) in endpoints {
        let request = |token: Option<&str>| {
            let mut r = host.client.request(method.parse().unwrap(), host.url(path));
            if let Some(token) = token {
                r = r.bearer_auth(token);
            }
            r.send()
        };
        let response = request(None).await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "{method} {path} without a token"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");

        let response = request(Some("wrong-token")).await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "{method} {path} with a wrong token"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_token", "{body}");

        let response = host
            .client
            .request(method.parse().unwrap(), host.url(path))
            .header("authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "{method} {path} with basic auth"
        );
    }
    // Nothing was disabled by the refused requests.
    assert_eq!(host.plugin("longest-idle").await["status"], "active");
}

#[tokio::test]
async fn unknown_endpoints_and_plugins_get_json_errors() {
    let host = TestHost::start(|_| {}).await;
    let response = host.client.get(host.url("/nope")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let (status, body) = host.admin_post("/api/plugins/nope/reload").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let response = host
        .client
        .delete(host.url("/api/plugins"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
}

#[tokio::test]
async fn disable_enable_and_reload_through_the_api() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let host = TestHost::start_in(dir.clone(), |_| {}).await;
    let (status, body) = host.admin_post("/api/plugins/round-robin/disable").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("disabled")),
        "{body}"
    );
    let (task, candidates) = sample_routing(3);
    assert!(matches!(
        host.server
            .runtime
            .route_select("round-robin", &task, &candidates)
            .await,
        Err(switchboard::runtime::CallError::Disabled(_))
    ));
    let (status, _) = host.admin_post("/api/plugins/round-robin/reload").await;
    assert_eq!(status, 409, "reloading a disabled plugin is a conflict");

    // Remembered across a restart.
    let dir = host.stop().await;
    let host = TestHost::start_in(dir, |_| {}).await;
    assert_eq!(host.plugin("round-robin").await["status"], "disabled");
    let (status, body) = host.admin_post("/api/plugins/round-robin/enable").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("active")),
        "{body}"
    );
    host.server
        .runtime
        .route_select("round-robin", &task, &candidates)
        .await
        .unwrap();

    let (status, body) = host.admin_post("/api/plugins/round-robin/reload").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("active")),
        "{body}"
    );
}

#[tokio::test]
async fn reloading_a_broken_bundle_reports_it_and_keeps_the_old_version() {
    let host = TestHost::start(|c| c.runtime.watch = false).await;
    let wasm = host.plugins_dir().join("longest-idle/plugin.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let (status, body) = host.admin_post("/api/plugins/longest-idle/reload").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "load_failed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("longest-idle")
            && message.contains("plugin.wasm")
            && message.contains("core WebAssembly module"),
        "{message}"
    );
    let shown = host.plugin("longest-idle").await;
    assert_eq!(shown["status"], "active");
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("core WebAssembly module")
    );
    let (task, candidates) = sample_routing(3);
    host.server
        .runtime
        .route_select("longest-idle", &task, &candidates)
        .await
        .unwrap();
}

#[tokio::test]
async fn garbage_wasm_is_shown_in_the_api_and_a_good_file_goes_live() {
    let host = TestHost::start(|_| {}).await;
    let probe = host.plugins_dir().join("probe");
    install(
        &host.plugins_dir(),
        "probe",
        &misbehave_manifest("probe", "", 16, 500),
        &wasm("misbehave"),
    );
    // The new plugin directory is hot-loaded.
    host.plugin_until("probe", "active", |p| p["status"] == "active")
        .await;

    std::fs::write(
        probe.join("plugin.wasm"),
        [0xde, 0xad, 0xbe, 0xef].repeat(1000),
    )
    .unwrap();
    let shown = host
        .plugin_until("probe", "an error", |p| !p["error"].is_null())
        .await;
    assert_eq!(shown["status"], "active", "{shown}");
    assert!(
        shown["error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file"),
        "{shown}"
    );
    assert_eq!(
        webhook(&host.server.runtime, "probe", "/version")
            .await
            .unwrap(),
        (200, "v1".into())
    );

    std::fs::copy(wasm("misbehave-v2"), probe.join("plugin.wasm")).unwrap();
    wait_until(
        Duration::from_secs(10),
        "the good version live",
        async || {
            webhook(&host.server.runtime, "probe", "/version")
                .await
                .unwrap()
                .1
                == "v2"
        },
    )
    .await;
    let shown = host.plugin("probe").await;
    assert_eq!(
        (shown["status"].as_str(), &shown["error"]),
        (Some("active"), &Value::Null)
    );
}

#[tokio::test]
async fn a_restart_loads_plugins_from_the_compile_cache() {
    let host = TestHost::start(|_| {}).await;
    let (_, first) = host.admin_get("/api/runtime").await;
    assert_eq!(
        first["compiled"].as_u64().unwrap(),
        BUNDLES.len() as u64,
        "{first}"
    );
    assert_eq!(first["cache_hits"], 0, "{first}");

    let dir = host.stop().await;
    let host = TestHost::start_in(dir, |_| {}).await;
    let (_, second) = host.admin_get("/api/runtime").await;
    assert_eq!(second["compiled"], 0, "recompiled after restart: {second}");
    assert_eq!(
        second["cache_hits"].as_u64().unwrap(),
        BUNDLES.len() as u64,
        "{second}"
    );
    for bundle in BUNDLES {
        assert_eq!(
            host.plugin(bundle.name).await["status"],
            expected_status(bundle.name)
        );
    }
    // Cached code runs.
    let (task, candidates) = sample_routing(3);
    host.server
        .runtime
        .route_select("longest-idle", &task, &candidates)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admins_plugins_dir_is_never_reseeded() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    install(
        &plugins,
        "probe",
        &misbehave_manifest("probe", "", 16, 500),
        &wasm("misbehave"),
    );
    let host = TestHost::start_in(std::sync::Arc::new(dir), |_| {}).await;
    let (_, body) = host.admin_get("/api/plugins").await;
    let names: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["probe"]);
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
