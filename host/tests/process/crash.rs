//! Durability under `kill -9`: concurrent clients ingest through the test
//! channel plugin, the host is killed mid-stream and restarted on the same
//! data directory. Every message that got a 2xx is there exactly once, the
//! queued tasks are back and the expired reservations are returned.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{bundle, free_port, switchboard, wasm};

const ADMIN: &str = "crash-admin-token";
const CLIENTS: usize = 8;

fn start(data: &Path, port: u16) -> Child {
    switchboard()
        .arg("serve")
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .env("SWITCHBOARD_DATA_DIR", data)
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN)
        .env("SWITCHBOARD_RUNTIME__MAX_INSTANCES", "32")
        .env("SWITCHBOARD_RUNTIME__WATCH", "false")
        .env("SWITCHBOARD_ROUTING__RESERVATION_TIMEOUT_MS", "1500")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// [`wait_healthy`](super::wait_healthy) off the runtime's threads.
async fn wait_healthy(port: u16) {
    tokio::task::spawn_blocking(move || super::wait_healthy(port))
        .await
        .unwrap();
}

async fn call(
    client: &reqwest::Client,
    method: &str,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
    bundle(
        &plugins,
        "longest-idle",
        &std::fs::read_to_string(root.join("longest-idle/plugin.toml")).unwrap(),
        &wasm("longest-idle"),
    );
    bundle(
        &plugins,
        "chat",
        &std::fs::read_to_string(root.join("testing/test-channel/plugin.toml"))
            .unwrap()
            .replace("name = \"test-channel\"", "name = \"chat\""),
        &wasm("test-channel"),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut host = start(dir.path(), port);
    wait_healthy(port).await;
    let (status, agent) = call(
        &client,
        "PUT",
        format!("{base}/api/agents/ann"),
        ADMIN,
        Some(json!({"name": "Ann", "capacity": {"chat": 3}})),
    )
    .await;
    assert_eq!(status, 201, "{agent}");
    let ann = agent["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            &client,
            "POST",
            format!("{base}/api/agents/ann/status"),
            &ann,
            Some(json!({"status": "available"}))
        )
        .await
        .0,
        200
    );

    // Clients send until the host dies; each remembers what was acknowledged.
    let acked: Arc<Mutex<BTreeMap<usize, Vec<String>>>> = Arc::default();
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("c{k}-m{i}");
                let body = json!({"id": id, "from": {"email": format!("client{k}@example.com")}, "text": id});
                match client.post(format!("{base}/webhooks/chat")).json(&body).send().await {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().entry(k).or_default().push(id),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    // Let them run, then kill -9 mid-stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().values().map(Vec::len).sum::<usize>() < 200
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reserved_before = call(
        &client,
        "GET",
        format!("{base}/api/agents/ann/tasks"),
        &ann,
        None,
    )
    .await
    .1;
    host.kill().unwrap();
    host.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(
        total >= 200,
        "only {total} messages acknowledged before the kill"
    );
    assert_eq!(
        reserved_before.as_array().unwrap().len(),
        3,
        "{reserved_before}"
    );

    let mut host = start(dir.path(), port);
    wait_healthy(port).await;

    for (k, ids) in &acked {
        let (status, found) = call(
            &client,
            "GET",
            format!("{base}/api/customers?identity=email:client{k}@example.com"),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let customer = found[0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("client {k}'s customer is gone"));
        let (_, timeline) = call(
            &client,
            "GET",
            format!("{base}/api/customers/{customer}/timeline"),
            ADMIN,
            None,
        )
        .await;
        let texts: Vec<&str> = timeline
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        let unique: BTreeSet<&str> = texts.iter().copied().collect();
        assert_eq!(
            unique.len(),
            texts.len(),
            "client {k}: a message was stored twice"
        );
        for id in ids {
            assert!(
                unique.contains(id.as_str()),
                "client {k}: acknowledged {id} was lost"
            );
        }
    }

    // The reservations made before the kill expire and come back; Ann,
    // who never answered them, is set away. Every conversation's task waits.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, q) = call(&client, "GET", format!("{base}/api/queue"), ADMIN, None).await;
        let (_, a) = call(
            &client,
            "GET",
            format!("{base}/api/agents/ann"),
            ADMIN,
            None,
        )
        .await;
        if q.as_array().unwrap().len() == acked.len() && a["status"] == "away" {
            assert!(
                q.as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["state"] == "pending")
            );
            break;
        }
        assert!(Instant::now() < deadline, "queue never recovered: {q} {a}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.kill().unwrap();
    host.wait().unwrap();
}
