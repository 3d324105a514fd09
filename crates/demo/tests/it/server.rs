//! Serves the demo on a free loopback port, in-process, with a clock the tests can move.

use std::sync::Arc;
use std::time::Duration;

use session_kit::{ManualClock, SessionConfig};

use session_testkit::http::Target;

pub(crate) const SECRET: &str = "demo test secret key, at least 32 bytes";
pub(crate) const AGE: Duration = Duration::from_secs(1800);

pub(crate) struct Running {
    pub(crate) target: Target,
    _server: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) fn base(&self) -> &str {
        &self.target.base_url
    }
}

/// Builds the demo for `config` (driver and sections set) and serves it.
pub(crate) async fn serve(config: SessionConfig) -> Running {
    // Session errors and warnings show in the output of a failing test.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("session=warn")
        .try_init();
    let clock = ManualClock::starting_now();
    let config = config.with_key(SECRET).with_age(AGE);
    let manager = demo::builder(config)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .expect("valid demo configuration");
    // The SQL drivers' table (and any driver's sweeper, dropped here: tests sweep nothing).
    demo::prepare_storage(&manager)
        .await
        .expect("the session storage");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("address");
    // Every server-side driver of the workspace compares versions; the cookie driver cannot.
    let atomic = matches!(manager.driver(), session_kit::Driver::Server(_));
    let driver = manager.driver().name().to_owned();
    let server_side = driver != "cookie";
    let cookie_name = manager.config().cookie_name().to_owned();
    let secure = manager.config().cookie().secure();
    let clear_with_browser = manager.config().clear_with_browser();
    let app = demo::app(manager);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let moved = clock.clone();
    Running {
        target: Target {
            base_url: format!("http://{addr}"),
            driver,
            cookie_name,
            age: AGE,
            secure,
            clear_with_browser,
            atomic,
            server_side,
            advance_clock: Some(Arc::new(move |d| moved.advance(d))),
            backend: None,
        },
        _server: server,
    }
}
