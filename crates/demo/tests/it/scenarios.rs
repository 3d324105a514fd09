//! The HTTP scenario suite against the demo, for every driver.

use serde_json::json;
use session_kit::{CookieOptions, SessionConfig};
use session_testkit::http::HttpScenarios;

use crate::server::serve;

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
async fn redis_driver_over_http_with_an_outage() {
    let redis = session_testkit::redis_server::RedisServer::spawn();
    let url = redis.url().to_owned();
    let app = serve(
        SessionConfig::new()
            .with_driver("redis")
            .with_section("redis", json!({"url": url, "command_timeout": "1s"})),
    )
    .await;
    let mut target = app.target.clone();
    target.backend = Some(std::sync::Arc::new(std::sync::Mutex::new(redis)));
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(target).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
    assert!(ran.contains(&"backend_outage"), "{ran:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_over_http() {
    let cluster = session_testkit::redis_server::RedisCluster::start();
    let app = serve(
        SessionConfig::new()
            .with_driver("redis")
            .with_section("redis", json!({"cluster": true, "nodes": cluster.urls()})),
    )
    .await;
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(app.target.clone()).run().await;
    assert!(ran.contains(&"concurrent_increments"), "{ran:?}");
}

/// The SQL drivers, each on a database of its own; PostgreSQL and MariaDB through a proxy the
/// outage scenario cuts.
async fn sql_driver_over_http(driver: &'static str) {
    let database = crate::sql::Database::create(driver).await;
    let app = serve(
        SessionConfig::new()
            .with_driver(driver)
            .with_section(driver, database.section.clone()),
    )
    .await;
    let mut target = app.target.clone();
    target.backend = database.backend();
    // Sessions per user: the account page, with several browsers (before the scenarios: the
    // suite owns the target's backend, and stops it when dropped).
    session_testkit::pages::the_account_page_lists_devices_and_logs_out_everywhere_else(app.base())
        .await;
    let ran = HttpScenarios::new(target).run().await;
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
