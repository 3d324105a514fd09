//! Configuration errors name their option, at start-up.

use serde_json::{json, Value};
use session_core::{DriverRegistry, SessionConfig, SessionManager};

fn option_of(section: Value) -> String {
    let mut registry = DriverRegistry::new();
    session_redis::register(&mut registry);
    SessionManager::builder(
        SessionConfig::new()
            .with_driver("redis")
            .with_key("redis driver tests secret, 32+ bytes long")
            .with_section("redis", section),
    )
    .with_registry(registry)
    .build()
    .expect_err("invalid")
    .option()
    .to_owned()
}

#[test]
fn bad_values_name_their_option() {
    let cases = [
        (json!({"port": 0}), "redis.port"),
        (json!({"port": "http"}), "redis.port"),
        (
            json!({"url": "rediss://127.0.0.1:6380/#insecure"}),
            "redis.url",
        ),
        (json!({"url": "http://example.com"}), "redis.url"),
        (json!({"url": "redis://h", "host": "h"}), "redis.url"),
        (json!({"pool_size": 0}), "redis.pool_size"),
        (json!({"connections": 0}), "redis.connections"),
        (json!({"connections": "two"}), "redis.connections"),
        (
            json!({"pool_size": 4, "connections": 5}),
            "redis.connections",
        ),
        (json!({"command_timeout": "soon"}), "redis.command_timeout"),
        (json!({"connect_timeout": "0s"}), "redis.connect_timeout"),
        (
            json!({"pool_wait_timeout": "2h"}),
            "redis.pool_wait_timeout",
        ),
        (json!({"prefix": "a{b}"}), "redis.prefix"),
        (json!({"cluster": "yes"}), "redis.cluster"),
        (json!({"cluster": true}), "redis.nodes"),
        (json!({"nodes": ["redis://127.0.0.1:7000"]}), "redis.nodes"),
        (
            json!({"cluster": true, "nodes": ["redis://a:1"], "db": 2}),
            "redis.db",
        ),
        (json!({"db": -1}), "redis.db"),
        (json!({"local_cache": -1}), "redis.local_cache"),
        (json!({"local_cache": "big"}), "redis.local_cache"),
        (json!({"local_cache": 100_000_000}), "redis.local_cache"),
        (
            json!({"cluster": true, "nodes": ["redis://a:1"], "local_cache": 100}),
            "redis.local_cache",
        ),
        (json!({"timeout": "1s"}), "redis.timeout"),
    ];
    for (section, option) in cases {
        assert_eq!(option_of(section.clone()), option, "{section}");
    }
}

#[test]
fn a_valid_configuration_builds_without_a_server() {
    // Nothing listens on port 1; start-up must not connect.
    let mut registry = DriverRegistry::new();
    session_redis::register(&mut registry);
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_driver("redis")
            .with_key("redis driver tests secret, 32+ bytes long")
            .with_section(
                "redis",
                json!({"host": "127.0.0.1", "port": 1, "password": "hunter2", "db": 3,
                       "pool_size": 2, "command_timeout": "250ms"}),
            ),
    )
    .with_registry(registry)
    .build()
    .expect("valid");
    let shown = format!("{:?}", manager.driver());
    assert!(!shown.contains("hunter2"), "{shown}");
    let cluster = session_redis::RedisDriver::builder()
        .with_cluster_nodes(["redis://127.0.0.1:1", "redis://127.0.0.1:2"])
        .build()
        .expect("valid cluster configuration");
    assert!(cluster.is_cluster());
}
