use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use session_axum::{Error, FlashMessages, Session, SessionLayer, SessionReader};
use session_core::{
    DriverError, DriverRegistry, MemoryDriver, Record, Refresh, SessionConfig, SessionManager,
    SessionStore, StorageKey, WriteOutcome,
};
use session_testkit::http::HttpClient;

const SECRET: &str = "axum adapter test secret of 32 bytes+";

/// The memory driver, counting reads, and failing every call while `down` is set (a backend
/// outage without a backend process).
#[derive(Debug)]
struct Counting {
    inner: MemoryDriver,
    reads: AtomicUsize,
    touches: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

impl Counting {
    fn check(&self) -> Result<(), DriverError> {
        if self.down.load(Ordering::SeqCst) {
            Err(DriverError::unavailable("counting", "backend is down"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Counting {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        self.check()?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(key).await
    }
    async fn write(
        &self,
        key: &StorageKey,
        r: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        self.check()?;
        self.inner.write(key, r, expected).await
    }
    async fn destroy(&self, key: &StorageKey, v: u64) -> Result<WriteOutcome, DriverError> {
        self.check()?;
        self.inner.destroy(key, v).await
    }
    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        self.check()?;
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.refresh(key, last_active, expires_at).await
    }
    fn name(&self) -> &'static str {
        "counting"
    }
}

fn counting_manager(config: SessionConfig) -> (SessionManager, Arc<Counting>) {
    let driver = Arc::new(Counting {
        inner: MemoryDriver::new(),
        reads: AtomicUsize::new(0),
        touches: AtomicUsize::new(0),
        down: Default::default(),
    });
    let manager = SessionManager::builder(config.with_key(SECRET))
        .driver(driver.clone())
        .build()
        .expect("valid");
    (manager, driver)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn put(session: Session) -> Result<&'static str, Error> {
    session.put("n", 1)?;
    Ok("ok")
}

async fn twice(a: Session, b: Session, flash: FlashMessages) -> Result<String, Error> {
    // Three extractors, one read; the handle is held across an await.
    tokio::time::sleep(Duration::from_millis(1)).await;
    a.increment("n")?;
    Ok(format!(
        "{} {}",
        b.get_value("n")?.unwrap_or_default(),
        flash.is_empty()
    ))
}

/// A read-only handler: it cannot write (`SessionReader` has no method that does; the
/// extractor's compile-fail doctest shows it).
async fn readonly(session: SessionReader) -> Result<String, Error> {
    Ok(session.get_value("n")?.unwrap_or_default().to_string())
}

fn routes(manager: SessionManager) -> Router {
    Router::new()
        .route("/put", get(put))
        .route("/twice", get(twice))
        .route("/readonly", get(readonly))
        .route("/untouched", get(|| async { "untouched" }))
        .layer(SessionLayer::new(manager))
}

#[tokio::test]
async fn extracting_the_session_several_times_reads_the_driver_once() {
    let (manager, driver) = counting_manager(SessionConfig::new());
    let mut c = HttpClient::new(serve(routes(manager)).await);
    c.send("GET", "/put", None).await;
    let before = driver.reads.load(Ordering::SeqCst);
    let r = c.send("GET", "/twice", None).await;
    assert_eq!(r.body, "2 true");
    assert_eq!(driver.reads.load(Ordering::SeqCst) - before, 1);
}

#[tokio::test]
async fn a_handler_that_never_extracts_costs_no_read_and_refreshes_only_when_due() {
    // The default `refresh`: nothing until 20% of the idle age has passed.
    let (manager, driver) = counting_manager(SessionConfig::new());
    let mut c = HttpClient::new(serve(routes(manager)).await);
    let r = c.send("GET", "/put", None).await;
    assert_eq!(r.cache_control.as_deref(), Some("private, no-store"));
    let (reads, touches) = (
        driver.reads.load(Ordering::SeqCst),
        driver.touches.load(Ordering::SeqCst),
    );
    let r = c.send("GET", "/untouched", None).await;
    assert_eq!(r.status, 200);
    assert!(r.set_cookies.is_empty(), "no cookie: {:?}", r.set_cookies);
    assert_eq!(r.cache_control, None, "the response stays cacheable");
    assert_eq!(driver.reads.load(Ordering::SeqCst), reads);
    assert_eq!(driver.touches.load(Ordering::SeqCst), touches);

    // `refresh = always`: every request slides the expiry, as the seed describes.
    let (manager, driver) = counting_manager(SessionConfig::new().with_refresh(Refresh::Always));
    let mut c = HttpClient::new(serve(routes(manager)).await);
    c.send("GET", "/put", None).await;
    let (reads, touches) = (
        driver.reads.load(Ordering::SeqCst),
        driver.touches.load(Ordering::SeqCst),
    );
    let r = c.send("GET", "/untouched", None).await;
    assert!(r.set_cookie("id").is_some(), "the id cookie is refreshed");
    assert_eq!(driver.reads.load(Ordering::SeqCst), reads);
    assert_eq!(driver.touches.load(Ordering::SeqCst), touches + 1);
}

#[tokio::test]
async fn a_readonly_session_reads_and_sets_no_cookie() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let mut c = HttpClient::new(serve(routes(manager)).await);
    c.send("GET", "/put", None).await;
    let r = c.send("GET", "/readonly", None).await;
    assert_eq!(r.body, "1");
    assert!(r.set_cookies.is_empty(), "{:?}", r.set_cookies);
}

#[tokio::test]
async fn responses_that_set_a_session_cookie_are_not_cacheable() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let base = serve(routes(manager)).await;
    let r = reqwest_like(&base, "/put").await;
    assert_eq!(r.0.as_deref(), Some("private, no-store"));
}

async fn reqwest_like(base: &str, path: &str) -> (Option<String>, u16) {
    // HttpClient does not expose other headers; a raw HTTP/1.1 exchange does.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cache = text
        .lines()
        .find_map(|l| l.strip_prefix("cache-control: ").map(str::to_owned));
    (cache, status)
}

#[tokio::test]
async fn a_storage_outage_is_a_fast_503_and_the_app_recovers() {
    let (manager, driver) = counting_manager(SessionConfig::new());
    let mut c = HttpClient::new(serve(routes(manager)).await);
    c.send("GET", "/put", None).await;
    driver.down.store(true, Ordering::SeqCst);
    let r = c.send("GET", "/twice", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.body,
        "Session storage is unavailable. Please try again shortly."
    );
    assert!(r.set_cookies.is_empty(), "no cookie with a failed request");
    let r = c.send("GET", "/untouched", None).await;
    assert_eq!(r.status, 200, "a route without sessions keeps working");
    driver.down.store(false, Ordering::SeqCst);
    let r = c.send("GET", "/twice", None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "2 true"));
}

#[tokio::test]
async fn a_failed_commit_replaces_the_response_and_the_handler_can_be_customized() {
    let (manager, driver) = counting_manager(SessionConfig::new());
    let layer = SessionLayer::new(manager).with_error_handler(|err| {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": err.to_string()})),
        )
            .into_response()
    });
    // The handler succeeds, then the storage fails at commit.
    let flag = driver.clone();
    let app = Router::new()
        .route(
            "/",
            get(move |session: Session| async move {
                session.put("n", 1)?;
                flag.down.store(true, Ordering::SeqCst);
                Ok::<_, Error>("claimed success")
            }),
        )
        .layer(layer);
    let mut c = HttpClient::new(serve(app).await);
    let r = c.send("GET", "/", None).await;
    assert_eq!(r.status, 503);
    assert!(
        r.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("backend is down")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("claimed success"));
}

#[tokio::test]
async fn an_oversized_cookie_session_is_a_clear_500() {
    let mut registry = DriverRegistry::new();
    session_cookie::register(&mut registry);
    let manager =
        SessionManager::builder(SessionConfig::new().with_driver("cookie").with_key(SECRET))
            .with_registry(registry)
            .build()
            .expect("valid");
    let app = Router::new()
        .route(
            "/big",
            get(|session: Session| async move {
                session.put("blob", "x".repeat(100_000))?;
                Ok::<_, Error>("stored?")
            }),
        )
        .layer(SessionLayer::new(manager));
    let mut c = HttpClient::new(serve(app).await);
    let r = c.send("GET", "/big", None).await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("too large"), "{}", r.body);
    assert!(r.set_cookies.is_empty());
}

#[tokio::test]
async fn a_disabled_configuration_passes_requests_through() {
    let (manager, driver) = counting_manager(SessionConfig::new().with_enabled(false));
    let app = Router::new()
        .route("/", get(|| async { "plain" }))
        .route("/needs", get(put))
        .layer(SessionLayer::new(manager));
    let mut c = HttpClient::new(serve(app).await);
    let r = c.send("GET", "/", None).await;
    assert_eq!(r.body, "plain");
    assert!(r.set_cookies.is_empty());
    let r = c.send("GET", "/needs", None).await;
    assert_eq!(
        r.status, 500,
        "extracting without an active layer is a usage error"
    );
    assert!(
        r.body
            .contains("not wrapped in `session_axum::SessionLayer`"),
        "the message names the missing layer: {}",
        r.body
    );
    assert_eq!(driver.reads.load(Ordering::SeqCst), 0);
}

#[test]
fn the_session_handle_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Session>();
    assert_traits::<SessionReader>();
    assert_traits::<FlashMessages>();
    assert_traits::<SessionLayer>();
}

#[tokio::test]
async fn flash_messages_extractor_shows_the_previous_requests_messages_once() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let app = Router::new()
        .route(
            "/set",
            get(|session: Session| async move {
                session.flash("message", "Hello world")?;
                Ok::<_, Error>("set")
            }),
        )
        .route(
            "/show",
            get(|flash: FlashMessages| async move { Json(json!(flash.all())) }),
        )
        .layer(SessionLayer::new(manager));
    let mut c = HttpClient::new(serve(app).await);
    c.send("GET", "/set", None).await;
    assert_eq!(
        c.send("GET", "/show", None).await.json(),
        json!({"message": "Hello world"})
    );
    assert_eq!(c.send("GET", "/show", None).await.json(), json!({}));
}

#[tokio::test]
async fn another_cookie_with_bytes_that_are_not_ascii_does_not_cost_the_session() {
    let (manager, _) = counting_manager(SessionConfig::new());
    let base = serve(routes(manager)).await;
    let mut c = HttpClient::new(base.clone());
    c.send("GET", "/put", None).await;
    let id = c.cookies()["id"].clone();
    // A Latin-1 byte and a UTF-8 character in cookies of other applications on the same host:
    // `HeaderValue::to_str` refuses both, and the session must still be found.
    for other in [&b"lang=caf\xe9"[..], "pref=caf\u{e9}".as_bytes()] {
        let mut header = other.to_vec();
        header.extend_from_slice(b"; id=");
        header.extend_from_slice(id.as_bytes());
        let (status, body) = raw_get(&base, "/readonly", &header).await;
        assert_eq!(status, 200);
        assert!(
            body.ends_with("\r\n\r\n1"),
            "the session was not read: {body:?}"
        );
    }
}

/// A GET with the given `Cookie` header bytes; the status and the whole answer.
async fn raw_get(base: &str, path: &str, cookie: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: ")
            .into_bytes();
    request.extend_from_slice(cookie);
    request.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&request).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
