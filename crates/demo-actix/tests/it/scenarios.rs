//! The HTTP scenario suite against the actix-web demo, for every driver.

use std::sync::Arc;

use serde_json::json;
use session_kit::{CookieOptions, SessionConfig};
use session_testkit::http::HttpScenarios;

use crate::server::{serve, serve_with_backend};
use session_testkit::redis_server::{RedisCluster, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_driver_over_http() {
    let app = serve(SessionConfig::new().with_driver("memory")).await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
    assert!(ran.contains(&"expired_cookies"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_driver_over_http() {
    let app = serve(SessionConfig::new().with_driver("cookie")).await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(!app.target.atomic, "client-side state has no atomic update");
    assert!(ran.contains(&"expired_cookies"), "{ran:?}");
    assert!(ran.contains(&"tampered_cookies"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_driver_over_http() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = serve(
        SessionConfig::new()
            .with_driver("file")
            .with_section("file", json!({"location": dir.path()})),
    )
    .await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_attributes_follow_the_configuration() {
    let app = serve(
        SessionConfig::new()
            .with_driver("memory")
            .with_clear_with_browser(true)
            .with_cookie(CookieOptions::default().with_secure(false)),
    )
    .await;
    HttpScenarios::new(app.target.clone())
        .cookie_attributes()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_driver_over_http() {
    let server = RedisServer::spawn();
    let section = json!({"url": server.url(), "prefix": "demo-actix:"});
    let backend = Arc::new(std::sync::Mutex::new(server));
    let app = serve_with_backend(
        SessionConfig::new()
            .with_driver("redis")
            .with_section("redis", section),
        Some(backend),
    )
    .await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
    assert!(ran.contains(&"backend_outage"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_over_http() {
    let cluster = RedisCluster::start();
    let app = serve(SessionConfig::new().with_driver("redis").with_section(
        "redis",
        json!({"cluster": true, "nodes": cluster.urls(), "prefix": "demo-actix:"}),
    ))
    .await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_cookie_session_answers_413_and_keeps_the_old_one() {
    let app = serve(
        SessionConfig::new()
            .with_driver("cookie")
            .with_section("cookie_store", json!({"max_size": 1024})),
    )
    .await;
    let mut c = session_testkit::http::HttpClient::new(app.base());
    let r = c.send("PUT", "/api/session/n", Some(json!(1))).await;
    assert_eq!(r.status, 204);
    let r = c
        .send("PUT", "/api/session/big", Some(json!("x".repeat(4000))))
        .await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("too large"), "{}", r.body);
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
    let r = c.send("GET", "/api/session", None).await;
    assert_eq!(r.json(), json!({"n": 1}), "the stored session is untouched");
}

/// The SQL drivers, each on a database of its own; PostgreSQL and MariaDB through a proxy the
/// outage scenario cuts.
async fn sql_driver_over_http(driver: &'static str) {
    let database = crate::sql::Database::create(driver).await;
    let app = serve_with_backend(
        SessionConfig::new()
            .with_driver(driver)
            .with_section(driver, database.section.clone()),
        database.backend(),
    )
    .await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
    assert_eq!(
        ran.contains(&"backend_outage"),
        database.proxy.is_some(),
        "{ran:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_driver_over_http_with_an_outage() {
    sql_driver_over_http("postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_driver_over_http_with_an_outage() {
    sql_driver_over_http("mysql").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_driver_over_http() {
    sql_driver_over_http("sqlite").await;
}
