//! Plugin runtime benchmarks, each against a baseline in the same run.
//!
//! - `noop_call/runtime`: a no-op plugin call (`longest-idle.prioritize`)
//!   through `Runtime` — fresh store, limits, deadline, health accounting.
//! - `noop_call/direct`: the same component called with bare wasmtime on an
//!   engine built by the same `build_engine`: fresh store + instantiate + call.
//! - `noop_call/direct_on_demand`: the same without the pooling allocator.
//! - `instantiate/direct`: a fresh store and instantiation alone.
//! - `warm_call/direct`: a call into an already-live instance.
//! - `hot_reload/swap`: `plugin.wasm` overwritten → the new version answering
//!   (includes the watcher's debounce, 200 ms by default).
//!
//! Run with `cargo bench --bench runtime`.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard::config::RuntimeConfig;
use switchboard::runtime::engine::build_engine;
use switchboard::wit::router::RouterPre;
use switchboard_tests::*;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Bare {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Bare {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn bare_store(engine: &Engine) -> Store<Bare> {
    let mut store = Store::new(
        engine,
        Bare {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    store.set_epoch_deadline(u64::MAX / 2);
    store
}

/// The direct-wasmtime baseline: an engine built exactly as the runtime
/// builds its own, and a bare store (WASI context only).
fn direct_pre(pooling: bool) -> (Engine, RouterPre<Bare>) {
    let config = RuntimeConfig {
        pooling,
        max_instances: 64,
        ..RuntimeConfig::default()
    };
    let (engine, allocator) = build_engine(&config).unwrap();
    eprintln!("direct baseline allocator: {allocator:?}");
    let component = Component::from_file(&engine, wasm("longest-idle")).unwrap();
    let mut linker = Linker::<Bare>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let pre = RouterPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
    (engine, pre)
}

fn per_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestRuntime::new(
        &[(
            "longest-idle",
            first_party_manifest("longest-idle"),
            wasm("longest-idle"),
        )],
        |_| {},
    ));
    let (task, _) = sample_routing(1);

    let mut group = c.benchmark_group("noop_call");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    t.runtime
                        .route_prioritize("longest-idle", &task)
                        .await
                        .unwrap();
                }
                start.elapsed()
            })
        })
    });
    for (name, pooling) in [("direct", true), ("direct_on_demand", false)] {
        let (engine, pre) = direct_pre(pooling);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut store = bare_store(&engine);
                        let router = pre.instantiate_async(&mut store).await.unwrap();
                        router.call_prioritize(&mut store, &task).await.unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let (engine, pre) = direct_pre(true);
    c.bench_function("instantiate/direct", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut store = bare_store(&engine);
                    pre.instantiate_async(&mut store).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    c.bench_function("warm_call/direct", |b| {
        let mut store = bare_store(&engine);
        let router = rt.block_on(pre.instantiate_async(&mut store)).unwrap();
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    router.call_prioritize(&mut store, &task).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
}

fn hot_reload(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestRuntime::new(
        &[(
            "probe",
            misbehave_manifest("probe", "", 16, 1_000),
            wasm("misbehave"),
        )],
        |c| c.runtime.reload_debounce_ms = 200,
    ));
    let _watch = rt.block_on(async { t.runtime.watch().unwrap() });
    let versions = [
        (std::fs::read(wasm("misbehave-v2")).unwrap(), "v2"),
        (std::fs::read(wasm("misbehave")).unwrap(), "v1"),
    ];
    let target = t.plugins_dir().join("probe/plugin.wasm");
    let mut next = 0usize;
    let mut group = c.benchmark_group("hot_reload");
    group.sample_size(10);
    group.bench_function("swap", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (bytes, answer) = &versions[next % 2];
                    next += 1;
                    let start = Instant::now();
                    std::fs::write(&target, bytes).unwrap();
                    loop {
                        if webhook(&t.runtime, "probe", "/version").await.unwrap().1 == *answer {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, per_call, hot_reload);
criterion_main!(benches);
