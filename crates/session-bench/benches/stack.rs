//! Criterion benchmarks of one request through a whole axum router in process (no sockets):
//! the router without sessions against the same router behind `SessionLayer` with the memory
//! and cookie drivers, for a route that reads the session, one that increments it, and one that
//! never uses it. The difference is what the session layer costs per request in CPU, without
//! the network noise of the HTTP benchmark.
//!
//! ```sh
//! cargo bench -p session-bench --bench stack
//! ```

#![forbid(unsafe_code)]
#![allow(missing_docs)]

use std::hint::black_box;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use session_kit::axum::SessionLayer;
use session_kit::SessionConfig;
use session_kit::{Error, Session};
use tower_service::Service;

const KEY: &str = "a benchmark secret of at least thirty-two bytes";

async fn read(session: Session) -> Result<String, Error> {
    Ok(session.get_or::<i64>("n", 0)?.to_string())
}

async fn write(session: Session) -> Result<String, Error> {
    Ok(session.increment("n")?.to_string())
}

fn bare() -> Router {
    Router::new()
        .route("/read", get(|| async { "0" }))
        .route("/write", get(|| async { "1" }))
        .route("/untouched", get(|| async { "ok" }))
}

fn ours(driver: &str) -> Router {
    #[allow(clippy::expect_used)]
    let manager = session_kit::builder(SessionConfig::new().with_driver(driver).with_key(KEY))
        .build()
        .expect("valid configuration");
    Router::new()
        .route("/read", get(read))
        .route("/write", get(write))
        .route("/untouched", get(|| async { "ok" }))
        .layer(SessionLayer::new(manager))
}

fn request(path: &str, cookie: &str) -> Request<Body> {
    let mut builder = Request::get(path);
    if !cookie.is_empty() {
        builder = builder.header("cookie", cookie);
    }
    #[allow(clippy::expect_used)]
    builder.body(Body::empty()).expect("request")
}

/// Sends one request and returns the `Cookie` header a browser would send next: the cookies
/// it held, updated by the answer's `Set-Cookie` values (a value replaces the cookie of its name,
/// an empty one removes it).
async fn call(router: &mut Router, path: &str, cookie: &str) -> String {
    #[allow(clippy::expect_used)]
    let response = router
        .call(request(path, cookie))
        .await
        .expect("infallible");
    let set: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect();
    if set.is_empty() {
        return cookie.to_owned();
    }
    let mut jar: Vec<(&str, &str)> = cookie
        .split("; ")
        .filter_map(|c| c.split_once('='))
        .collect();
    for pair in set {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        jar.retain(|(n, _)| *n != name);
        if !value.is_empty() {
            jar.push((name, value));
        }
    }
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn stack(c: &mut Criterion) {
    #[allow(clippy::expect_used)]
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("axum");
    for (name, mut router) in [
        ("bare", bare()),
        ("memory", ours("memory")),
        ("cookie", ours("cookie")),
    ] {
        let cookie = rt.block_on(call(&mut router, "/write", ""));
        for path in ["/read", "/write", "/untouched"] {
            // The cookie driver's cookie changes with every write; keep the latest one.
            let mut cookie = cookie.clone();
            group.bench_function(BenchmarkId::new(name, &path[1..]), |b| {
                b.iter(|| {
                    cookie = rt.block_on(call(&mut router, path, &cookie));
                    black_box(&cookie);
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, stack);
criterion_main!(benches);
