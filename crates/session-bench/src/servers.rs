//! The benchmarked HTTP servers: the same four routes on every one of them.
//!
//! | route | with sessions |
//! |---|---|
//! | `/read` | reads the integer `n` (0 when missing) and answers it |
//! | `/write` | adds one to `n` (ours: `increment`; peers: get, add one, insert) |
//! | `/login` | regenerates the id (tower-sessions `cycle_id`, actix-session `renew`), then `/write` |
//! | `/untouched` | never uses the session; the client still sends its session cookie |
//!
//! Servers without sessions answer the same routes with a constant. The two *minimal session*
//! servers are a reference, not a library: each handler reads the id from the `Cookie` header,
//! looks it up in one process-wide map under a lock and answers with the same `Set-Cookie` and
//! `Cache-Control` bytes as ours (an unsigned id of the same length, no expiry, no middleware),
//! which is about the least any session layer that sends its cookie on every response can do.

use std::net::SocketAddr;
use std::path::Path;

use session_kit::{SessionConfig, SessionManager};

/// The secret the servers sign and seal with (a benchmark needs no real secret).
const KEY: &str = "session-bench secret key of more than thirty-two bytes";

/// The web framework a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    Actix,
}

/// Who wrote the session layer of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// No sessions at all: the framework's own speed.
    Bare,
    /// The minimal session (a reference, see the module documentation).
    Floor,
    /// This workspace's crates.
    Ours,
    /// tower-sessions or actix-session.
    Peer,
}

/// Every benchmarked server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    AxumBare,
    AxumFloor,
    AxumCookie,
    AxumMemory,
    AxumFile,
    AxumRedis,
    AxumRedisCached,
    /// Ours with the SQL driver (`session-sql`) on PostgreSQL, its default options.
    AxumPostgres,
    TowerMemory,
    TowerRedis,
    /// tower-sessions with `tower-sessions-sqlx-store`'s `PostgresStore`, as documented.
    TowerPostgres,
    ActixBare,
    ActixFloor,
    ActixCookie,
    ActixRedis,
    ActixRedisCached,
    ActixSessionCookie,
    ActixSessionRedis,
}

impl Server {
    /// All servers, in report order.
    pub(crate) const ALL: [Server; 18] = [
        Self::AxumBare,
        Self::AxumFloor,
        Self::AxumCookie,
        Self::AxumMemory,
        Self::AxumFile,
        Self::AxumRedis,
        Self::AxumRedisCached,
        Self::AxumPostgres,
        Self::TowerMemory,
        Self::TowerRedis,
        Self::TowerPostgres,
        Self::ActixBare,
        Self::ActixFloor,
        Self::ActixCookie,
        Self::ActixRedis,
        Self::ActixRedisCached,
        Self::ActixSessionCookie,
        Self::ActixSessionRedis,
    ];

    /// The name used on the command line.
    pub(crate) fn slug(self) -> &'static str {
        match self {
            Self::AxumBare => "axum-bare",
            Self::AxumFloor => "axum-minimal",
            Self::AxumCookie => "axum-cookie",
            Self::AxumMemory => "axum-memory",
            Self::AxumFile => "axum-file",
            Self::AxumRedis => "axum-redis",
            Self::AxumRedisCached => "axum-redis-cached",
            Self::AxumPostgres => "axum-postgres",
            Self::TowerMemory => "tower-sessions-memory",
            Self::TowerRedis => "tower-sessions-redis",
            Self::TowerPostgres => "tower-sessions-postgres",
            Self::ActixBare => "actix-bare",
            Self::ActixFloor => "actix-minimal",
            Self::ActixCookie => "actix-cookie",
            Self::ActixRedis => "actix-redis",
            Self::ActixRedisCached => "actix-redis-cached",
            Self::ActixSessionCookie => "actix-session-cookie",
            Self::ActixSessionRedis => "actix-session-redis",
        }
    }

    /// The name used in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::AxumBare => "axum, no sessions",
            Self::AxumFloor => "axum, minimal session (reference)",
            Self::AxumCookie => "axum + ours, cookie",
            Self::AxumMemory => "axum + ours, memory",
            Self::AxumFile => "axum + ours, file",
            Self::AxumRedis => "axum + ours, Redis",
            Self::AxumRedisCached => "axum + ours, Redis, local cache",
            Self::AxumPostgres => "axum + ours, PostgreSQL",
            Self::TowerMemory => "tower-sessions, MemoryStore",
            Self::TowerRedis => "tower-sessions, RedisStore",
            Self::TowerPostgres => "tower-sessions, PostgresStore",
            Self::ActixBare => "actix-web, no sessions",
            Self::ActixFloor => "actix-web, minimal session (reference)",
            Self::ActixCookie => "actix-web + ours, cookie",
            Self::ActixRedis => "actix-web + ours, Redis",
            Self::ActixRedisCached => "actix-web + ours, Redis, local cache",
            Self::ActixSessionCookie => "actix-session, CookieSessionStore",
            Self::ActixSessionRedis => "actix-session, RedisSessionStore",
        }
    }

    pub(crate) fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.slug() == slug)
    }

    pub(crate) fn framework(self) -> Framework {
        match self {
            Self::AxumBare
            | Self::AxumFloor
            | Self::AxumCookie
            | Self::AxumMemory
            | Self::AxumFile
            | Self::AxumRedis
            | Self::AxumRedisCached
            | Self::AxumPostgres
            | Self::TowerMemory
            | Self::TowerRedis
            | Self::TowerPostgres => Framework::Axum,
            _ => Framework::Actix,
        }
    }

    pub(crate) fn side(self) -> Side {
        match self {
            Self::AxumBare | Self::ActixBare => Side::Bare,
            Self::AxumFloor | Self::ActixFloor => Side::Floor,
            Self::TowerMemory
            | Self::TowerRedis
            | Self::TowerPostgres
            | Self::ActixSessionCookie
            | Self::ActixSessionRedis => Side::Peer,
            _ => Side::Ours,
        }
    }

    /// Whether the server needs the benchmark's Redis.
    pub(crate) fn uses_redis(self) -> bool {
        matches!(
            self,
            Self::AxumRedis
                | Self::AxumRedisCached
                | Self::TowerRedis
                | Self::ActixRedis
                | Self::ActixRedisCached
                | Self::ActixSessionRedis
        )
    }

    /// The PostgreSQL database of the server, when it keeps its sessions there: each of the
    /// two has its own, which the run creates at the start of every round and drops at the end
    /// (`postgres.rs`).
    pub(crate) fn postgres_database(self) -> Option<&'static str> {
        match self {
            Self::AxumPostgres => Some("session_bench_ours"),
            Self::TowerPostgres => Some("session_bench_tower"),
            _ => None,
        }
    }

    /// Whether the server needs the benchmark's PostgreSQL.
    pub(crate) fn uses_postgres(self) -> bool {
        self.postgres_database().is_some()
    }

    /// Whether the session lives in the cookie (concurrent increments cannot merge there).
    pub(crate) fn client_side(self) -> bool {
        matches!(
            self,
            Self::AxumCookie | Self::ActixCookie | Self::ActixSessionCookie
        )
    }

    /// The same framework without sessions.
    pub(crate) fn baseline(self) -> Server {
        match self.framework() {
            Framework::Axum => Self::AxumBare,
            Framework::Actix => Self::ActixBare,
        }
    }

    /// The peer this server is compared with: the same framework and the same kind of store.
    /// tower-sessions has no cookie store, so axum's cookie driver is compared with its memory
    /// store (the fastest it has); no peer has a file store.
    pub(crate) fn peer(self) -> Option<Server> {
        match self {
            Self::AxumCookie | Self::AxumMemory => Some(Self::TowerMemory),
            Self::AxumRedis | Self::AxumRedisCached => Some(Self::TowerRedis),
            Self::AxumPostgres => Some(Self::TowerPostgres),
            Self::ActixCookie => Some(Self::ActixSessionCookie),
            Self::ActixRedis | Self::ActixRedisCached => Some(Self::ActixSessionRedis),
            _ => None,
        }
    }
}

/// Where a server runs and what it needs.
#[derive(Debug, Clone)]
pub(crate) struct ServeOptions {
    pub(crate) addr: SocketAddr,
    pub(crate) redis_url: Option<String>,
    /// The URL of the server's own PostgreSQL database (`--postgres-url`).
    pub(crate) postgres_url: Option<String>,
    pub(crate) dir: std::path::PathBuf,
    pub(crate) workers: usize,
}

/// Runs `server` until the process is killed.
pub(crate) fn serve(server: Server, options: &ServeOptions) -> Result<(), String> {
    match server.framework() {
        Framework::Axum => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(options.workers)
                .enable_all()
                .build()
                .map_err(|e| format!("runtime: {e}"))?;
            runtime.block_on(axum_servers::serve(server, options))
        }
        Framework::Actix => actix_web::rt::System::new()
            .block_on(actix_servers::serve(server, options))
            .map_err(|e| format!("actix server: {e}")),
    }
}

/// A manager of ours for `driver` (`redis-cached`: the Redis driver with its local cache;
/// `postgres`: the SQL driver on `--postgres-url`, with its default options). The facade's
/// registry, with the SQL driver's registered on top of it.
fn manager(driver: &str, options: &ServeOptions) -> Result<SessionManager, String> {
    let name = driver.strip_suffix("-cached").unwrap_or(driver);
    let mut config = SessionConfig::new().with_driver(name).with_key(KEY);
    match driver {
        "file" => {
            config = config.with_section(
                "file",
                serde_json::json!({ "location": path_text(&options.dir.join("sessions"))? }),
            );
        }
        "redis" | "redis-cached" => {
            let url = options
                .redis_url
                .clone()
                .ok_or("the redis driver needs --redis-url")?;
            let mut section = serde_json::json!({ "url": url });
            if let Some(size) = std::env::var("BENCH_REDIS_POOL")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                section["pool_size"] = size.into();
            }
            if driver == "redis-cached" {
                section["local_cache"] = 10_000.into();
            }
            config = config.with_section("redis", section);
        }
        "postgres" => {
            let url = options
                .postgres_url
                .clone()
                .ok_or("the postgres driver needs --postgres-url")?;
            config = config.with_section("postgres", serde_json::json!({ "url": url }));
        }
        _ => {}
    }
    let mut registry = session_kit::registry();
    session_sql::register(&mut registry);
    SessionManager::builder(config)
        .with_registry(registry)
        .build()
        .map_err(|e| format!("session manager: {e}"))
}

fn path_text(path: &Path) -> Result<String, String> {
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// The minimal session of the reference servers: an unsigned id, one process-wide map under a
/// lock, and the same cookie bytes as ours on every response. No expiry, no signature, no
/// laziness, no change tracking: a floor for what a session costs, not something to deploy.
mod minimal {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Mutex, OnceLock, PoisonError};

    /// The length of our id cookie's value (43 characters of id, a separator, 8 of stamp, a dot,
    /// 43 of MAC), so that requests and responses carry as many bytes as ours.
    const ID_LEN: usize = 96;
    /// Our id cookie's attributes with the default configuration.
    const ATTRIBUTES: &str = "; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=7200";
    /// The `Cache-Control` value ours adds to a response that sets a session cookie.
    pub(super) const CACHE_CONTROL: &str = "private, no-store";

    static SESSIONS: OnceLock<Mutex<HashMap<String, i64>>> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);

    /// What a route does with the session.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Route {
        Read,
        Write,
        Login,
        Untouched,
    }

    /// The id in a `Cookie` header, when it has the right length.
    fn incoming(header: Option<&[u8]>) -> Option<&str> {
        let text = std::str::from_utf8(header?).ok()?;
        text.split(';')
            .find_map(|pair| pair.trim_start().strip_prefix("id="))
            .filter(|id| id.len() == ID_LEN)
    }

    fn new_id() -> String {
        format!("{:0>ID_LEN$}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Answers one request from its `Cookie` header: the body and the `Set-Cookie` value.
    pub(super) fn answer(route: Route, cookie: Option<&[u8]>) -> (String, String) {
        let known = incoming(cookie);
        let sessions = SESSIONS.get_or_init(Mutex::default);
        let (id, n) = match route {
            Route::Untouched => (known.map_or_else(new_id, str::to_owned), None),
            Route::Read => {
                let map = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                let n = known.and_then(|id| map.get(id).copied()).unwrap_or(0);
                (known.map_or_else(new_id, str::to_owned), Some(n))
            }
            Route::Write => {
                let mut map = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                match known.and_then(|id| map.get_mut(id).map(|n| (id, n))) {
                    Some((id, n)) => {
                        *n += 1;
                        (id.to_owned(), Some(*n))
                    }
                    None => {
                        let id = new_id();
                        map.insert(id.clone(), 1);
                        (id, Some(1))
                    }
                }
            }
            Route::Login => {
                let mut map = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                let n = known.and_then(|id| map.remove(id)).unwrap_or(0) + 1;
                let id = new_id();
                map.insert(id.clone(), n);
                (id, Some(n))
            }
        };
        let mut set_cookie = String::with_capacity(3 + ID_LEN + ATTRIBUTES.len());
        set_cookie.push_str("id=");
        set_cookie.push_str(&id);
        set_cookie.push_str(ATTRIBUTES);
        let body = n.map_or_else(|| "ok".to_owned(), |n| n.to_string());
        (body, set_cookie)
    }
}

mod axum_servers {
    use axum::extract::Request;
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Router;
    use session_kit::axum::SessionLayer;
    use session_kit::{Error, Session};
    use tower_sessions::{MemoryStore, SessionManagerLayer, SessionStore};
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    use tower_sessions_redis_store::RedisStore;
    use tower_sessions_sqlx_store::sqlx::PgPool;
    use tower_sessions_sqlx_store::PostgresStore;

    use super::minimal::Route;
    use super::{manager, ServeOptions, Server};

    pub(super) async fn serve(server: Server, options: &ServeOptions) -> Result<(), String> {
        let app = match server {
            Server::AxumBare => Router::new()
                .route("/read", get(|| async { "0" }))
                .route("/write", get(|| async { "1" }))
                .route("/login", get(|| async { "1" }))
                .route("/untouched", get(|| async { "ok" })),
            Server::AxumFloor => minimal_app(),
            Server::AxumCookie => ours(manager("cookie", options)?),
            Server::AxumMemory => ours(manager("memory", options)?),
            Server::AxumFile => ours(manager("file", options)?),
            Server::AxumRedis => ours(manager("redis", options)?),
            Server::AxumRedisCached => ours(manager("redis-cached", options)?),
            Server::AxumPostgres => {
                let manager = manager("postgres", options)?;
                // The SQL driver's documented start-up: create the table if it is missing.
                let driver = session_sql::driver_for(&manager)
                    .map_err(|e| format!("SQL driver: {e}"))?
                    .ok_or("the postgres manager has no SQL driver")?;
                driver
                    .migrate()
                    .await
                    .map_err(|e| format!("SQL driver migrate: {e}"))?;
                ours(manager)
            }
            Server::TowerMemory => tower(MemoryStore::default()),
            Server::TowerRedis => {
                let url = options.redis_url.as_deref().ok_or("no --redis-url")?;
                let config = Config::from_url(url).map_err(|e| format!("fred config: {e}"))?;
                // The pool size of the store's documentation example.
                let pool = Pool::new(config, None, None, None, 6)
                    .map_err(|e| format!("fred pool: {e}"))?;
                let _connection = pool.connect();
                pool.wait_for_connect()
                    .await
                    .map_err(|e| format!("fred connect: {e}"))?;
                tower(RedisStore::new(pool))
            }
            Server::TowerPostgres => {
                let url = options.postgres_url.as_deref().ok_or("no --postgres-url")?;
                // The store's documented set-up: a pool with sqlx's defaults (10 connections),
                // the default schema and table, and its migration.
                let pool = PgPool::connect(url)
                    .await
                    .map_err(|e| format!("PostgreSQL pool: {e}"))?;
                let store = PostgresStore::new(pool);
                store
                    .migrate()
                    .await
                    .map_err(|e| format!("PostgresStore migrate: {e}"))?;
                tower(store)
            }
            other => return Err(format!("{} is not an axum server", other.slug())),
        };
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|e| format!("bind {}: {e}", options.addr))?;
        axum::serve(listener, app)
            .await
            .map_err(|e| format!("serve: {e}"))
    }

    fn minimal_app() -> Router {
        let route = |route: Route| get(move |r: Request| minimal(route, r));
        Router::new()
            .route("/read", route(Route::Read))
            .route("/write", route(Route::Write))
            .route("/login", route(Route::Login))
            .route("/untouched", route(Route::Untouched))
    }

    async fn minimal(route: Route, request: Request) -> Result<impl IntoResponse, StatusCode> {
        let cookie = request
            .headers()
            .get(header::COOKIE)
            .map(HeaderValue::as_bytes);
        let (body, set_cookie) = super::minimal::answer(route, cookie);
        let set_cookie = HeaderValue::try_from(set_cookie).map_err(e500)?;
        let cache = HeaderValue::from_static(super::minimal::CACHE_CONTROL);
        Ok((
            [
                (header::SET_COOKIE, set_cookie),
                (header::CACHE_CONTROL, cache),
            ],
            body,
        ))
    }

    fn ours(manager: session_kit::SessionManager) -> Router {
        Router::new()
            .route("/read", get(read))
            .route("/write", get(write))
            .route("/login", get(login))
            .route("/untouched", get(|| async { "ok" }))
            .layer(SessionLayer::new(manager))
    }

    async fn read(session: Session) -> Result<String, Error> {
        Ok(session.get_or::<i64>("n", 0)?.to_string())
    }

    async fn write(session: Session) -> Result<String, Error> {
        Ok(session.increment("n")?.to_string())
    }

    async fn login(session: Session) -> Result<String, Error> {
        session.regenerate()?;
        Ok(session.increment("n")?.to_string())
    }

    fn tower<S: SessionStore + Clone>(store: S) -> Router {
        Router::new()
            .route("/read", get(ts_read))
            .route("/write", get(ts_write))
            .route("/login", get(ts_login))
            .route("/untouched", get(|| async { "ok" }))
            .layer(SessionManagerLayer::new(store).with_secure(false))
    }

    fn e500<E>(_: E) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    async fn ts_read(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let n: i64 = session.get("n").await.map_err(e500)?.unwrap_or(0);
        Ok(n.to_string())
    }

    async fn ts_write(session: tower_sessions::Session) -> Result<String, StatusCode> {
        let n: i64 = session.get("n").await.map_err(e500)?.unwrap_or(0);
        session.insert("n", n + 1).await.map_err(e500)?;
        Ok((n + 1).to_string())
    }

    async fn ts_login(session: tower_sessions::Session) -> Result<String, StatusCode> {
        session.cycle_id().await.map_err(e500)?;
        ts_write(session).await
    }
}

mod actix_servers {
    use actix_session::storage::{CookieSessionStore, RedisSessionStore};
    use actix_session::SessionMiddleware as PeerMiddleware;
    use actix_web::cookie::Key;
    use actix_web::http::header::{self, HeaderValue};
    use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
    use session_kit::actix::SessionMiddleware;
    use session_kit::{Error, Session};

    use super::minimal::Route;
    use super::{manager, ServeOptions, Server, KEY};

    pub(super) async fn serve(server: Server, options: &ServeOptions) -> Result<(), String> {
        let addr = options.addr;
        let workers = options.workers;
        let io = |e: std::io::Error| format!("actix-web on {addr}: {e}");
        // Every server: the app factory on the configured workers and address.
        macro_rules! run {
            ($factory:expr) => {
                HttpServer::new($factory)
                    .workers(workers)
                    .bind(addr)
                    .map_err(io)?
                    .run()
                    .await
                    .map_err(io)
            };
        }
        match server {
            Server::ActixBare => run!(|| {
                App::new()
                    .route("/read", web::get().to(|| async { "0" }))
                    .route("/write", web::get().to(|| async { "1" }))
                    .route("/login", web::get().to(|| async { "1" }))
                    .route("/untouched", web::get().to(|| async { "ok" }))
            }),
            Server::ActixFloor => run!(|| {
                App::new()
                    .route("/read", minimal_route(Route::Read))
                    .route("/write", minimal_route(Route::Write))
                    .route("/login", minimal_route(Route::Login))
                    .route("/untouched", minimal_route(Route::Untouched))
            }),
            Server::ActixCookie | Server::ActixRedis | Server::ActixRedisCached => {
                let driver = match server {
                    Server::ActixCookie => "cookie",
                    Server::ActixRedis => "redis",
                    _ => "redis-cached",
                };
                let manager = manager(driver, options)?;
                run!(move || {
                    App::new()
                        .route("/read", web::get().to(read))
                        .route("/write", web::get().to(write))
                        .route("/login", web::get().to(login))
                        .route("/untouched", web::get().to(|| async { "ok" }))
                        .wrap(SessionMiddleware::new(manager.clone()))
                })
            }
            Server::ActixSessionCookie => {
                let key = peer_key();
                run!(move || {
                    peer_app().wrap(
                        PeerMiddleware::builder(CookieSessionStore::default(), key.clone())
                            .cookie_secure(false)
                            .build(),
                    )
                })
            }
            Server::ActixSessionRedis => {
                let url = options.redis_url.clone().ok_or("no --redis-url")?;
                let store = RedisSessionStore::new(url)
                    .await
                    .map_err(|e| format!("actix-session redis store: {e}"))?;
                let key = peer_key();
                run!(move || {
                    peer_app().wrap(
                        PeerMiddleware::builder(store.clone(), key.clone())
                            .cookie_secure(false)
                            .build(),
                    )
                })
            }
            other => Err(format!("{} is not an actix-web server", other.slug())),
        }
    }

    fn minimal_route(route: Route) -> actix_web::Route {
        web::get().to(move |r: HttpRequest| minimal(route, r))
    }

    async fn minimal(route: Route, request: HttpRequest) -> HttpResponse {
        let cookie = request
            .headers()
            .get(header::COOKIE)
            .map(HeaderValue::as_bytes);
        let (body, set_cookie) = super::minimal::answer(route, cookie);
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::SET_COOKIE, set_cookie))
            .insert_header((header::CACHE_CONTROL, super::minimal::CACHE_CONTROL))
            .body(body)
    }

    async fn read(session: Session) -> Result<String, Error> {
        Ok(session.get_or::<i64>("n", 0)?.to_string())
    }

    async fn write(session: Session) -> Result<String, Error> {
        Ok(session.increment("n")?.to_string())
    }

    async fn login(session: Session) -> Result<String, Error> {
        session.regenerate()?;
        Ok(session.increment("n")?.to_string())
    }

    /// actix-session needs a 64-byte master key; derive it from the shared secret.
    fn peer_key() -> Key {
        let mut bytes = [0u8; 64];
        for (i, b) in KEY.bytes().cycle().take(64).enumerate() {
            bytes[i] = b;
        }
        Key::from(&bytes)
    }

    fn peer_app() -> App<
        impl actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        App::new()
            .route("/read", web::get().to(as_read))
            .route("/write", web::get().to(as_write))
            .route("/login", web::get().to(as_login))
            .route("/untouched", web::get().to(|| async { "ok" }))
    }

    async fn as_read(session: actix_session::Session) -> actix_web::Result<String> {
        let n: i64 = session.get("n")?.unwrap_or(0);
        Ok(n.to_string())
    }

    async fn as_write(session: actix_session::Session) -> actix_web::Result<String> {
        let n: i64 = session.get("n")?.unwrap_or(0);
        session.insert("n", n + 1)?;
        Ok((n + 1).to_string())
    }

    async fn as_login(session: actix_session::Session) -> actix_web::Result<String> {
        session.renew();
        as_write(session).await
    }
}

#[cfg(test)]
mod tests {
    use super::minimal::{answer, Route};

    /// The `Cookie` header a browser sends back for a `Set-Cookie` value.
    fn cookie_of(set_cookie: &str) -> Vec<u8> {
        set_cookie.split(';').next().unwrap().as_bytes().to_vec()
    }

    #[tokio::test]
    async fn the_minimal_session_sends_the_same_cookie_bytes_as_ours() {
        let manager = super::manager(
            "memory",
            &super::ServeOptions {
                addr: "127.0.0.1:0".parse().unwrap(),
                redis_url: None,
                postgres_url: None,
                dir: std::env::temp_dir(),
                workers: 1,
            },
        )
        .unwrap();
        let request = manager.start_request(std::iter::empty::<&str>());
        request.session().await.unwrap().increment("n").unwrap();
        let ours = session_core::adapter::finish(&request).await.unwrap();
        assert_eq!(ours.len(), 1);
        let (_, minimal) = answer(Route::Write, None);
        assert_eq!(minimal.len(), ours[0].len());
        let attributes = |v: &str| v.split_once(';').unwrap().1.to_owned();
        assert_eq!(attributes(&minimal), attributes(&ours[0]));
    }

    #[test]
    fn the_minimal_session_reads_writes_and_regenerates() {
        let (body, first) = answer(Route::Write, None);
        assert_eq!(body, "1");
        let cookie = cookie_of(&first);
        let (body, again) = answer(Route::Write, Some(&cookie));
        assert_eq!((body.as_str(), again.as_str()), ("2", first.as_str()));
        assert_eq!(answer(Route::Read, Some(&cookie)).0, "2");
        let (body, echoed) = answer(Route::Untouched, Some(&cookie));
        assert_eq!((body.as_str(), echoed.as_str()), ("ok", first.as_str()));
        // A login moves the value to a new id; the old one is gone.
        let (body, login) = answer(Route::Login, Some(&cookie));
        assert_eq!(body, "3");
        assert_ne!(login, first);
        assert_eq!(answer(Route::Read, Some(&cookie)).0, "0");
        assert_eq!(answer(Route::Read, Some(&cookie_of(&login))).0, "3");
        // An id of another length is not looked up.
        assert_eq!(answer(Route::Read, Some(b"id=short")).0, "0");
    }
}
