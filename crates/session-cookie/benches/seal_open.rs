//! Seal (write) and open (read) of a 200-byte and a 3-KB record through the cookie driver, and
//! the read of a value the driver opened before (answered from its table of opened values).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map};
use session_core::{
    Clock, Driver, DriverRegistry, Record, SessionConfig, SessionContext, SessionId,
    SessionManager, StorageKey, SystemClock,
};

fn manager() -> SessionManager {
    let mut registry = DriverRegistry::new();
    session_cookie::register(&mut registry);
    SessionManager::builder(
        SessionConfig::new()
            .with_driver("cookie")
            .with_key("benchmark secret key of 32+ bytes!!!!!"),
    )
    .with_registry(registry)
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A record whose encoded form is about `size` bytes.
fn record(size: usize) -> Record {
    let mut data = Map::new();
    data.insert("user".to_owned(), json!({"id": 42, "name": "Ada"}));
    // The driver checks expiry on open, so the record is created now.
    let now = SystemClock.now_ms();
    let base = Record::new(data.clone(), now).encode().len();
    data.insert(
        "pad".to_owned(),
        json!("p".repeat(size.saturating_sub(base + 9))),
    );
    Record::new(data, now)
}

fn header(cx: &SessionContext) -> String {
    cx.response_cookies()
        .iter()
        .map(|c| c.stripped().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let manager = manager();
    let driver: Arc<dyn Driver> = manager.driver().clone();
    let key = SessionId::generate().storage_key();
    // One request bringing the `Cookie` header `sent`, whose session the driver reads.
    let read = |key: &StorageKey, sent: &str| {
        let cx = manager.context([black_box(sent)]);
        let read = rt
            .block_on(driver.read(&cx, key))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(read.is_some());
        read
    };
    let mut group = c.benchmark_group("cookie");
    for (label, size) in [("200B", 200), ("3KB", 3 * 1024)] {
        let rec = record(size);
        assert!(
            rec.encode().len().abs_diff(size) <= 2,
            "record of {size} bytes"
        );
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("seal/{label}"), |b| {
            b.iter(|| {
                let cx = manager.context(std::iter::empty());
                rt.block_on(driver.write(&cx, &key, black_box(&rec)))
                    .unwrap_or_else(|e| panic!("{e}"));
                cx
            })
        });
        // Values sealed by another manager with the same secret, so the measured driver has
        // not seen them, for sessions of their own. Cycling through four thousand of them
        // evicts each from the driver's table (512 entries) before it comes round again: every
        // read opens.
        let other = crate::manager();
        let sealed: Vec<_> = (0..4096)
            .map(|_| {
                let key = SessionId::generate().storage_key();
                let cx = other.context(std::iter::empty());
                rt.block_on(other.driver().write(&cx, &key, &rec))
                    .unwrap_or_else(|e| panic!("{e}"));
                (key, header(&cx))
            })
            .collect();
        let mut next = sealed.iter().cycle();
        group.bench_function(format!("open/{label}"), |b| {
            b.iter(|| {
                let (key, sent) = next.next().unwrap_or_else(|| unreachable!());
                read(key, sent)
            })
        });
        if size > 700 {
            // Above what the table keeps (1,024 characters sealed): every read opens.
            continue;
        }
        // The same value on every request, as a browser sends it until the session changes.
        let (key, sent) = &sealed[0];
        group.bench_function(format!("remembered/{label}"), |b| {
            b.iter(|| read(key, sent))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
