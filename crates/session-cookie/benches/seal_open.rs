//! Seal (write) and open (read) of a 200-byte and a 3-KB record through the cookie driver, and
//! the read of a value the driver opened before (answered from its table of opened values).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map};
use session_cookie::{CookieDriver, CookieDriverConfig};
use session_core::{
    ClientStore, Clock, Record, SessionConfig, SessionContext, SessionId, StorageKey, SystemClock,
};

fn driver() -> CookieDriver {
    let config = SessionConfig::new().with_key("benchmark secret key of 32+ bytes!!!!!");
    CookieDriver::new(&config, CookieDriverConfig::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// A request with no cookies.
fn empty() -> SessionContext {
    SessionContext::new("id", Default::default())
}

/// A record whose encoded form is about `size` bytes.
fn record(size: usize) -> Record {
    let mut data = Map::new();
    data.insert("user".to_owned(), json!({"id": 42, "name": "Ada"}));
    // The driver checks expiry on open, so the record is created now.
    let now = SystemClock.now_ms();
    let base = Record::new(data.clone(), now, now + 3_600_000)
        .encode()
        .len();
    data.insert(
        "pad".to_owned(),
        json!("p".repeat(size.saturating_sub(base + 9))),
    );
    Record::new(data, now, now + 3_600_000)
}

fn bench(c: &mut Criterion) {
    let driver = driver();
    let key = SessionId::generate().storage_key();
    // One request bringing the `Cookie` header `sent`, whose session the driver reads.
    let read = |key: &StorageKey, sent: &str| {
        let cx = SessionContext::from_headers("id", Default::default(), [black_box(sent)]);
        let read = driver.read(&cx, key);
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
                driver
                    .write(&empty(), &key, black_box(&rec))
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
        // Values sealed by another driver with the same secret, so the measured driver has
        // not seen them, for sessions of their own. Cycling through four thousand of them
        // evicts each from the driver's table (512 entries) before it comes round again: every
        // read opens.
        let other = crate::driver();
        let sealed: Vec<_> = (0..4096)
            .map(|_| {
                let key = SessionId::generate().storage_key();
                let changes = other
                    .write(&empty(), &key, &rec)
                    .unwrap_or_else(|e| panic!("{e}"));
                (key, session_testkit::cookie_header(&changes))
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
