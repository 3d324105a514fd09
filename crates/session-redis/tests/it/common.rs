use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use session_core::{
    Driver, DriverRegistry, ManualClock, SessionConfig, SessionManager, SessionStore,
};
use session_testkit::redis_server::RedisServer;

/// A key prefix no other test uses, so tests can share a server.
pub(crate) fn unique_prefix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "test{}-{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A `redis` section for one standalone server.
pub(crate) fn standalone(url: &str) -> Value {
    json!({ "url": url, "prefix": unique_prefix() })
}

/// A `redis` section for one TLS server whose certificate `ca_file` issued.
pub(crate) fn tls(url: &str, ca_file: &std::path::Path) -> Value {
    json!({ "url": url, "tls_ca_file": ca_file, "prefix": unique_prefix() })
}

/// A `redis` section for a cluster.
pub(crate) fn cluster(urls: &[String]) -> Value {
    json!({ "cluster": true, "nodes": urls, "prefix": unique_prefix() })
}

/// A `redis` section for a TLS cluster whose nodes' certificates `ca_file` issued.
pub(crate) fn tls_cluster(urls: &[String], ca_file: &std::path::Path) -> Value {
    json!({ "cluster": true, "nodes": urls, "tls_ca_file": ca_file, "prefix": unique_prefix() })
}

/// A manager using the registered `redis` factory with this section.
pub(crate) fn manager(section: Value, config: SessionConfig, clock: ManualClock) -> SessionManager {
    let mut registry = DriverRegistry::new();
    session_redis::register(&mut registry);
    SessionManager::builder(
        config
            .with_driver("redis")
            .with_key("redis driver tests secret, 32+ bytes long")
            .with_section("redis", section),
    )
    .with_registry(registry)
    .with_clock(Arc::new(clock))
    .build()
    .expect("valid configuration")
}

/// The manager's driver, which is a server-side store.
pub(crate) fn store(manager: &SessionManager) -> Arc<dyn SessionStore> {
    match manager.driver() {
        Driver::Server(store) => store.clone(),
        Driver::Client(_) => panic!("the redis driver is a server-side store"),
    }
}

/// A manager with a two-hour idle age.
pub(crate) fn simple_manager(section: Value) -> SessionManager {
    manager(
        section,
        SessionConfig::new().with_age(Duration::from_secs(7200)),
        ManualClock::starting_now(),
    )
}

/// What the tests themselves send when they count commands.
pub(crate) const HARNESS: &[&str] = &["config|resetstat", "info"];

/// Every command the server ran since the last reset, those inside scripts included, without the
/// harness's own.
pub(crate) fn ran(server: &RedisServer) -> BTreeMap<String, u64> {
    server
        .commandstats()
        .into_iter()
        .filter(|(name, _)| !HARNESS.contains(&name.as_str()))
        .collect()
}

/// `calls` of the command `name`, as [`ran`] reports it.
pub(crate) fn one(name: &str, calls: u64) -> BTreeMap<String, u64> {
    counted(&[(name, calls)])
}

/// Calls per command, as [`ran`] reports them.
pub(crate) fn counted(calls: &[(&str, u64)]) -> BTreeMap<String, u64> {
    calls
        .iter()
        .map(|&(name, n)| (name.to_owned(), n))
        .collect()
}

/// The connections clients other than the one asking have open (`CLIENT LIST` answers for the
/// test's own `redis-cli` too).
pub(crate) fn driver_connections(server: &RedisServer) -> usize {
    server
        .cli(&["CLIENT", "LIST"])
        .lines()
        .filter(|line| !line.contains("cmd=client|list"))
        .count()
}
