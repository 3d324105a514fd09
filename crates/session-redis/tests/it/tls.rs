//! TLS: a private CA, the wrong CA, mutual TLS, and the TLS options' start-up errors.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use session_core::{DriverRegistry, ErrorKind, SessionConfig, SessionManager};
use session_testkit::redis_server::{RedisServer, TlsFiles};
use session_testkit::Browser;

use crate::common;

/// The start-up error of a `redis` section, or `None` when it builds.
fn start_up_error(section: Value) -> Option<session_core::ConfigError> {
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
    .err()
}

/// One-second timeouts, so a failure shows quickly.
fn fast_failing(mut section: Value) -> Value {
    section["connect_timeout"] = json!("1s");
    section["command_timeout"] = json!("1s");
    section["pool_wait_timeout"] = json!("1s");
    section
}

/// A request that must fail with a backend error, quickly.
async fn fails_with_a_backend_error(section: Value, what: &str) {
    let mut b = Browser::new(common::simple_manager(fast_failing(section)));
    let started = Instant::now();
    let err = b
        .request(|s| s.put("n", 1))
        .await
        .expect_err("the TLS handshake must fail");
    let took = started.elapsed();
    println!("{what}: failed after {took:?}: {err}");
    assert_eq!(err.kind(), ErrorKind::Backend, "{what}: {err}");
    assert!(took < Duration::from_secs(5), "{what}: took {took:?}");
}

/// A scratch folder for certificate files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("session-redis-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Self(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_the_configured_ca_did_not_issue_is_a_backend_error() {
    let server = RedisServer::spawn_tls();
    let other = Scratch::new("other-ca");
    let wrong = TlsFiles::generate(&other.0, false);
    fails_with_a_backend_error(
        common::tls(server.url(), &wrong.ca_file),
        "another private CA",
    )
    .await;
    // Without `tls_ca_file` only the public CAs are trusted, which did not sign the server's
    // self-signed certificate either.
    fails_with_a_backend_error(common::standalone(server.url()), "the public CAs").await;
    // The right CA works with the same server.
    let ca = &server.tls().expect("TLS files").ca_file;
    let mut b = Browser::new(common::simple_manager(common::tls(server.url(), ca)));
    b.request(|s| s.put("n", 1)).await.expect("the right CA");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_presents_the_client_certificate() {
    let server = RedisServer::spawn_mutual_tls();
    let files = server.tls().expect("TLS files").clone();
    let (cert, key) = (
        files.client_cert_file.clone().expect("client certificate"),
        files.client_key_file.clone().expect("client key"),
    );
    let mut section = common::tls(server.url(), &files.ca_file);
    section["tls_client_cert_file"] = json!(cert);
    section["tls_client_key_file"] = json!(key);
    let manager = common::simple_manager(section);
    let shown = format!("{:?}", manager.driver());
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let mut b = Browser::new(manager);
    b.request(|s| s.put("n", 1))
        .await
        .expect("with the client certificate");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );
    // The server refuses a client without a certificate.
    fails_with_a_backend_error(
        common::tls(server.url(), &files.ca_file),
        "no client certificate",
    )
    .await;
}

#[test]
fn tls_files_are_read_and_checked_at_start_up() {
    let scratch = Scratch::new("config");
    let files = TlsFiles::generate(&scratch.0.join("pki"), true);
    let ca = files.ca_file.clone();
    let cert = files.client_cert_file.clone().expect("client certificate");
    let key = files.client_key_file.clone().expect("client key");
    let missing = scratch.0.join("missing.pem");
    let not_pem = scratch.file("not-pem.pem", "hello, I am no certificate\n");
    let url = "rediss://127.0.0.1:1";
    let option_of = |section: Value| {
        start_up_error(section.clone())
            .unwrap_or_else(|| panic!("{section} was accepted"))
            .option()
            .to_owned()
    };
    let cases = [
        (
            json!({"url": url, "tls_ca_file": missing}),
            "redis.tls_ca_file",
        ),
        (
            json!({"url": url, "tls_ca_file": not_pem}),
            "redis.tls_ca_file",
        ),
        (json!({"url": url, "tls_ca_file": ""}), "redis.tls_ca_file"),
        (json!({"url": url, "tls_ca_file": 7}), "redis.tls_ca_file"),
        // The key's file given as the CA: it holds no certificate.
        (json!({"url": url, "tls_ca_file": key}), "redis.tls_ca_file"),
        (
            json!({"url": url, "tls_client_cert_file": cert}),
            "redis.tls_client_key_file",
        ),
        (
            json!({"url": url, "tls_client_key_file": key}),
            "redis.tls_client_cert_file",
        ),
        (
            json!({"url": url, "tls_client_cert_file": missing, "tls_client_key_file": key}),
            "redis.tls_client_cert_file",
        ),
        (
            json!({"url": url, "tls_client_cert_file": cert, "tls_client_key_file": not_pem}),
            "redis.tls_client_key_file",
        ),
        // The server's key does not belong to the client certificate.
        (
            json!({"url": url, "tls_client_cert_file": cert,
                   "tls_client_key_file": files.server_key_file}),
            "redis.tls_client_key_file",
        ),
        // TLS files without a TLS URL.
        (
            json!({"url": "redis://127.0.0.1:1", "tls_ca_file": ca}),
            "redis.tls_ca_file",
        ),
        (
            json!({"host": "127.0.0.1", "tls_ca_file": ca}),
            "redis.tls_ca_file",
        ),
        (
            json!({"cluster": true, "nodes": ["rediss://127.0.0.1:1", "redis://127.0.0.1:2"]}),
            "redis.nodes",
        ),
    ];
    for (section, option) in cases {
        assert_eq!(option_of(section.clone()), option, "{section}");
    }
    // The message names the file, and never quotes the key.
    let err = start_up_error(json!({"url": url, "tls_ca_file": missing})).expect("error");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let err = start_up_error(json!({"url": url, "tls_ca_file": key})).expect("error");
    let key_text = std::fs::read_to_string(&key).expect("key");
    let key_line = key_text.lines().nth(1).expect("a base64 line");
    assert!(!err.to_string().contains(key_line), "{err}");
}

#[test]
fn valid_tls_configurations_build_without_a_server() {
    let scratch = Scratch::new("valid");
    let files = TlsFiles::generate(&scratch.0, true);
    let (ca, cert, key): (&Path, PathBuf, PathBuf) = (
        &files.ca_file,
        files.client_cert_file.clone().expect("client certificate"),
        files.client_key_file.clone().expect("client key"),
    );
    for section in [
        json!({"url": "rediss://127.0.0.1:1"}),
        json!({"url": "rediss://127.0.0.1:1/2", "tls_ca_file": ca}),
        json!({"url": "rediss://127.0.0.1:1", "tls_ca_file": ca,
               "tls_client_cert_file": cert, "tls_client_key_file": key}),
        json!({"cluster": true, "nodes": ["rediss://127.0.0.1:1", "rediss://127.0.0.1:2"],
               "tls_ca_file": ca, "tls_client_cert_file": cert, "tls_client_key_file": key}),
    ] {
        if let Some(err) = start_up_error(section.clone()) {
            panic!("{section} was rejected: {err}");
        }
    }
    let driver = session_redis::RedisDriver::builder()
        .with_url("rediss://127.0.0.1:1")
        .with_tls_ca_file(ca)
        .with_tls_client_cert(&cert, &key)
        .build()
        .expect("valid");
    assert!(!driver.is_cluster());
}
