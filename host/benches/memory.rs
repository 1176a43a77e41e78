//! Memory and start-up against history: a load generator that drives the
//! release host (a separate process) through many complete task lives —
//! a signed WhatsApp message from a new customer, the offer, accept,
//! complete — and reports the host's RSS and start-up time at checkpoints
//! side by side. Finished tasks leave the routing state and the store's
//! page cache is bounded (`store_cache_mb`), so both should stay flat.
//!
//! ```text
//! cargo bench -p switchboard --bench memory                       # 100000,500000
//! cargo bench -p switchboard --bench memory -- --tasks 20000,60000 --workers 16
//! cargo bench -p switchboard --bench memory -- --customers 10000   # returning customers
//! ```
//!
//! At each checkpoint the generator waits for the host to go quiet, reads
//! its RSS (`/proc/<pid>/status`) and live-task count (`/api/stats`), then
//! restarts it twice — the first start after the run replays the store's
//! log, the second is a clean one — and times each (spawn to `/healthz`
//! answering), with the RSS after start and the database's size on disk.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const ADMIN: &str = "memory-bench-admin-token-0123456789";
const APP_SECRET: &str = "memory-bench-app-secret";

struct Options {
    checkpoints: Vec<u64>,
    workers: usize,
    /// Messages come from this many customers in turn (0: each from a new
    /// one).
    customers: u64,
}

fn options() -> Options {
    let mut o = Options {
        checkpoints: vec![100_000, 500_000],
        workers: 16,
        customers: 0,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--tasks" => {
                o.checkpoints = args[i + 1]
                    .split(',')
                    .map(|n| {
                        n.parse()
                            .expect("--tasks takes numbers, e.g. 100000,500000")
                    })
                    .collect();
                i += 1;
            }
            "--customers" => {
                o.customers = args[i + 1].parse().expect("--customers takes a number");
                i += 1;
            }
            "--workers" => {
                o.workers = args[i + 1].parse().expect("--workers takes a number");
                i += 1;
            }
            // cargo bench passes `--bench`.
            _ => {}
        }
        i += 1;
    }
    o
}

/// The host process and where it listens.
struct Host {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("switchboard.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        r#"listen = "127.0.0.1:{port}"
data_dir = "{data}"
admin_token = "{ADMIN}"

[plugins.whatsapp.config]
# Nothing is sent in this run; a closed port fails fast if anything were.
api_base = "http://127.0.0.1:9"
access_token = "memory-bench"
app_secret = "{APP_SECRET}"
verify_token = "memory-bench"
"#,
        data = dir.join("data").display()
    )
    .unwrap();
    path
}

/// Starts the host and waits until it answers; returns it and how long
/// that took.
async fn start(client: &reqwest::Client, config: &std::path::Path, port: u16) -> (Host, Duration) {
    let began = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the host");
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (Host { child, base }, began.elapsed())
}

fn stop(host: &mut Host) {
    // SIGTERM: a clean stop, as an operator restarts it.
    unsafe { libc::kill(host.child.id() as i32, libc::SIGTERM) };
    host.child.wait().unwrap();
}

fn rss_mib(host: &Host) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", host.child.id())).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("the host answers");
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

/// Message `n`, a signed WhatsApp text from customer `customer`.
fn webhook(n: u64, customer: u64) -> (Vec<u8>, String) {
    let wa_id = format!("1555{customer:08}");
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Customer"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": format!("wamid.bench{n}"), "timestamp": "1749416383",
                          "type": "text", "text": {"body": "Where is my order?"}}],
        }}]}],
    }))
    .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    (body, sig)
}

/// Time spent in each step of a task's life, µs, summed over workers:
/// the webhook, waiting for the offer, accepting, completing.
static STEPS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

fn took(step: usize, since: Instant) -> Instant {
    STEPS[step].fetch_add(since.elapsed().as_micros() as u64, Ordering::Relaxed);
    Instant::now()
}

/// One worker: an agent taking whatever task it is offered, start to
/// finish, and posting the next customer's message while any are left to
/// post; it stops once `done` reaches `until` (an offer may go to any
/// worker's agent, so all serve until the last task is completed).
async fn worker(
    client: reqwest::Client,
    base: String,
    agent: (String, String),
    (next, done): (Arc<AtomicU64>, Arc<AtomicU64>),
    (until, customers): (u64, u64),
) {
    let (id, token) = agent;
    loop {
        let mut at = Instant::now();
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n < until {
            let (body, sig) = webhook(n, if customers == 0 { n } else { n % customers });
            let r = client
                .post(format!("{base}/webhooks/whatsapp"))
                .header("content-type", "application/json")
                .header("x-hub-signature-256", sig)
                .body(body)
                .send()
                .await
                .expect("webhook answered");
            assert!(r.status().is_success(), "webhook {}", r.status());
            at = took(0, at);
        }
        // The dispatcher offers this agent a task (capacity 1).
        let task = loop {
            if done.load(Ordering::Relaxed) >= until {
                return;
            }
            let tasks = call(
                &client,
                reqwest::Method::GET,
                format!("{base}/api/agents/{id}/tasks"),
                &token,
                None,
            )
            .await;
            if let Some(t) = tasks.as_array().and_then(|t| t.first()) {
                break t["id"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        at = took(1, at);
        for (i, step) in ["accept", "complete"].into_iter().enumerate() {
            call(
                &client,
                reqwest::Method::POST,
                format!("{base}/api/tasks/{task}/{step}"),
                &token,
                Some(json!({})),
            )
            .await;
            at = took(2 + i, at);
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

struct Row {
    tasks: u64,
    rss_loaded: f64,
    live: u64,
    /// The first start after the run (the store replays its log) and a
    /// second, clean one.
    start: Duration,
    clean_start: Duration,
    rss_started: f64,
    db_mib: f64,
    rate: f64,
}

/// The size of the files under `dir`, MiB.
fn size_mib(dir: &std::path::Path) -> f64 {
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().unwrap();
        bytes += if meta.is_dir() {
            (size_mib(&entry.path()) * 1048576.0) as u64
        } else {
            meta.len()
        };
    }
    bytes as f64 / 1048576.0
}

#[tokio::main]
async fn main() {
    let o = options();
    // MEMORY_BENCH_DIR keeps the data directory for a look afterwards.
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("MEMORY_BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    std::fs::create_dir_all(dir).unwrap();
    let port = free_port();
    let config = write_config(dir, port);
    let client = reqwest::Client::new();
    let (mut host, first_start) = start(&client, &config, port).await;
    let idle = rss_mib(&host);
    let admin = |m, path: &str, body| {
        call(
            &client,
            m,
            format!("http://127.0.0.1:{port}{path}"),
            ADMIN,
            body,
        )
    };
    let mut agents = Vec::new();
    for i in 0..o.workers {
        let id = format!("bench{i}");
        let a = admin(
            reqwest::Method::PUT,
            &format!("/api/agents/{id}"),
            Some(json!({"name": id, "capacity": {"messaging": 1}})),
        )
        .await;
        agents.push((id, a["token"].as_str().unwrap().to_string()));
    }

    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let mut rows = Vec::new();
    for &checkpoint in &o.checkpoints {
        for (id, token) in &agents {
            call(
                &client,
                reqwest::Method::POST,
                format!("{}/api/agents/{id}/status", host.base),
                token,
                Some(json!({"status": "available"})),
            )
            .await;
        }
        let from = done.load(Ordering::Relaxed);
        let began = Instant::now();
        let mut running = Vec::new();
        for agent in &agents {
            running.push(tokio::spawn(worker(
                client.clone(),
                host.base.clone(),
                agent.clone(),
                (next.clone(), done.clone()),
                (checkpoint, o.customers),
            )));
        }
        let progress = {
            let done = done.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    eprintln!("  {} tasks", done.load(Ordering::Relaxed));
                }
            })
        };
        for r in running {
            r.await.unwrap();
        }
        progress.abort();
        next.store(checkpoint, Ordering::Relaxed);
        let rate = (checkpoint - from) as f64 / began.elapsed().as_secs_f64();
        // Let the last flushes and background work settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_loaded = rss_mib(&host);
        let stats = call(
            &client,
            reqwest::Method::GET,
            format!("{}/api/stats", host.base),
            ADMIN,
            None,
        )
        .await;
        let live = stats["live_tasks"].as_u64().unwrap_or(u64::MAX);
        stop(&mut host);
        let (mut h, start_time) = start(&client, &config, port).await;
        stop(&mut h);
        let (h, clean_start) = start(&client, &config, port).await;
        host = h;
        tokio::time::sleep(Duration::from_millis(500)).await;
        rows.push(Row {
            tasks: checkpoint,
            rss_loaded,
            live,
            start: start_time,
            clean_start,
            rss_started: rss_mib(&host),
            db_mib: size_mib(&dir.join("data").join("db")),
            rate,
        });
    }
    stop(&mut host);

    println!();
    println!(
        "fresh start: {:.0} ms, idle RSS {idle:.1} MiB; {} agents; {}",
        first_start.as_secs_f64() * 1000.0,
        o.workers,
        match o.customers {
            0 => "each message from a new customer".to_string(),
            n => format!("messages from {n} customers in turn"),
        }
    );
    println!(
        "| completed tasks | RSS after the run | live tasks | first restart | clean restart | RSS after restart | database | tasks/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} MiB | {} | {:.0} ms | {:.0} ms | {:.1} MiB | {:.0} MiB | {:.0} |",
            r.tasks,
            r.rss_loaded,
            r.live,
            r.start.as_secs_f64() * 1000.0,
            r.clean_start.as_secs_f64() * 1000.0,
            r.rss_started,
            r.db_mib,
            r.rate
        );
    }
    let total = *o.checkpoints.last().unwrap_or(&1) as f64;
    let [webhook, offer, accept, complete] = STEPS
        .each_ref()
        .map(|s| s.load(Ordering::Relaxed) as f64 / total / 1000.0);
    println!(
        "per task, ms: webhook {webhook:.1}, until offered {offer:.1}, accept {accept:.1}, complete {complete:.1}"
    );
    if let (Some(a), Some(b)) = (rows.first(), rows.last()) {
        println!(
            "RSS ratio last/first: {:.2}; clean restart ratio: {:.2}",
            b.rss_loaded / a.rss_loaded,
            b.clean_start.as_secs_f64() / a.clean_start.as_secs_f64()
        );
    }
}
