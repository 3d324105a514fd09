use std::sync::Arc;

use serde_json::Value;
use session_testkit::redis_server::{RedisCluster, RedisServer};
use session_testkit::{Conformance, Mode, ATOMIC_CASES, CASES, SERVER_CASES, TAG_CASES};

use crate::common;

/// The whole suite in one test, for the configurations that start servers of their own (TLS,
/// clusters); standalone Redis runs it one test per case (below).
async fn run(name: &str, section: impl Fn() -> Value + Send + Sync + 'static) {
    let report = Conformance::new(
        name,
        Arc::new(move |config, clock| common::manager(section(), config, clock)),
    )
    .run(Mode::Atomic)
    .await;
    assert!(report.skipped.is_empty(), "{report}");
    assert_eq!(
        report.passed.len(),
        CASES.len() + SERVER_CASES.len() + ATOMIC_CASES.len() + TAG_CASES.len(),
        "{report}"
    );
}

/// Standalone Redis, one test per case, each with the server `REDIS_URL` names or one of its own.
mod standalone {
    use std::sync::Arc;

    use session_testkit::redis_server::RedisServer;
    use session_testkit::MakeManager;

    use crate::common;

    fn redis() -> MakeManager {
        let server = RedisServer::start();
        Arc::new(move |config, clock| {
            common::manager(common::standalone(server.url()), config, clock)
        })
    }

    session_testkit::conformance_tests!(redis(), Atomic);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_redis_with_the_local_cache_passes_the_conformance_suite() {
    let server = RedisServer::start();
    let url = server.url().to_owned();
    run("redis-local-cache", move || {
        let mut section = common::standalone(&url);
        section["local_cache"] = 1000.into();
        section
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_redis_over_tls_with_a_private_ca_passes_the_conformance_suite() {
    let server = RedisServer::spawn_tls();
    let url = server.url().to_owned();
    assert!(url.starts_with("rediss://"), "{url}");
    let ca = server.tls().expect("a TLS server").ca_file.clone();
    run("redis-tls", move || common::tls(&url, &ca)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_redis_over_tls_with_the_local_cache_passes_the_conformance_suite() {
    let server = RedisServer::spawn_tls();
    let url = server.url().to_owned();
    let ca = server.tls().expect("a TLS server").ca_file.clone();
    run("redis-tls-local-cache", move || {
        let mut section = common::tls(&url, &ca);
        section["local_cache"] = 1000.into();
        section
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_passes_the_conformance_suite() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    run("redis-cluster", move || common::cluster(&urls)).await;
    // The sessions really were spread over the three masters.
    let holding = cluster
        .nodes()
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]) != "0")
        .count();
    assert!(holding >= 2, "only {holding} of 3 masters hold sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_over_tls_with_a_private_ca_passes_the_conformance_suite() {
    let cluster = RedisCluster::start_tls();
    let urls = cluster.urls();
    assert!(urls.iter().all(|u| u.starts_with("rediss://")), "{urls:?}");
    let ca = cluster.tls().expect("a TLS cluster").ca_file.clone();
    run("redis-cluster-tls", move || common::tls_cluster(&urls, &ca)).await;
    let holding = cluster
        .nodes()
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]) != "0")
        .count();
    assert!(holding >= 2, "only {holding} of 3 masters hold sessions");
}
