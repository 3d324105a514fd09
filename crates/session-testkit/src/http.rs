//! The HTTP scenario suite: drives any running app that exposes the demo's JSON API, through a
//! real HTTP client with a cookie jar, over loopback.
//!
//! | request | effect | answer |
//! |---|---|---|
//! | `GET /api/session` | `all()` | 200, the store as JSON |
//! | `GET /api/session/{path}` | `get(path)` | 200, the value or `null` |
//! | `PUT /api/session/{path}` (JSON body) | `put` | 204 |
//! | `DELETE /api/session/{path}` | `forget` | 204 |
//! | `POST /api/session/{path}/increment`, `/decrement` | `increment`, `decrement` | 200, the new value; 422 with a JSON error when not a number |
//! | `DELETE /api/session` | `clear` | 204 |
//! | `POST /api/session/regenerate` | `regenerate` | 204 |
//! | `POST /api/flash` (JSON object) | `flash` of that object | 204; 422 when the body is not an object |
//! | `POST /api/reflash` | `reflash` | 204 |
//! | `GET /api/flash` | the previous request's flash messages | 200 |
//! | `GET /api/health` | nothing (never touches the session) | 200 |

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One response, read whole.
///
/// ```
/// use session_testkit::http::HttpResponse;
///
/// let response = HttpResponse {
///     status: 200,
///     body: r#"{"cart_total":1900}"#.into(),
///     set_cookies: vec!["id=abc.def; HttpOnly; SameSite=Lax; Path=/; Max-Age=7200".into()],
///     location: None,
///     cache_control: Some("private, no-store".into()),
/// };
/// assert_eq!(response.json()["cart_total"], 1900);
/// assert!(response.set_cookie("id").unwrap().contains("HttpOnly"));
/// ```
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// The raw `Set-Cookie` header values.
    pub set_cookies: Vec<String>,
    /// The `Location` header, for redirects.
    pub location: Option<String>,
    /// The `Cache-Control` header.
    pub cache_control: Option<String>,
}

impl HttpResponse {
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    ///
    /// ```
    /// use session_testkit::http::HttpResponse;
    ///
    /// let ok = HttpResponse { status: 200, body: "[1,2]".into(), set_cookies: vec![], location: None, cache_control: None };
    /// assert_eq!(ok.json(), serde_json::json!([1, 2]));
    /// let html = HttpResponse { status: 200, body: "<p>hi</p>".into(), set_cookies: vec![], location: None, cache_control: None };
    /// assert!(html.json().is_null());
    /// ```
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `Set-Cookie` value for `name`, if the response set it.
    ///
    /// ```
    /// use session_testkit::http::HttpResponse;
    ///
    /// let response = HttpResponse {
    ///     status: 204,
    ///     body: String::new(),
    ///     set_cookies: vec!["id=v; Path=/".into(), "id.1=; Max-Age=0; Path=/".into()],
    ///     location: None,
    ///     cache_control: None,
    /// };
    /// assert_eq!(response.set_cookie("id"), Some("id=v; Path=/"));
    /// assert!(response.set_cookie("id.1").unwrap().contains("Max-Age=0"));
    /// assert_eq!(response.set_cookie("i"), None); // whole names only
    /// ```
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.split('=').next() == Some(name))
            .map(String::as_str)
    }
}

/// An HTTP client with a cookie jar, like a browser: it keeps `Set-Cookie` values, deletes
/// cookies that are removed (empty value or `Max-Age=0`), and sends them back. Like browsers on
/// `localhost`, it sends `Secure` cookies to a loopback address over plain HTTP. Redirects are not
/// followed.
///
/// ```no_run
/// # async fn example() {
/// use session_testkit::http::HttpClient;
///
/// let mut client = HttpClient::new("http://127.0.0.1:3000");
/// let first = client.send("POST", "/api/session/cart_total/increment", None).await;
/// assert_eq!(first.status, 200);
/// assert!(client.cookies().contains_key("id")); // kept and sent back
/// let second = client.send("GET", "/api/session/cart_total", None).await;
/// assert_eq!(second.json(), 1);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HttpClient {
    base: String,
    client: reqwest::Client,
    jar: BTreeMap<String, String>,
}

impl HttpClient {
    /// A client for the app at `base` (such as `http://127.0.0.1:3000`).
    ///
    /// ```
    /// use session_testkit::http::HttpClient;
    ///
    /// let client = HttpClient::new("http://127.0.0.1:3000");
    /// assert!(client.cookies().is_empty());
    /// ```
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            client: Self::connection_pool(),
            jar: BTreeMap::new(),
        }
    }

    fn connection_pool() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    }

    /// Drops the pooled connections and keeps the cookies: the next request opens a new
    /// connection, as a browser does after a server closed one (a server may close a
    /// connection right after answering a request it refused, and a request sent on it at
    /// that moment fails in transport).
    fn reconnect(&mut self) {
        self.client = Self::connection_pool();
    }

    /// The cookies held.
    ///
    /// ```
    /// use session_testkit::http::HttpClient;
    ///
    /// let mut client = HttpClient::new("http://127.0.0.1:3000");
    /// client.set_cookie("id", "abc");
    /// assert_eq!(client.cookies().get("id").map(String::as_str), Some("abc"));
    /// ```
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.jar
    }

    /// Sets or replaces a cookie by hand.
    ///
    /// ```
    /// use session_testkit::http::HttpClient;
    ///
    /// let mut client = HttpClient::new("http://127.0.0.1:3000");
    /// client.set_cookie("id", "tampered.value"); // sent with the next request
    /// assert_eq!(client.cookies().len(), 1);
    /// ```
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.jar.insert(name.to_owned(), value.to_owned());
    }

    /// Sends a request and keeps the cookies of the response.
    ///
    /// # Panics
    ///
    /// Panics when the server cannot be reached (a test failure).
    ///
    /// ```no_run
    /// # async fn example() {
    /// use serde_json::json;
    /// use session_testkit::http::HttpClient;
    ///
    /// let mut client = HttpClient::new("http://127.0.0.1:3000");
    /// let put = client.send("PUT", "/api/session/user.name", Some(json!("Ada"))).await;
    /// assert_eq!(put.status, 204);
    /// let get = client.send("GET", "/api/session/user.name", None).await;
    /// assert_eq!(get.json(), json!("Ada"));
    /// # }
    /// ```
    pub async fn send(&mut self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        self.send_raw(
            method,
            path,
            body.map(|b| ("application/json", b.to_string())),
        )
        .await
    }

    /// Sends a form (`application/x-www-form-urlencoded`).
    ///
    /// ```no_run
    /// # async fn example() {
    /// use session_testkit::http::HttpClient;
    ///
    /// let mut client = HttpClient::new("http://127.0.0.1:3000");
    /// let response = client.send_form("/signup", &[("email", "ada@example.com"), ("password", "")]).await;
    /// assert_eq!(response.status, 303);
    /// assert_eq!(response.location.as_deref(), Some("/signup"));
    /// # }
    /// ```
    pub async fn send_form(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send_raw(
            "POST",
            path,
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
    }

    async fn send_raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, String)>,
    ) -> HttpResponse {
        self.try_send_raw(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("request to {path} failed: {e}"))
    }

    /// Sends a request; a transport error (such as a server that answered and closed the
    /// connection before reading a body it refused) is returned instead of panicking.
    async fn try_send_raw(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, String)>,
    ) -> Result<HttpResponse, reqwest::Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !self.jar.is_empty() {
            let header = self
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("cookie", header);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cache_control = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        for raw in &set_cookies {
            let mut parts = raw.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let removed =
                value.is_empty() || parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if removed {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
        Ok(HttpResponse {
            status,
            body,
            set_cookies,
            location,
            cache_control,
        })
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Stops and starts the app's storage backend (for the Redis-down scenario).
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use session_testkit::http::Backend;
///
/// /// A stand-in for a storage server that a test can take down.
/// #[derive(Default)]
/// struct Switch(AtomicBool);
///
/// impl Backend for Switch {
///     fn stop(&self) {
///         self.0.store(false, Ordering::SeqCst);
///     }
///     fn start(&self) {
///         self.0.store(true, Ordering::SeqCst);
///     }
/// }
///
/// let backend = Switch::default();
/// backend.start();
/// assert!(backend.0.load(Ordering::SeqCst));
/// ```
pub trait Backend: Send + Sync {
    /// Stops the backend (the server process is killed).
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use session_testkit::http::Backend;
    ///
    /// struct Logged(Mutex<Vec<&'static str>>);
    /// impl Backend for Logged {
    ///     fn stop(&self) { self.0.lock().unwrap().push("stop"); }
    ///     fn start(&self) { self.0.lock().unwrap().push("start"); }
    /// }
    ///
    /// let backend = Logged(Mutex::new(Vec::new()));
    /// backend.stop();
    /// assert_eq!(*backend.0.lock().unwrap(), ["stop"]);
    /// ```
    fn stop(&self);
    /// Starts it again on the same address.
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use session_testkit::http::Backend;
    ///
    /// struct Logged(Mutex<Vec<&'static str>>);
    /// impl Backend for Logged {
    ///     fn stop(&self) { self.0.lock().unwrap().push("stop"); }
    ///     fn start(&self) { self.0.lock().unwrap().push("start"); }
    /// }
    ///
    /// let backend = Logged(Mutex::new(Vec::new()));
    /// backend.stop();
    /// backend.start(); // on the same address
    /// assert_eq!(*backend.0.lock().unwrap(), ["stop", "start"]);
    /// ```
    fn start(&self);
}

/// A Redis server of the harness as the suite's backend: `stop` kills it, `start` restarts it
/// on the same port, so the outage scenario can run against the Redis driver.
///
/// ```no_run
/// use std::sync::{Arc, Mutex};
/// use session_testkit::http::Backend;
/// use session_testkit::redis_server::RedisServer;
///
/// let backend: Arc<dyn Backend> = Arc::new(Mutex::new(RedisServer::spawn()));
/// backend.stop();
/// backend.start();
/// ```
impl Backend for std::sync::Mutex<crate::redis_server::RedisServer> {
    fn stop(&self) {
        self.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }

    fn start(&self) {
        self.lock().unwrap_or_else(|e| e.into_inner()).restart();
    }
}

/// The app under test and what the suite may assume about it.
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use session_core::{Clock, ManualClock};
/// use session_testkit::http::Target;
///
/// let clock = ManualClock::new(0); // the clock the app under test was built with
/// let moved = clock.clone();
/// let target = Target {
///     base_url: "http://127.0.0.1:3000".into(),
///     driver: "memory".into(),
///     cookie_name: "id".into(),
///     age: Duration::from_secs(7200),
///     secure: false,
///     clear_with_browser: false,
///     atomic: true,
///     server_side: true,
///     advance_clock: Some(Arc::new(move |by| moved.advance(by))),
///     backend: None,
/// };
/// // The expiry scenario moves the app's clock past the age.
/// (target.advance_clock.as_ref().unwrap())(target.age);
/// assert_eq!(clock.now_ms(), 7_200_000);
/// ```
#[derive(Clone)]
pub struct Target {
    /// Where the app listens, such as `http://127.0.0.1:3000`.
    pub base_url: String,
    /// The driver's name (for messages).
    pub driver: String,
    /// The id cookie's name.
    pub cookie_name: String,
    /// The configured idle age.
    pub age: Duration,
    /// Whether the app sets `Secure` on its cookies.
    pub secure: bool,
    /// Whether `clear_with_browser` is on.
    pub clear_with_browser: bool,
    /// Whether the driver has the atomic update (exact concurrent increments).
    pub atomic: bool,
    /// Whether the state is kept on the server, so a retired id stops working at once. With the
    /// cookie driver the state is in the browser: a copy of the old cookies keeps opening until it
    /// expires, and the regenerate scenario does not check the old id.
    pub server_side: bool,
    /// Moves the app's clock forward, when the app was built with a manual clock.
    pub advance_clock: Option<Arc<dyn Fn(Duration) + Send + Sync>>,
    /// Controls the storage backend, for the outage scenario.
    pub backend: Option<Arc<dyn Backend>>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("base_url", &self.base_url)
            .field("driver", &self.driver)
            .field("atomic", &self.atomic)
            .finish_non_exhaustive()
    }
}

/// The HTTP scenario suite.
///
/// ```no_run
/// # async fn run() {
/// use std::time::Duration;
/// use session_testkit::http::{HttpScenarios, Target};
///
/// let report = HttpScenarios::new(Target {
///     base_url: "http://127.0.0.1:3000".into(),
///     driver: "cookie".into(),
///     cookie_name: "id".into(),
///     age: Duration::from_secs(7200),
///     secure: false,
///     clear_with_browser: false,
///     atomic: false,
///     server_side: false,
///     advance_clock: None,
///     backend: None,
/// })
/// .run()
/// .await;
/// println!("{report:?}");
/// # }
/// ```
#[derive(Debug)]
pub struct HttpScenarios {
    target: Target,
}

impl HttpScenarios {
    /// A suite against `target`.
    ///
    /// ```
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// use session_testkit::http::HttpScenarios;
    ///
    /// // `target()` describes an app listening on 127.0.0.1:3000.
    /// let suite = HttpScenarios::new(target());
    /// assert!(format!("{suite:?}").contains("memory"));
    /// ```
    pub fn new(target: Target) -> Self {
        Self { target }
    }

    fn client(&self) -> HttpClient {
        HttpClient::new(self.target.base_url.clone())
    }

    fn fail(&self, case: &str, what: impl fmt::Display) -> ! {
        panic!("[http/{}] {case}: {what}", self.target.driver)
    }

    fn expect(&self, case: &str, ok: bool, what: impl fmt::Display) {
        if !ok {
            self.fail(case, what);
        }
    }

    /// Runs every scenario the target supports; returns the names of those that ran.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let ran = HttpScenarios::new(target()).run().await;
    /// assert!(ran.contains(&"store_methods"));
    /// assert!(ran.contains(&"concurrent_increments")); // the target is atomic
    /// assert!(!ran.contains(&"backend_outage")); // no backend control given
    /// # }
    /// ```
    pub async fn run(&self) -> Vec<&'static str> {
        let mut ran = vec![
            self.store_methods().await,
            self.flash_across_requests().await,
            self.reflash().await,
            self.flash_survives_untouched_requests().await,
            self.regenerate().await,
            self.tampered_cookies().await,
            self.cookie_attributes().await,
            self.hostile_input().await,
            self.one_id_per_visitor().await,
        ];
        if self.target.advance_clock.is_some() {
            ran.push(self.expired_cookies().await);
        }
        if self.target.atomic {
            ran.push(self.concurrent_increments().await);
        }
        if self.target.backend.is_some() {
            ran.push(self.backend_outage().await);
        }
        ran
    }

    /// Every store method through the JSON API.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.store_methods().await, "store_methods");
    /// # }
    /// ```
    pub async fn store_methods(&self) -> &'static str {
        let case = "store_methods";
        let mut c = self.client();
        let r = c
            .send("PUT", "/api/session/user.name", Some(json!("ada")))
            .await;
        self.expect(case, r.status == 204, format!("put: {}", r.status));
        let r = c
            .send("PUT", "/api/session/cart_total", Some(json!(1900)))
            .await;
        self.expect(case, r.status == 204, format!("put: {}", r.status));
        let r = c.send("GET", "/api/session/user[name]", None).await;
        self.expect(case, r.json() == json!("ada"), format!("get: {}", r.body));
        let r = c.send("GET", "/api/session", None).await;
        self.expect(
            case,
            r.json() == json!({"user": {"name": "ada"}, "cart_total": 1900}),
            format!("all: {}", r.body),
        );
        let r = c.send("POST", "/api/session/views/increment", None).await;
        self.expect(
            case,
            r.status == 200 && r.json() == json!(1),
            format!("increment: {} {}", r.status, r.body),
        );
        let r = c.send("POST", "/api/session/views/increment", None).await;
        self.expect(case, r.json() == json!(2), format!("increment: {}", r.body));
        let r = c.send("POST", "/api/session/views/decrement", None).await;
        self.expect(case, r.json() == json!(1), format!("decrement: {}", r.body));
        let r = c
            .send("POST", "/api/session/user.name/increment", None)
            .await;
        self.expect(
            case,
            r.status == 422
                && r.json()["error"]
                    == json!("Cannot increment \"user.name\". Existing value is not a number"),
            format!("increment of a string: {} {}", r.status, r.body),
        );
        let r = c.send("DELETE", "/api/session/user.name", None).await;
        self.expect(case, r.status == 204, format!("forget: {}", r.status));
        let r = c.send("GET", "/api/session/user.name", None).await;
        self.expect(
            case,
            r.json() == Value::Null,
            format!("after forget: {}", r.body),
        );
        let r = c.send("GET", "/api/session/user", None).await;
        self.expect(
            case,
            r.json() == json!({}),
            format!("emptied parent: {}", r.body),
        );
        let r = c.send("DELETE", "/api/session", None).await;
        self.expect(case, r.status == 204, format!("clear: {}", r.status));
        let r = c.send("GET", "/api/session", None).await;
        self.expect(
            case,
            r.json() == json!({}),
            format!("after clear: {}", r.body),
        );
        case
    }

    /// Hostile input gets a 4xx and harms nothing: a 10,000-segment key path, a path one segment
    /// past the default limit (after a write at the limit), a 5,000-level form key flashed back by
    /// the sign-up form, values nested 40 and 130 levels, a 10 MB body, flash bodies that are not
    /// objects and a path that is not UTF-8. After each, the server still answers and the session
    /// still holds what was written before. Reading and incrementing an array element (`arr.0`)
    /// work.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// assert_eq!(HttpScenarios::new(target()).hostile_input().await, "hostile_input");
    /// # }
    /// ```
    pub async fn hostile_input(&self) -> &'static str {
        let case = "hostile_input";
        let mut c = self.client();
        let r = c.send("PUT", "/api/session/keep", Some(json!("me"))).await;
        self.expect(
            case,
            r.status == 204,
            format!("put: {} {}", r.status, r.body),
        );
        let r = c
            .send("PUT", "/api/session/arr", Some(json!([1, {"n": 1}])))
            .await;
        self.expect(case, r.status == 204, format!("put arr: {}", r.status));
        let r = c.send("POST", "/api/session/arr.0/increment", None).await;
        self.expect(
            case,
            r.status == 200 && r.json() == json!(2),
            format!("increment arr.0: {} {}", r.status, r.body),
        );
        let r = c.send("GET", "/api/session/arr.0", None).await;
        self.expect(case, r.json() == json!(2), format!("get arr.0: {}", r.body));
        let expected = json!({"keep": "me", "arr": [2, {"n": 1}]});

        let deepest = vec!["d"; 32].join(".");
        let r = c
            .send("PUT", &format!("/api/session/{deepest}"), Some(json!(1)))
            .await;
        self.expect(
            case,
            r.status == 204,
            format!("a path at the limit: {} {}", r.status, r.body),
        );
        let r = c.send("DELETE", "/api/session/d", None).await;
        self.expect(case, r.status == 204, format!("forget d: {}", r.status));

        let nested = |levels: usize| {
            let mut value = json!(1);
            for _ in 0..levels {
                value = json!({ "x": value });
            }
            value
        };
        let flood = |segments: usize| format!("/api/session/{}", vec!["a"; segments].join("."));
        let attempts: Vec<(&str, &str, String, Option<String>)> = vec![
            (
                "a 10,000-segment path",
                "PUT",
                flood(10_000),
                Some("1".into()),
            ),
            (
                "a 33-segment path",
                "PUT",
                format!("/api/session/{deepest}.e"),
                Some("1".into()),
            ),
            ("a 10,000-segment read", "GET", flood(10_000), None),
            (
                "a 40-level value",
                "PUT",
                "/api/session/v".into(),
                Some(nested(40).to_string()),
            ),
            (
                "a 130-level value",
                "PUT",
                "/api/session/v".into(),
                Some(nested(130).to_string()),
            ),
            (
                "a 10 MB body",
                "PUT",
                "/api/session/big".into(),
                Some(json!("x".repeat(10 << 20)).to_string()),
            ),
            (
                "a string flash body",
                "POST",
                "/api/flash".into(),
                Some("\"hi\"".into()),
            ),
            (
                "an array flash body",
                "POST",
                "/api/flash".into(),
                Some("[1,2]".into()),
            ),
            (
                "a malformed path",
                "PUT",
                "/api/session/a..b".into(),
                Some("1".into()),
            ),
            (
                "the reserved flash key",
                "PUT",
                "/api/session/__flash__".into(),
                Some("1".into()),
            ),
            (
                "a path that is not UTF-8",
                "GET",
                "/api/session/%FF%FE".into(),
                None,
            ),
        ];
        for (what, method, path, body) in attempts {
            let big = body.as_ref().is_some_and(|b| b.len() > 1 << 20);
            match c
                .try_send_raw(method, &path, body.map(|b| ("application/json", b)))
                .await
            {
                Ok(r) => self.expect(
                    case,
                    (400..500).contains(&r.status),
                    format!(
                        "{what}: {} {}",
                        r.status,
                        r.body.chars().take(200).collect::<String>()
                    ),
                ),
                // A server may answer 413 and close the connection while a large body is still
                // being sent; the client then sees the closed connection instead of the answer,
                // and the checks below show that the server still serves.
                Err(e) if big => eprintln!("[http/{}] {what}: {e}", self.target.driver),
                Err(e) => self.fail(case, format!("{what}: {e}")),
            }
            c.reconnect();
            self.still_holds(case, &mut c, &expected, what).await;
        }
        let r = c.send("POST", "/api/flash", Some(json!("hi"))).await;
        self.expect(
            case,
            r.status == 422,
            format!("a non-object flash body: {} {}", r.status, r.body),
        );

        // The sign-up form flashes its input back; a form key nested 5,000 levels deep.
        let key = format!("a{}", "[b]".repeat(5_000));
        let r = c
            .send_form("/signup", &[(key.as_str(), "x"), ("email", "")])
            .await;
        self.expect(
            case,
            (400..500).contains(&r.status),
            format!("a 5,000-level form key: {} {}", r.status, r.body),
        );
        c.reconnect();
        self.still_holds(case, &mut c, &expected, "the form key")
            .await;
        case
    }

    /// Checks that the server answers and that the session holds `expected`.
    async fn still_holds(&self, case: &str, c: &mut HttpClient, expected: &Value, after: &str) {
        let r = c.send("GET", "/api/health", None).await;
        self.expect(
            case,
            r.status == 200,
            format!("health after {after}: {}", r.status),
        );
        let r = c.send("GET", "/api/session", None).await;
        self.expect(
            case,
            r.json() == *expected,
            format!("the session after {after}: {} {}", r.status, r.body),
        );
    }

    /// A flashed message is shown on the next request only.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.flash_across_requests().await, "flash_across_requests");
    /// # }
    /// ```
    pub async fn flash_across_requests(&self) -> &'static str {
        let case = "flash_across_requests";
        let mut c = self.client();
        let r = c
            .send(
                "POST",
                "/api/flash",
                Some(json!({"message": "Hello world", "errors": {"title": "required"}})),
            )
            .await;
        self.expect(case, r.status == 204, format!("flash: {}", r.status));
        let r = c.send("GET", "/api/flash", None).await;
        self.expect(
            case,
            r.json() == json!({"message": "Hello world", "errors": {"title": "required"}}),
            format!("next request: {}", r.body),
        );
        let r = c.send("GET", "/api/flash", None).await;
        self.expect(
            case,
            r.json() == json!({}),
            format!("third request: {}", r.body),
        );
        case
    }

    /// `reflash` carries the messages one more request.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.reflash().await, "reflash");
    /// # }
    /// ```
    pub async fn reflash(&self) -> &'static str {
        let case = "reflash";
        let mut c = self.client();
        c.send("POST", "/api/flash", Some(json!({"notice": 1})))
            .await;
        let r = c.send("POST", "/api/reflash", None).await;
        self.expect(case, r.status == 204, format!("reflash: {}", r.status));
        let r = c.send("GET", "/api/flash", None).await;
        self.expect(
            case,
            r.json() == json!({"notice": 1}),
            format!("after reflash: {}", r.body),
        );
        let r = c.send("GET", "/api/flash", None).await;
        self.expect(
            case,
            r.json() == json!({}),
            format!("then gone: {}", r.body),
        );
        case
    }

    /// A request that never uses the session does not consume flash messages.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.flash_survives_untouched_requests().await, "flash_survives_untouched_requests");
    /// # }
    /// ```
    pub async fn flash_survives_untouched_requests(&self) -> &'static str {
        let case = "flash_survives_untouched_requests";
        let mut c = self.client();
        c.send("POST", "/api/flash", Some(json!({"m": false})))
            .await;
        let r = c.send("GET", "/api/health", None).await;
        self.expect(case, r.status == 200, format!("health: {}", r.status));
        let r = c.send("GET", "/api/flash", None).await;
        self.expect(
            case,
            r.json() == json!({"m": false}),
            format!("after untouched: {}", r.body),
        );
        case
    }

    /// `regenerate` issues a new id cookie, keeps the data, and retires the old id.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.regenerate().await, "regenerate");
    /// # }
    /// ```
    pub async fn regenerate(&self) -> &'static str {
        let case = "regenerate";
        let name = self.target.cookie_name.as_str();
        let mut c = self.client();
        c.send("PUT", "/api/session/cart", Some(json!([1, 2])))
            .await;
        let old = c.clone();
        let before = c.cookies().get(name).cloned();
        let r = c.send("POST", "/api/session/regenerate", None).await;
        self.expect(case, r.status == 204, format!("regenerate: {}", r.status));
        let after = c.cookies().get(name).cloned();
        self.expect(
            case,
            after.is_some() && after != before,
            "the id cookie did not change",
        );
        let r = c.send("GET", "/api/session/cart", None).await;
        self.expect(
            case,
            r.json() == json!([1, 2]),
            format!("data after regenerate: {}", r.body),
        );
        if self.target.server_side {
            let mut old = old;
            let r = old.send("GET", "/api/session", None).await;
            self.expect(
                case,
                r.json() == json!({}),
                format!("the old id still works: {}", r.body),
            );
        }
        case
    }

    /// Tampered id and data cookies give a fresh session, never an error.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.tampered_cookies().await, "tampered_cookies");
    /// # }
    /// ```
    pub async fn tampered_cookies(&self) -> &'static str {
        let case = "tampered_cookies";
        let mut c = self.client();
        c.send("PUT", "/api/session/secret", Some(json!("s3")))
            .await;
        let cookies: Vec<(String, String)> = c
            .cookies()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, value) in &cookies {
            for tampered in [
                format!("x{value}"),
                value.chars().rev().collect::<String>(),
                String::from("%%%not-base64%%%"),
                "A".repeat(3000),
            ] {
                let mut t = c.clone();
                t.set_cookie(name, &tampered);
                let r = t.send("GET", "/api/session/secret", None).await;
                self.expect(
                    case,
                    r.status == 200 && r.json() == Value::Null,
                    format!("cookie {name} tampered: {} {}", r.status, r.body),
                );
            }
        }
        case
    }

    /// A session past its idle age is gone, whatever cookie the client still has.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// // Needs `Target::advance_clock`.
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.expired_cookies().await, "expired_cookies");
    /// # }
    /// ```
    pub async fn expired_cookies(&self) -> &'static str {
        let case = "expired_cookies";
        let Some(advance) = self.target.advance_clock.clone() else {
            return case;
        };
        let mut c = self.client();
        c.send("PUT", "/api/session/n", Some(json!(1))).await;
        let name = self.target.cookie_name.as_str();
        let id_of = |c: &HttpClient| {
            c.cookies()
                .get(name)
                .map(|v| v.chars().take(43).collect::<String>())
        };
        let stored = id_of(&c);
        advance(self.target.age + Duration::from_secs(1));
        let r = c.send("GET", "/api/session", None).await;
        self.expect(
            case,
            r.status == 200 && r.json() == json!({}),
            format!("expired: {}", r.body),
        );
        self.expect(
            case,
            id_of(&c) != stored,
            "the expired session's id was adopted again",
        );
        case
    }

    /// A visitor keeps one id while the session stays empty: three requests that read (but never
    /// write) the session, with a cookie jar, see one id, and nothing is stored. After a logout
    /// (`DELETE /api/session`) the visitor gets another id, and on a server-side driver the
    /// cookie from before the logout, replayed, gives a fresh, empty session with yet another id.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// assert_eq!(HttpScenarios::new(target()).one_id_per_visitor().await, "one_id_per_visitor");
    /// # }
    /// ```
    pub async fn one_id_per_visitor(&self) -> &'static str {
        let case = "one_id_per_visitor";
        let name = self.target.cookie_name.as_str();
        let id_of = |c: &HttpClient| -> String {
            c.cookies()
                .get(name)
                .map(|v| v.chars().take(43).collect())
                .unwrap_or_else(|| self.fail(case, "no id cookie"))
        };
        let mut c = self.client();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let r = c.send("GET", "/api/session", None).await;
            self.expect(
                case,
                r.status == 200 && r.json() == json!({}),
                format!("an empty session: {} {}", r.status, r.body),
            );
            seen.push(id_of(&c));
        }
        seen.dedup();
        self.expect(
            case,
            seen.len() == 1,
            format!("three requests of an empty session saw {} ids", seen.len()),
        );

        c.send("PUT", "/api/session/n", Some(json!(1))).await;
        let stored = id_of(&c);
        let before_logout = c.clone();
        let r = c.send("DELETE", "/api/session", None).await;
        self.expect(case, r.status == 204, format!("logout: {}", r.status));
        let after = id_of(&c);
        self.expect(
            case,
            after != stored,
            "the logout kept the id of the destroyed session",
        );
        if self.target.server_side {
            let mut replay = before_logout;
            let r = replay.send("GET", "/api/session", None).await;
            self.expect(
                case,
                r.status == 200 && r.json() == json!({}),
                format!("the destroyed session's cookie opened: {}", r.body),
            );
            let replayed = id_of(&replay);
            self.expect(
                case,
                replayed != stored && replayed != after,
                "the destroyed session's id was adopted again",
            );
        }
        case
    }

    /// The id cookie's attributes, one by one.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.cookie_attributes().await, "cookie_attributes");
    /// # }
    /// ```
    pub async fn cookie_attributes(&self) -> &'static str {
        let case = "cookie_attributes";
        let name = self.target.cookie_name.as_str();
        let mut c = self.client();
        let r = c.send("GET", "/api/session", None).await;
        let cookie = r
            .set_cookie(name)
            .unwrap_or_else(|| self.fail(case, "no id cookie on a first visit"));
        let attrs: Vec<String> = cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        let has = |a: &str| attrs.iter().any(|x| x == a);
        self.expect(case, has("httponly"), format!("HttpOnly missing: {cookie}"));
        self.expect(
            case,
            has("samesite=lax"),
            format!("SameSite=Lax missing: {cookie}"),
        );
        self.expect(
            case,
            has("secure") == self.target.secure,
            format!("Secure should be {}: {cookie}", self.target.secure),
        );
        self.expect(case, has("path=/"), format!("Path=/ missing: {cookie}"));
        let max_age = attrs.iter().find_map(|a| a.strip_prefix("max-age="));
        if self.target.clear_with_browser {
            self.expect(
                case,
                max_age.is_none() && !attrs.iter().any(|a| a.starts_with("expires=")),
                format!("a browser-session cookie has no Max-Age or Expires: {cookie}"),
            );
        } else {
            self.expect(
                case,
                max_age == Some(self.target.age.as_secs().to_string().as_str()),
                format!("Max-Age should be {}: {cookie}", self.target.age.as_secs()),
            );
        }
        self.expect(
            case,
            r.cache_control.as_deref() == Some("private, no-store"),
            format!(
                "a response that sets the id cookie is not cacheable: {:?}",
                r.cache_control
            ),
        );
        // An unchanged session is refreshed only once 20% of the idle age has passed (the
        // default `refresh`): until then, no cookie, and the response stays cacheable.
        for path in ["/api/health", "/api/session"] {
            let r = c.send("GET", path, None).await;
            self.expect(
                case,
                r.set_cookies.is_empty() && r.cache_control.is_none(),
                format!(
                    "GET {path} right after the first visit set {:?} (Cache-Control {:?})",
                    r.set_cookies, r.cache_control
                ),
            );
        }
        if let Some(advance) = &self.target.advance_clock {
            advance(self.target.age / 4);
            let r = c.send("GET", "/api/health", None).await;
            let refreshed = r.set_cookie(name).unwrap_or_else(|| {
                self.fail(case, "no refreshed id cookie after 25% of the idle age")
            });
            if !self.target.clear_with_browser {
                let max_age = format!("max-age={}", self.target.age.as_secs());
                self.expect(
                    case,
                    refreshed.to_ascii_lowercase().contains(&max_age),
                    format!("the refreshed cookie should have {max_age}: {refreshed}"),
                );
            }
        }
        case
    }

    /// 200 concurrent increments with one cookie end at exactly 200.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// // Needs `Target::atomic`.
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.concurrent_increments().await, "concurrent_increments");
    /// # }
    /// ```
    pub async fn concurrent_increments(&self) -> &'static str {
        let case = "concurrent_increments";
        let mut c = self.client();
        c.send("PUT", "/api/session/n", Some(json!(0))).await;
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let mut c = c.clone();
            tasks.push(tokio::spawn(async move {
                let r = c.send("POST", "/api/session/n/increment", None).await;
                (r.status, r.body)
            }));
        }
        for t in tasks {
            let (status, body) = t.await.unwrap_or((0, String::new()));
            self.expect(
                case,
                status == 200,
                format!("an increment answered {status}: {body}"),
            );
        }
        let r = c.send("GET", "/api/session/n", None).await;
        self.expect(
            case,
            r.json() == json!(200),
            format!("200 concurrent increments ended at {}", r.body),
        );
        case
    }

    /// With the backend down, requests get a fast 503 with a clear body; once it is back, the
    /// same app works again.
    ///
    /// ```no_run
    /// # fn target() -> session_testkit::http::Target {
    /// #     session_testkit::http::Target {
    /// #         base_url: "http://127.0.0.1:3000".into(),
    /// #         driver: "memory".into(),
    /// #         cookie_name: "id".into(),
    /// #         age: std::time::Duration::from_secs(7200),
    /// #         secure: false,
    /// #         clear_with_browser: false,
    /// #         atomic: true,
    /// #         server_side: true,
    /// #         advance_clock: None,
    /// #         backend: None,
    /// #     }
    /// # }
    /// # async fn example() {
    /// use session_testkit::http::HttpScenarios;
    ///
    /// // Needs `Target::backend`.
    /// let suite = HttpScenarios::new(target());
    /// assert_eq!(suite.backend_outage().await, "backend_outage");
    /// # }
    /// ```
    pub async fn backend_outage(&self) -> &'static str {
        let case = "backend_outage";
        let Some(backend) = self.target.backend.clone() else {
            return case;
        };
        let mut c = self.client();
        c.send("PUT", "/api/session/n", Some(json!(1))).await;
        backend.stop();
        let started = Instant::now();
        let r = c.send("GET", "/api/session/n", None).await;
        let took = started.elapsed();
        backend.start();
        self.expect(
            case,
            r.status == 503,
            format!("with the backend down: {} {}", r.status, r.body),
        );
        self.expect(case, !r.body.is_empty(), "the 503 has a body");
        self.expect(
            case,
            took < Duration::from_secs(10),
            format!("the 503 took {took:?}"),
        );
        let mut ok = false;
        for _ in 0..50 {
            let r = c.send("PUT", "/api/session/n", Some(json!(2))).await;
            if r.status == 204 {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.expect(
            case,
            ok,
            "the app did not recover after the backend came back",
        );
        case
    }
}
