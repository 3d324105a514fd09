//! Serves the actix-web demo on a free loopback port, in-process, with a clock the tests can move.

use std::sync::Arc;
use std::time::Duration;

use session_kit::{ManualClock, SessionConfig};
use session_testkit::http::{Backend, Target};

pub(crate) const SECRET: &str = "demo test secret key, at least 32 bytes";
pub(crate) const AGE: Duration = Duration::from_secs(1800);

pub(crate) struct Running {
    pub(crate) target: Target,
    handle: actix_web::dev::ServerHandle,
}

impl Running {
    pub(crate) fn base(&self) -> &str {
        &self.target.base_url
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stops accepting and ends the workers; the server thread then returns.
        drop(self.handle.stop(false));
    }
}

/// Builds the actix demo for `config` (driver and sections set) and serves it with two workers.
pub(crate) async fn serve(config: SessionConfig) -> Running {
    serve_with_backend(config, None).await
}

/// As [`serve`], with a backend the outage scenario may stop and start.
pub(crate) async fn serve_with_backend(
    config: SessionConfig,
    backend: Option<Arc<dyn Backend>>,
) -> Running {
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
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("address");
    // Every server-side driver of the workspace compares versions; the cookie driver cannot.
    let atomic = matches!(manager.driver(), session_kit::Driver::Server(_));
    let driver = manager.driver().name().to_owned();
    let server_side = driver != "cookie";
    let cookie_name = manager.config().cookie_name().to_owned();
    let secure = manager.config().cookie().secure();
    let clear_with_browser = manager.config().clear_with_browser();
    let server = actix_web::HttpServer::new(move || demo_actix::app(manager.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    // actix-web runs on its own single-threaded runtimes; the server gets a thread of its own.
    std::thread::spawn(move || {
        let _ = actix_web::rt::System::new().block_on(server);
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
            backend,
        },
        handle,
    }
}
