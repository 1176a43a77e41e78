//! Core benchmarks (figures in the issues' closing notes):
//!
//! - `route_decision/{wasm,native}/{100,1000}`: one routing decision as the
//!   dispatcher makes it — candidates gathered from the agents' state, the
//!   customer's attributes read, the policy asked — through the
//!   `longest-idle` plugin (a warm instance) and through the same policy
//!   built into the host (`routing.router = "built-in"`), with 100 and
//!   1,000 available agents. Goal: wasm ≤ 2× native at 1,000.
//! - `router_call/{wasm,wasm-crossing-only,native}/{0,100,1000}`: the
//!   policy call alone on prepared candidate columns: the plugin through
//!   the runtime, a plugin that answers without reading the candidates
//!   (what crossing into the sandbox with them costs), and the policy as a
//!   plain function call.
//! - `assignments/{wasm,built-in}`: 10,000 queued tasks and 1,000 available
//!   agents (capacity 10 each); the time for the dispatcher to reserve all of
//!   them. Throughput is reported in tasks (assignments) per second.
//! - `dispatch_round/saturated`: one dispatch round with 10,000 messaging
//!   tasks waiting behind 1,000 agents who are all at their messaging
//!   capacity (what every event costs while a queue is backed up); the
//!   round must not walk the waiting tasks of a kind nobody can take.
//! - `durable_ingest/{group_commit,flush_each}`: 64 concurrent clients post
//!   messages to the test channel's webhook over loopback; each 2xx comes
//!   only after its writes are durable. Throughput in messages per second.
//! - `durable_writes/{group_commit,flush_each}`: the store alone — 64
//!   writers each applying ~0.5 KB batches and waiting for durability.
//!
//! Run with `cargo bench --bench core`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use switchboard::config::Config;
use switchboard::routing::{AgentInput, Kind, NewTask, Routing, policy};
use switchboard::store::{Batch, Durability, Store};
use switchboard_tests::*;

fn router_call(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tr = rt.block_on(TestRuntime::new(
        &[
            (
                "longest-idle",
                first_party_manifest("longest-idle"),
                wasm("longest-idle"),
            ),
            (
                "rogue-router",
                std::fs::read_to_string(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../plugins/testing/rogue-router/plugin.toml"),
                )
                .unwrap(),
                wasm("rogue-router"),
            ),
        ],
        |_| {},
    ));
    let mut group = c.benchmark_group("router_call");
    for agents in [0u32, 100, 1000] {
        let (task, candidates) = sample_routing(agents);
        // The same call to a policy that answers without reading the
        // candidates: what crossing into the plugin with them costs.
        let mut crossing = task.clone();
        crossing.channel = "wait".into();
        for (id, plugin, task) in [
            ("wasm", "longest-idle", &task),
            ("wasm-crossing-only", "rogue-router", &crossing),
        ] {
            group.bench_with_input(BenchmarkId::new(id, agents), &agents, |b, _| {
                // Calls in a loop inside the runtime, as the dispatcher
                // makes them (no `block_on` per call).
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(
                                tr.runtime
                                    .route_select(plugin, task, &candidates)
                                    .await
                                    .unwrap(),
                            );
                        }
                        start.elapsed()
                    })
                })
            });
        }
        group.bench_with_input(BenchmarkId::new("native", agents), &agents, |b, _| {
            b.iter(|| {
                policy::longest_idle(
                    std::hint::black_box(&task),
                    std::hint::black_box(&candidates),
                )
            })
        });
    }
    group.finish();
}

/// A routing core over a fresh store with 1,000 available agents.
async fn routing_core(router: &str) -> (Routing, Store, tempfile::TempDir) {
    let (routing, store, dir, _) = routing_with_agents(router, 1000, |_| AgentInput {
        name: String::new(),
        skills: Default::default(),
        languages: vec!["en".into()],
        capacity: [(Kind::Messaging, 10)].into_iter().collect(),
        voice_endpoint: None,
        role: None,
    })
    .await;
    (routing, store, dir)
}

/// The whole decision for one waiting chat task, as the dispatcher makes
/// it, with the plugin and with the built-in copy of the same policy.
fn route_decision(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("route_decision");
    for agents in [100usize, 1000] {
        let mut chosen = Vec::new();
        for (label, router) in [("wasm", "longest-idle"), ("native", "built-in")] {
            let (routing, _store, _dir, task) =
                rt.block_on(routing_with_waiting_chat(router, agents));
            let decision = rt.block_on(routing.decision_for(&task));
            assert!(
                matches!(
                    decision,
                    Some(switchboard::wit::routing::Decision::Assign(_))
                ),
                "{label}: {decision:?}"
            );
            chosen.push(format!("{decision:?}"));
            group.bench_with_input(BenchmarkId::new(label, agents), &agents, |b, _| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(routing.decision_for(&task).await);
                        }
                        start.elapsed()
                    })
                })
            });
            assert_eq!(
                routing.stats().router.fallbacks,
                0,
                "{label}: the router must not have fallen back"
            );
        }
        assert_eq!(
            chosen[0], chosen[1],
            "the plugin and the built-in policy disagree"
        );
    }
    group.finish();
}

fn enqueue(routing: &Routing, store: &Store, ids: std::ops::Range<usize>) {
    for i in ids {
        let mut batch = Batch::new();
        let task = routing
            .new_task(
                &mut batch,
                NewTask {
                    channel: "sms".into(),
                    kind: Kind::Messaging,
                    conversation_id: format!("con_{i}"),
                    customer_id: format!("cus_{i}"),
                    preferred_agent: None,
                    skills: Vec::new(),
                    language: None,
                    priority: None,
                    reason: None,
                    summary: None,
                },
            )
            .unwrap();
        store.write(batch).unwrap();
        routing.enqueue(task);
    }
}

fn assignments(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("assignments");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(10_000));
    group.measurement_time(Duration::from_secs(20));
    for router in ["longest-idle", "built-in"] {
        let label = if router == "built-in" {
            "built-in"
        } else {
            "wasm"
        };
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (routing, store, _dir) = routing_core(router).await;
                        enqueue(&routing, &store, 0..10_000);
                        let start = Instant::now();
                        let mut reserved = 0;
                        while reserved < 10_000 {
                            let n = routing.dispatch_round().await;
                            assert!(n > 0, "dispatch stalled at {reserved}");
                            reserved += n;
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

/// A dispatch round while every agent is at capacity and 10,000 tasks wait.
fn dispatch_round(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (routing, store, _dir) = rt.block_on(async {
        let (routing, store, dir) = routing_core("longest-idle").await;
        // Fill every agent (1,000 × messaging 10) and have them accept, so
        // no reservation expires while the benchmark runs.
        enqueue(&routing, &store, 0..10_000);
        let mut reserved = 0;
        while reserved < 10_000 {
            let n = routing.dispatch_round().await;
            assert!(n > 0, "dispatch stalled at {reserved}");
            reserved += n;
        }
        for agent in routing.agents() {
            for task in routing.agent_tasks(&agent.id).unwrap() {
                routing.accept(&task.id, &agent.id).unwrap();
            }
        }
        enqueue(&routing, &store, 10_000..20_000);
        assert_eq!(routing.dispatch_round().await, 0, "nobody should be free");
        (routing, store, dir)
    });
    assert_eq!(routing.queue().len(), 10_000);
    let mut group = c.benchmark_group("dispatch_round");
    group.bench_function("saturated", |b| {
        b.iter(|| assert_eq!(rt.block_on(routing.dispatch_round()), 0))
    });
    group.finish();
    drop(store);
}

fn durable_ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("durable_ingest");
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 8;
    group
        .sample_size(10)
        .throughput(Throughput::Elements((CLIENTS * PER_CLIENT) as u64));
    for durability in [Durability::GroupCommit, Durability::FlushEach] {
        let label = match durability {
            Durability::GroupCommit => "group_commit",
            Durability::FlushEach => "flush_each",
        };
        let host = rt.block_on(async {
            let host = TestHost::start(|c: &mut Config| {
                c.durability = durability;
                c.routing.router = "built-in".into();
            })
            .await;
            host.install_channel("chat", "messaging", None, "").await;
            host
        });
        let host = Arc::new(host);
        let mut round = 0u64;
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        round += 1;
                        let mut clients = Vec::new();
                        for k in 0..CLIENTS {
                            let host = host.clone();
                            clients.push(tokio::spawn(async move {
                                for i in 0..PER_CLIENT {
                                    let body = serde_json::json!({
                                        "id": format!("r{round}-c{k}-m{i}"),
                                        "from": {"email": format!("client{k}@example.com")},
                                        "text": "x".repeat(400),
                                    });
                                    assert_eq!(host.inbound("chat", body).await, 200);
                                }
                            }));
                        }
                        for c in clients {
                            c.await.unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// The group commit in isolation: 64 writers, each applying a ~0.5 KB
/// batch and waiting until it is durable, as the spec's plain axum + sled
/// reference did.
fn durable_writes(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("durable_writes");
    const WRITERS: usize = 64;
    const EACH: usize = 8;
    group
        .sample_size(10)
        .throughput(Throughput::Elements((WRITERS * EACH) as u64));
    for durability in [Durability::GroupCommit, Durability::FlushEach] {
        let label = match durability {
            Durability::GroupCommit => "group_commit",
            Durability::FlushEach => "flush_each",
        };
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open_with(dir.path(), durability, switchboard::store::DEFAULT_CACHE_MB).unwrap();
        let mut round = 0u64;
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        round += 1;
                        let mut writers = Vec::new();
                        for w in 0..WRITERS {
                            let store = store.clone();
                            writers.push(tokio::spawn(async move {
                                for i in 0..EACH {
                                    let mut batch = Batch::new();
                                    batch.put(format!("bench/{round}/{w}/{i}"), vec![b'x'; 512]);
                                    let seq = store.write(batch).unwrap();
                                    store.durable(seq).await.unwrap();
                                }
                            }));
                        }
                        for w in writers {
                            w.await.unwrap();
                        }
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    route_decision,
    router_call,
    assignments,
    dispatch_round,
    durable_ingest,
    durable_writes
);
criterion_main!(benches);
