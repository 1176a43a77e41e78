//! Shared helpers for Switchboard's end-to-end tests: hosts on loopback with
//! a fresh data directory (and [`presets`] of them for each area), runtimes
//! over a temporary plugins directory, real compiled plugins, mock providers
//! that record what they receive, and waits on what the tests expect.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod channels;
pub mod presets;

use switchboard::config::Config;
use switchboard::runtime::{NoCustomers, PluginInfo, Runtime, RuntimeOptions};
use switchboard::server::Server;
use switchboard::store::Store;

/// The admin token every test host uses.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The compiled `.wasm` of a plugin crate in `plugins/` (e.g. `misbehave`,
/// `misbehave-v2`, `longest-idle`).
pub fn wasm(package: &str) -> PathBuf {
    let path =
        Path::new(env!("PLUGINS_WASM_DIR")).join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Builds an example plugin that lives outside the workspace
/// (`examples/<dir>`, its own Cargo workspace) for `wasm32-wasip2`, the way
/// a partner would, and returns the built `.wasm` (crate `artifact`).
pub fn build_example(dir: &str, artifact: &str) -> PathBuf {
    let example = example_dir(dir);
    let target_dir = Path::new(env!("SWITCHBOARD_WASM_TARGET_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(example.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building examples/{dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join(format!("wasm32-wasip2/release/{artifact}.wasm"))
}

/// The manifest of a first-party plugin in `plugins/<dir>/plugin.toml`.
pub fn first_party_manifest(dir: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins")
        .join(dir)
        .join("plugin.toml");
    std::fs::read_to_string(path).unwrap()
}

/// The manifest of an example plugin in `examples/<dir>/plugin.toml`.
pub fn example_manifest(dir: &str) -> String {
    std::fs::read_to_string(example_dir(dir).join("plugin.toml")).unwrap()
}

fn example_dir(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(dir)
}

/// A `misbehave` manifest named `name` with extra `[capabilities]` lines and
/// the given limits.
pub fn misbehave_manifest(
    name: &str,
    capabilities: &str,
    memory_mb: u32,
    timeout_ms: u64,
) -> String {
    format!(
        r#"name = "{name}"
version = "1.0.0"
kind = "channel"
api = "0.4"
description = "test plugin"

[capabilities]
{capabilities}

[limits]
memory_mb = {memory_mb}
timeout_ms = {timeout_ms}

[config]
greeting = "hello"
"#
    )
}

/// Writes a bundle (`plugin.toml` + `plugin.wasm`) into a plugins directory.
pub fn install(plugins_dir: &Path, name: &str, manifest: &str, wasm_file: &Path) {
    let dir = plugins_dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.toml"), manifest).unwrap();
    std::fs::copy(wasm_file, dir.join("plugin.wasm")).unwrap();
}

/// A config for tests: loopback on a free port, the given data directory, a
/// small instance pool, a fixed admin token and a short reload debounce.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        admin_token: Some(ADMIN_TOKEN.to_string()),
        ..Config::default()
    };
    config.runtime.max_instances = 64;
    config.runtime.reload_debounce_ms = 100;
    config
}

/// A runtime over its own temporary plugins directory and database, without
/// an HTTP server.
pub struct TestRuntime {
    /// The runtime.
    pub runtime: Runtime,
    /// Temporary data and plugins directories (removed on drop).
    pub dir: tempfile::TempDir,
}

impl TestRuntime {
    /// A runtime with `bundles` (name, manifest, wasm) installed and loaded,
    /// configured by `configure`.
    pub async fn new(
        bundles: &[(&str, String, PathBuf)],
        configure: impl FnOnce(&mut Config),
    ) -> TestRuntime {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        configure(&mut config);
        let plugins_dir = config.plugins_dir();
        std::fs::create_dir_all(&plugins_dir).unwrap();
        for (name, manifest, wasm) in bundles {
            install(&plugins_dir, name, manifest, wasm);
        }
        let store = Store::open(&dir.path().join("db")).unwrap();
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: dir.path().join("cache"),
            config: Arc::new(config),
            plugins_dir,
            store,
            customers: Arc::new(NoCustomers),
            files: None,
        })
        .unwrap();
        runtime.load_all().await;
        TestRuntime { runtime, dir }
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.runtime.plugins_dir().to_path_buf()
    }
}

/// Calls a `misbehave`-style channel plugin at `path` and returns the status
/// and body text, or the call error.
pub async fn webhook(
    runtime: &Runtime,
    plugin: &str,
    path: &str,
) -> Result<(u16, String), switchboard::runtime::CallError> {
    use switchboard::wit::types::HttpRequest;
    let request = HttpRequest {
        method: "POST".into(),
        path_with_query: format!("/webhooks/{plugin}{path}"),
        headers: vec![("content-type".into(), "text/plain".into())],
        body: b"ping".to_vec(),
    };
    match runtime.channel_webhook(plugin, &request).await? {
        Ok(outcome) => Ok((
            outcome.response.status,
            String::from_utf8_lossy(&outcome.response.body).into_owned(),
        )),
        Err(e) => Ok((0, format!("{:?}: {}", e.kind, e.message))),
    }
}

/// A small routing task and a set of candidates for router calls.
pub fn sample_routing(
    agents: u32,
) -> (
    switchboard::wit::routing::RouteTask,
    switchboard::wit::routing::Candidates,
) {
    use switchboard::wit::routing::{Candidates, RouteTask};
    use switchboard::wit::types::{ChannelKind, SkillRequirement};
    let task = RouteTask {
        id: "task-1".into(),
        channel: "webchat".into(),
        channel_kind: ChannelKind::Chat,
        priority: 3,
        age_ms: 1_000,
        skills: vec![SkillRequirement {
            name: "billing".into(),
            min_level: 2,
        }],
        language: None,
        preferred_agent: None,
        customer_attributes: Vec::new(),
        transfers: Vec::new(),
    };
    let candidates = Candidates {
        agents: (1..=agents).collect(),
        idle_ms: (1..=agents).map(|i| u64::from(i) * 1_000).collect(),
        load: vec![0; agents as usize],
        free: vec![2; agents as usize],
        skill_levels: (1..=agents).map(|i| (i % 5) as u8 + 1).collect(),
        speaks_language: vec![1; agents as usize],
    };
    (task, candidates)
}

/// Polls `check` every 20 ms until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the async `check` every 20 ms until it answers `Ok`, and returns
/// that; once `timeout` has passed, panics with its last `Err` (what it saw
/// instead).
pub async fn poll<T, E: std::fmt::Display>(
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the async `check` every 20 ms until it holds; panics naming
/// `what` once `timeout` has passed.
pub async fn wait_until(timeout: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    poll(timeout, async || {
        if check().await {
            Ok(())
        } else {
            Err(format!("waited {timeout:?} for {what}"))
        }
    })
    .await
}

/// Unix ms now, by the clock the host stamps its records with (the same
/// machine's).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits until the clock has passed `at` (unix ms: a task's `created_at`,
/// an agent's `idle_since`…), so that what happens next is stamped later.
/// For tests whose outcome depends on what is older or who was idle longer.
pub async fn wait_past(at: u64) {
    wait_until(
        Duration::from_secs(10),
        "the clock to move on",
        async || now_ms() > at,
    )
    .await
}

/// A message in the `test-channel` webhook's format.
pub fn test_message(id: &str, from: serde_json::Value, text: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "from": from, "text": text})
}

/// A plugin's admin view, by name.
pub fn info(runtime: &Runtime, name: &str) -> PluginInfo {
    runtime
        .plugin(name)
        .unwrap_or_else(|| panic!("plugin {name} is not installed"))
}

/// A host serving HTTP on loopback over a temporary data directory.
pub struct TestHost {
    /// The running server.
    pub server: Server,
    /// The data directory (kept when the host restarts).
    pub dir: Arc<tempfile::TempDir>,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// The config it started with (a restart starts with it again).
    pub config: Config,
}

impl TestHost {
    /// Starts a host on a fresh data directory.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> TestHost {
        Self::start_in(Arc::new(tempfile::tempdir().unwrap()), configure).await
    }

    /// Starts a host on an existing data directory.
    pub async fn start_in(
        dir: Arc<tempfile::TempDir>,
        configure: impl FnOnce(&mut Config),
    ) -> TestHost {
        let mut config = test_config(dir.path());
        configure(&mut config);
        let server = Server::start(config.clone()).await.expect("host starts");
        TestHost {
            server,
            dir,
            client: reqwest::Client::new(),
            config,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// The plugins directory.
    pub fn plugins_dir(&self) -> PathBuf {
        self.server.runtime.plugins_dir().to_path_buf()
    }

    /// `GET path` with the admin token; returns status and JSON body.
    pub async fn admin_get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call("GET", path, Some(ADMIN_TOKEN), None).await
    }

    /// `POST path` with the admin token; returns status and JSON body.
    pub async fn admin_post(&self, path: &str) -> (u16, serde_json::Value) {
        self.call("POST", path, Some(ADMIN_TOKEN), None).await
    }

    /// Polls `/api/plugins` (20 s at most) until `name`'s entry satisfies
    /// `check`; returns the entry. `what` names the awaited state.
    pub async fn plugin_until(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let plugins = self
            .admin_json_until("/api/plugins", &format!("{name} {what}"), |plugins| {
                plugins
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && check(p))
            })
            .await;
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    }

    /// The `/api/plugins` entry for `name`.
    pub async fn plugin(&self, name: &str) -> serde_json::Value {
        let (status, body) = self.admin_get("/api/plugins").await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Stops the host and starts it again on the same data directory with
    /// the same config (on a new port).
    pub async fn restart(self) -> TestHost {
        let config = self.config.clone();
        let dir = self.stop().await;
        TestHost::start_in(dir, move |c| *c = config).await
    }

    /// Stops the host, keeping its data directory.
    pub async fn stop(self) -> Arc<tempfile::TempDir> {
        self.server.shutdown().await.unwrap();
        self.dir
    }
}

/// A `test-channel` manifest: channel `kind`, replies to `api_base` (a
/// mock server, granted), and an optional webhook secret.
pub fn test_channel_manifest(
    name: &str,
    kind: &str,
    mock: Option<&MockServer>,
    secret: &str,
) -> String {
    let (grant, api_base) = match mock {
        Some(m) => (format!("[\"{}\"]", m.host_port()), m.url()),
        None => ("[]".to_string(), "http://127.0.0.1".to_string()),
    };
    format!(
        r#"name = "{name}"
version = "1.0.0"
kind = "channel"
api = "0.4"
description = "test channel"

[capabilities]
outbound_http = {grant}
kv = false
customers = "none"

[limits]
memory_mb = 16
timeout_ms = 1000

[config]
kind = "{kind}"
secret = "{secret}"
api_base = "{api_base}"
"#
    )
}

impl TestHost {
    /// Any request with a bearer token (or none) and an optional JSON body;
    /// returns status and JSON body (`null` when not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Installs `test-channel` as plugin `name` and waits until it is active.
    pub async fn install_channel(
        &self,
        name: &str,
        kind: &str,
        mock: Option<&MockServer>,
        secret: &str,
    ) {
        install(
            &self.plugins_dir(),
            name,
            &test_channel_manifest(name, kind, mock, secret),
            &wasm("test-channel"),
        );
        let runtime = self.server.runtime.clone();
        assert!(
            eventually(Duration::from_secs(20), || runtime
                .plugin(name)
                .is_some_and(
                    |p| p.status == switchboard::runtime::PluginStatus::Active
                ))
            .await,
            "channel {name} did not load: {:?}",
            self.server.runtime.plugin(name)
        );
    }

    /// `DELETE /api/customers/{id}` as the admin: status and body.
    pub async fn erase_customer(&self, id: &str) -> (u16, serde_json::Value) {
        self.call(
            "DELETE",
            &format!("/api/customers/{id}"),
            Some(ADMIN_TOKEN),
            None,
        )
        .await
    }

    /// Creates an agent; returns its token.
    pub async fn agent(&self, id: &str, body: serde_json::Value) -> String {
        let (status, agent) = self
            .call(
                "PUT",
                &format!("/api/agents/{id}"),
                Some(ADMIN_TOKEN),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{agent}");
        agent["token"].as_str().unwrap().to_string()
    }

    /// Sets an agent's status with its own token; returns the agent.
    pub async fn set_status(&self, id: &str, token: &str, status: &str) -> serde_json::Value {
        let (code, body) = self
            .call(
                "POST",
                &format!("/api/agents/{id}/status"),
                Some(token),
                Some(serde_json::json!({ "status": status })),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Posts a message to a test channel's webhook; returns the status.
    pub async fn inbound(&self, channel: &str, message: serde_json::Value) -> u16 {
        self.client
            .post(self.url(&format!("/webhooks/{channel}")))
            .json(&message)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The agent's current tasks.
    pub async fn tasks_of(&self, id: &str, token: &str) -> Vec<serde_json::Value> {
        let (status, body) = self
            .call("GET", &format!("/api/agents/{id}/tasks"), Some(token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }

    /// Polls the agent's tasks until `check` holds (10 s at most).
    pub async fn wait_tasks(
        &self,
        id: &str,
        token: &str,
        check: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        poll(Duration::from_secs(10), async || {
            let tasks = self.tasks_of(id, token).await;
            if check(&tasks) {
                Ok(tasks)
            } else {
                Err(format!("agent {id}'s tasks never matched; last: {tasks:?}"))
            }
        })
        .await
    }

    /// Waits (20 s at most) until the router has prioritized every waiting
    /// task. A dispatch round prioritizes the new tasks first and then
    /// offers the waiting ones, so after this the dispatcher has looked at
    /// every task now waiting: for checks that something is *not* offered,
    /// instead of a pause.
    pub async fn wait_prioritized(&self) {
        self.admin_json_until("/api/queue", "every waiting task prioritized", |q| {
            q.as_array()
                .unwrap()
                .iter()
                .all(|t| t["prioritized"] == true)
        })
        .await;
    }
}

/// One request a [`MockServer`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers (lower-case names).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A provider stand-in: a real HTTP server on 127.0.0.1 that records every
/// request and answers with queued responses (then 200 `{"ok":true}`).
pub struct MockServer {
    /// Its address.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    responses: Arc<Mutex<VecDeque<(u16, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Starts a mock server on a free port.
    pub async fn start() -> MockServer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responses = Arc::new(Mutex::new(VecDeque::new()));
        let (req, resp) = (requests.clone(), responses.clone());
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (req, resp) = (req.clone(), resp.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
                    .await
                    .unwrap_or_default();
                req.lock().unwrap().push(Recorded {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                        .collect(),
                    body: body.to_vec(),
                });
                let (status, body) = resp
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or((200, r#"{"ok":true}"#.to_string()));
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/json")],
                    body,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockServer {
            addr,
            requests,
            responses,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:<port>`, as a capability grant spells it.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues the next response.
    pub fn respond_with(&self, status: u16, body: &str) {
        self.responses
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Captures log output for assertions on what the host logged.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Installs a subscriber writing into this capture for the current
    /// thread, until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let capture = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || capture.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Routing cores driven directly, without HTTP.
mod routing_core {
    use super::*;
    use switchboard::customers::Customers;
    use switchboard::events::Events;
    use switchboard::routing::{AgentInput, AgentStatus, Kind, NewTask, Routing, Skill};
    use switchboard::store::Batch;

    /// A routing core over a fresh store and runtime (with the `longest-idle`
    /// plugin installed) with `agents` available agents made by `agent(i)`,
    /// using `router`. For tests and benchmarks that drive `Routing` directly.
    pub async fn routing_with_agents(
        router: &str,
        agents: usize,
        agent: impl Fn(usize) -> AgentInput,
    ) -> (Routing, Store, tempfile::TempDir, Arc<Customers>) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        config.routing.router = router.to_string();
        config.routing.escalate_after_ms = 0;
        let plugins_dir = config.plugins_dir();
        install(
            &plugins_dir,
            "longest-idle",
            &first_party_manifest("longest-idle"),
            &wasm("longest-idle"),
        );
        let store = Store::open(&dir.path().join("db")).unwrap();
        let runtime = Runtime::new(RuntimeOptions {
            cache_dir: dir.path().join("cache"),
            plugins_dir,
            store: store.clone(),
            customers: Arc::new(NoCustomers),
            files: None,
            config: Arc::new(config.clone()),
        })
        .unwrap();
        runtime.load_all().await;
        let customers = Arc::new(Customers::new(store.clone(), &config.customers).unwrap());
        let routing = Routing::new(
            store.clone(),
            runtime,
            customers.clone(),
            (config.routing.clone(), switchboard::hours::Hours::default()),
            Events::new(),
        )
        .unwrap();
        for i in 0..agents {
            let id = format!("agent-{i}");
            let mut input = agent(i);
            input.name = id.clone();
            routing.put_agent(&id, input).unwrap();
            routing
                .set_status(&id, AgentStatus::Available, &id)
                .unwrap();
        }
        (routing, store, dir, customers)
    }

    /// `agents` available agents with two skills at varied levels, a quarter
    /// of them speaking only Spanish, and one waiting English chat task that
    /// needs billing ≥ 2 from a customer with profile attributes; returns the
    /// task's id last.
    pub async fn routing_with_waiting_chat(
        router: &str,
        agents: usize,
    ) -> (Routing, Store, tempfile::TempDir, String) {
        let (routing, store, dir, customers) =
            routing_with_agents(router, agents, |i| AgentInput {
                name: String::new(),
                skills: [
                    ("billing".to_string(), (i % 5) as u8 + 1),
                    ("sales".to_string(), (i * 7 % 5) as u8 + 1),
                ]
                .into_iter()
                .collect(),
                languages: if i % 4 == 0 {
                    vec!["es".into()]
                } else {
                    vec!["en".into()]
                },
                capacity: [(Kind::Chat, 2)].into_iter().collect(),
                voice_endpoint: None,
                role: None,
            })
            .await;
        let identity = customers.normalizer().email("ana@example.com").unwrap();
        let resolved = customers
            .resolve(&[identity], &[], Some("Ana"), 1, &mut |_, _| Ok(()))
            .unwrap();
        customers
            .set_attributes(
                &resolved.customer.id,
                &[("tier", "gold"), ("plan", "pro"), ("region", "emea")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                2,
            )
            .unwrap();
        let mut batch = Batch::new();
        let task = routing
            .new_task(
                &mut batch,
                NewTask {
                    channel: "webchat".into(),
                    kind: Kind::Chat,
                    conversation_id: "con_1".into(),
                    customer_id: resolved.customer.id.clone(),
                    preferred_agent: None,
                    skills: vec![Skill {
                        name: "billing".into(),
                        min_level: 2,
                    }],
                    language: Some("en".into()),
                    priority: None,
                    reason: None,
                    summary: None,
                },
            )
            .unwrap();
        store.write(batch).unwrap();
        let id = task.id.clone();
        routing.enqueue(task);
        (routing, store, dir, id)
    }
}
pub use routing_core::{routing_with_agents, routing_with_waiting_chat};
