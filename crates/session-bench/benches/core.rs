//! Criterion micro-benchmarks of what every request goes through in `session-core`: a whole
//! request cycle with the memory driver (read, or increment, then commit), store operations,
//! id generation, signing and verifying, storage-key derivation, and the record encoding, each
//! on a small session (three values) and a large one (a thousand values, about 40 KB of JSON).
//!
//! Sealing and opening cookies is measured by `session-cookie`'s own `seal_open` benchmark.
//!
//! ```sh
//! cargo bench -p session-bench --bench core
//! ```

#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Map, Value};
use session_core::{Record, SecretKey, SessionConfig, SessionId, SessionManager};

const KEY: &str = "a benchmark secret of at least thirty-two bytes";

fn manager() -> SessionManager {
    #[allow(clippy::expect_used)]
    SessionManager::builder(SessionConfig::new().with_driver("memory").with_key(KEY))
        .build()
        .expect("valid configuration")
}

/// The values of a small or a large session.
fn values(large: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("n".to_owned(), json!(1));
    m.insert("user".to_owned(), json!({"id": 42, "name": "ada"}));
    m.insert("cart_total".to_owned(), json!(1900));
    if large {
        for i in 0..1000 {
            m.insert(
                format!("item_{i}"),
                json!({"sku": format!("SKU-{i:06}"), "qty": i % 7}),
            );
        }
    }
    m
}

/// A stored session with `values`, and the `Cookie` header that carries its id.
fn stored_session(manager: &SessionManager, values: &Map<String, Value>) -> String {
    let runtime = runtime();
    runtime.block_on(async {
        let session = manager.start_request(std::iter::empty());
        #[allow(clippy::expect_used)]
        {
            let session = session.session().await.expect("initiate");
            for (k, v) in values {
                session.put(k, v).expect("put");
            }
            session.commit().await.expect("commit");
        }
        session
            .context()
            .response_cookies()
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    #[allow(clippy::expect_used)]
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn request_cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    let rt = runtime();
    for (size, large) in [("small", false), ("large", true)] {
        let manager = manager();
        let cookie = stored_session(&manager, &values(large));
        group.bench_function(BenchmarkId::new("read", size), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let session = manager.start_request([cookie.as_str()]);
                    #[allow(clippy::expect_used)]
                    {
                        let session = session.session().await.expect("initiate");
                        black_box(session.get_or::<i64>("n", 0).expect("get"));
                        session.commit().await.expect("commit");
                    }
                    black_box(session.context().response_cookies());
                })
            })
        });
        group.bench_function(BenchmarkId::new("increment", size), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let session = manager.start_request([cookie.as_str()]);
                    #[allow(clippy::expect_used)]
                    {
                        let session = session.session().await.expect("initiate");
                        black_box(session.increment("n").expect("increment"));
                        session.commit().await.expect("commit");
                    }
                    black_box(session.context().response_cookies());
                })
            })
        });
        group.bench_function(BenchmarkId::new("untouched", size), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let session = manager.start_request([cookie.as_str()]);
                    #[allow(clippy::expect_used)]
                    session.commit().await.expect("commit");
                    black_box(session.context().response_cookies());
                })
            })
        });
    }
    group.finish();
}

fn store_operations(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    for (size, large) in [("small", false), ("large", true)] {
        let session = session_core::Session::for_tests();
        #[allow(clippy::expect_used)]
        for (k, v) in values(large) {
            session.put(&k, v).expect("put");
        }
        group.bench_function(BenchmarkId::new("get", size), |b| {
            b.iter(|| black_box(session.get_or::<i64>(black_box("n"), 0)))
        });
        group.bench_function(BenchmarkId::new("get_nested", size), |b| {
            b.iter(|| black_box(session.get_value(black_box("user.name"))))
        });
        // Putting the value already there changes nothing, so the change log does not grow
        // while criterion repeats the call.
        group.bench_function(BenchmarkId::new("put_unchanged", size), |b| {
            b.iter(|| black_box(session.put(black_box("cart_total"), 1900)))
        });
        group.bench_function(BenchmarkId::new("all", size), |b| {
            b.iter(|| black_box(session.all()))
        });
    }
    group.finish();
}

fn ids(c: &mut Criterion) {
    let mut group = c.benchmark_group("id");
    #[allow(clippy::expect_used)]
    let keys = session_core::KeyRing::new(vec![SecretKey::new(KEY).expect("key")]).expect("ring");
    let signer = keys.id_signer("id");
    let id = SessionId::generate();
    let signed = signer.sign(&id);
    group.bench_function("generate", |b| b.iter(|| black_box(SessionId::generate())));
    group.bench_function("sign", |b| {
        b.iter(|| black_box(signer.sign(black_box(&id))))
    });
    group.bench_function("verify", |b| {
        b.iter(|| black_box(signer.verify(black_box(&signed))))
    });
    group.bench_function("verify_tampered", |b| {
        let mut bad = signed.clone();
        bad.pop();
        bad.push('A');
        b.iter(|| black_box(signer.verify(black_box(&bad))))
    });
    group.bench_function("storage_key", |b| {
        b.iter(|| black_box(black_box(&id).storage_key()))
    });
    group.finish();
}

fn records(c: &mut Criterion) {
    let mut group = c.benchmark_group("record");
    for (size, large) in [("small", false), ("large", true)] {
        let record = Record::new(values(large), 1_700_000_000_000, 1_700_007_200_000);
        let bytes = record.encode();
        group.bench_function(BenchmarkId::new("encode", size), |b| {
            b.iter(|| black_box(black_box(&record).encode()))
        });
        group.bench_function(BenchmarkId::new("decode", size), |b| {
            b.iter(|| black_box(Record::decode(black_box(&bytes))))
        });
    }
    group.finish();
}

criterion_group!(benches, request_cycle, store_operations, ids, records);
criterion_main!(benches);
