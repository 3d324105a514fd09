//! The demo app: the AdonisJS session guide's examples on axum (a cart total, a page-view counter,
//! login with id regeneration, the flash-message example, a sign-up form that flashes its input
//! and errors back), plus a JSON API over the session that the HTTP scenario suite drives.
//!
//! Every page says which session calls it shows, and its footer shows the session id shortened
//! ([`short_id`]) and whether this request regenerated it; `/api` lists the JSON API.
//!
//! `cargo run -p demo` starts it; [`app`] builds the router for tests.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use minijinja::{context, Environment};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use session_kit::axum::SessionLayer;
use session_kit::{
    ConfigError, Error, ErrorKind, FlashMessages, Session, SessionConfig, SessionId, SessionManager,
};

/// What both demo binaries (`demo`, `demo-actix`) do before serving: `tracing` output (filtered
/// by `RUST_LOG`, `info` by default), the configuration from the environment with its notes
/// logged as warnings, the session manager, and the address from `HOST` and `PORT` (default
/// `127.0.0.1:3000`). With the file driver, the folder of the session files is logged too. An
/// error is logged and returned.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::process::ExitCode {
/// let Ok((manager, addr)) = demo::start_up() else {
///     return std::process::ExitCode::FAILURE;
/// };
/// let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
/// axum::serve(listener, demo::app(manager)).await.expect("serve");
/// # std::process::ExitCode::SUCCESS }
/// ```
pub fn start_up() -> Result<(SessionManager, std::net::SocketAddr), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = (|| {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        let (config, notes) = config_from_env(vars).map_err(|e| e.to_string())?;
        for note in notes {
            tracing::warn!("{note}");
        }
        let manager = builder(config).build().map_err(|e| e.to_string())?;
        if let Some(location) = file_location(manager.config()) {
            tracing::info!("the file driver stores sessions in {}", location.display());
        }
        let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
        let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
        let addr = format!("{host}:{port}")
            .parse()
            .map_err(|e| format!("invalid HOST/PORT {host}:{port}: {e}"))?;
        Ok((manager, addr))
    })();
    if let Err(e) = &result {
        tracing::error!("{e}");
    }
    result
}

/// The demos' drivers: those of `session-kit` (`memory`, `cookie`, `file`, `redis`) and the SQL
/// drivers of `session-sql` (`postgres`, `mysql`, `sqlite`), registered as an application
/// registers a driver crate of its choice.
///
/// ```
/// let registry = demo::registry();
/// let names: Vec<&str> = registry.names().collect();
/// assert!(names.contains(&"postgres") && names.contains(&"cookie"));
/// ```
pub fn registry() -> session_kit::DriverRegistry {
    let mut registry = session_kit::registry();
    session_sql::register(&mut registry);
    registry
}

/// A manager builder with [`registry`] installed. With the cookie driver, a memory store keeps
/// the tags logged out everywhere (the account page's "log out everywhere else"): enough for one
/// process; an application with several instances gives them a shared store (Redis, SQL).
pub fn builder(config: SessionConfig) -> session_kit::SessionManagerBuilder {
    let cookie = config.driver() == "cookie";
    let builder = SessionManager::builder(config).with_registry(registry());
    if cookie {
        builder.tag_store(session_kit::MemoryDriver::new())
    } else {
        builder
    }
}

/// Builds the configuration from environment variables, with the demo's conveniences: a random
/// development key when `APP_KEY` is unset, cookies without `Secure` when serving plain HTTP on
/// loopback and `SESSION_COOKIE_SECURE` is unset, and [`default_file_location`] (outside the
/// repository) for the file driver when `SESSION_FILE_LOCATION` is unset. Returns the notes to
/// log as warnings.
pub fn config_from_env(
    vars: Vec<(String, String)>,
) -> Result<(SessionConfig, Vec<String>), ConfigError> {
    let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut notes = Vec::new();
    let mut config = session_kit::config_from_vars(vars.clone())?;
    // `DATABASE_URL` and `SESSION_SQL_TABLE`, for the SQL drivers only.
    config = session_sql::config_from_vars(config, &vars)?;
    if get("APP_KEY").is_none_or(|k| k.trim().is_empty()) {
        config = config.with_key(session_kit::SecretKey::generate_encoded());
        notes.push(
            "APP_KEY is not set: using a random development key, so sessions will not survive a restart"
                .to_owned(),
        );
    }
    let host = get("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if get("SESSION_COOKIE_SECURE").is_none() && loopback {
        let cookie = config.cookie().clone().with_secure(false);
        config = config.with_cookie(cookie);
        notes.push(
            "cookies are sent without Secure because the demo serves plain HTTP on loopback; set SESSION_COOKIE_SECURE=true behind HTTPS"
                .to_owned(),
        );
    }
    if config.driver() == "file" && config.section("file").is_none() {
        let location = default_file_location();
        let Some(path) = location.to_str() else {
            return Err(ConfigError::new(
                "file.location",
                format!(
                    "the default folder {} is not a UTF-8 path; set SESSION_FILE_LOCATION",
                    location.display()
                ),
            ));
        };
        config = config.with_section("file", json!({ "location": path }));
        notes.push(format!(
            "SESSION_FILE_LOCATION is not set: storing sessions in {path}"
        ));
    }
    if config.driver() == "sqlite"
        && config
            .section("sqlite")
            .is_none_or(|s| s.get("url").is_none())
    {
        let file = std::env::temp_dir().join("session-demo-sessions.db");
        let url = format!("sqlite://{}", file.display());
        config = config.with_section_option("sqlite", "url", url.as_str());
        notes.push(format!(
            "DATABASE_URL is not set: storing sessions in {}",
            file.display()
        ));
    }
    Ok((config, notes))
}

/// Where the demos' file driver keeps sessions when `SESSION_FILE_LOCATION` is unset:
/// `session-demo/sessions` in the system's temporary folder ([`std::env::temp_dir`]), outside
/// the repository.
///
/// ```
/// let location = demo::default_file_location();
/// assert!(location.starts_with(std::env::temp_dir()));
/// assert!(location.ends_with("session-demo/sessions"));
/// ```
pub fn default_file_location() -> PathBuf {
    std::env::temp_dir().join("session-demo").join("sessions")
}

/// The file driver's folder as an absolute path when `config` chooses the file driver and sets
/// its `location`; `None` otherwise.
fn file_location(config: &SessionConfig) -> Option<PathBuf> {
    if config.driver() != "file" {
        return None;
    }
    let location = config.section("file")?.get("location")?.as_str()?;
    Some(std::path::absolute(location).unwrap_or_else(|_| location.into()))
}

#[derive(Clone)]
struct App {
    templates: Arc<Environment<'static>>,
    driver: &'static str,
}

/// The demo's router with the session layer installed.
pub fn app(manager: SessionManager) -> Router {
    let state = App {
        templates: Arc::new(templates()),
        driver: manager.driver().name(),
    };
    Router::new()
        .route("/", get(home))
        .route("/cart", post(add_to_cart))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/flash", get(flash_form).post(flash_message))
        .route("/see-message", get(see_message))
        .route("/signup", get(signup_form).post(signup))
        .route("/account", get(account))
        .route("/account/logout-others", post(logout_others))
        .route("/account/logout-session", post(logout_session))
        .route("/api", get(api_index))
        .route("/api/health", get(|| async { "ok" }))
        .route("/api/session", get(api_all).delete(api_clear))
        .route("/api/session/regenerate", post(api_regenerate))
        .route(
            "/api/session/{path}",
            get(api_get).put(api_put).delete(api_forget),
        )
        .route("/api/session/{path}/increment", post(api_increment))
        .route("/api/session/{path}/decrement", post(api_decrement))
        .route("/api/flash", get(api_flash_messages).post(api_flash))
        .route("/api/reflash", post(api_reflash))
        .with_state(state)
        .layer(SessionLayer::new(manager))
}

// ----- templates ------------------------------------------------------------------------------

/// The demo's page templates with the session helpers (`session()`, `flash()`, `old()`,
/// `error()`); shared with the actix-web demo, which renders the same pages through
/// [`render_page`].
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("home.html", include_str!("templates/home.html")),
        ("flash_form.html", include_str!("templates/flash_form.html")),
        (
            "see_message.html",
            include_str!("templates/see_message.html"),
        ),
        ("signup.html", include_str!("templates/signup.html")),
        ("api.html", include_str!("templates/api.html")),
        ("account.html", include_str!("templates/account.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            // The templates are compiled into the binary; a syntax error is a bug caught by the
            // demo's tests, and the page then reports it.
            tracing::error!("template {name}: {e}");
        }
    }
    // Session helpers for templates, as the seed's Edge globals: session values, flash messages,
    // old input and field errors.
    env.add_function(
        "session",
        |state: &minijinja::State<'_, '_>, path: &str, default: Option<minijinja::Value>| {
            lookup(state, "__session", path).unwrap_or_else(|| default.unwrap_or_default())
        },
    );
    env.add_function("flash", |state: &minijinja::State<'_, '_>, path: &str| {
        lookup(state, "__flash", path).unwrap_or_default()
    });
    env.add_function("old", |state: &minijinja::State<'_, '_>, field: &str| {
        lookup(state, "__flash", field).unwrap_or_else(|| minijinja::Value::from(""))
    });
    env.add_function("error", |state: &minijinja::State<'_, '_>, field: &str| {
        let value = lookup(state, "__flash", &format!("errors.{field}"))?;
        // An errors bag entry may hold one message or a list of them; show the first.
        match value.get_item_by_index(0) {
            Ok(first) if !first.is_undefined() => Some(first),
            _ => Some(value),
        }
    });
    env
}

fn lookup(state: &minijinja::State<'_, '_>, root: &str, path: &str) -> Option<minijinja::Value> {
    let mut value = state.lookup(root)?;
    for segment in path.split('.') {
        value = value.get_attr(segment).ok()?;
        if value.is_undefined() || value.is_none() {
            return None;
        }
    }
    Some(value)
}

fn render(app: &App, name: &str, session: &Session) -> Result<Response, PageError> {
    let html = render_page(&app.templates, name, session, app.driver)?;
    Ok(Html(html).into_response())
}

/// Renders the page template `name` (from [`templates`]) for an initiated session: its values,
/// the previous request's flash messages, the driver's name, the signed-in user, and for the
/// footer the id shortened ([`short_id`] of `session.session_id()`) with whether the id is new
/// in this request (`session.is_fresh()`) or was regenerated in it
/// (`session.is_regenerated()`).
pub fn render_page(
    templates: &Environment<'_>,
    name: &str,
    session: &session_kit::Session,
    driver: &str,
) -> Result<String, PageError> {
    render_page_with(templates, name, session, driver, context! {})
}

/// [`render_page`] with more variables for the template (the account page's sessions).
pub fn render_page_with(
    templates: &Environment<'_>,
    name: &str,
    session: &session_kit::Session,
    driver: &str,
    extra: minijinja::Value,
) -> Result<String, PageError> {
    let flash = session.flash_messages();
    let template = templates.get_template(name)?;
    Ok(template.render(context! {
        __session => minijinja::Value::from_serialize(session.all()),
        __flash => minijinja::Value::from_serialize(flash.all()),
        driver => driver,
        user => session.get_value("user")?,
        session_id => short_id(&session.session_id()),
        fresh => session.is_fresh(),
        regenerated => session.is_regenerated(),
        ..extra
    })?)
}

/// A session id as the pages show it: its first 8 characters followed by `…`. The whole id is a
/// credential (whoever has it has the session), so no page shows more.
///
/// ```
/// let id = session_kit::SessionId::generate();
/// let short = demo::short_id(&id);
/// assert_eq!(short.chars().count(), 9);
/// assert!(short.ends_with('…'));
/// assert!(id.expose().starts_with(short.trim_end_matches('…')));
/// ```
pub fn short_id(id: &SessionId) -> String {
    let head: String = id.expose().chars().take(8).collect();
    format!("{head}…")
}

/// The flash key under which the handlers that regenerate the id (login, sign-up, logout) pass
/// the old id, shortened, to the next page, whose footer then shows the change (the layout
/// template reads the same key).
pub const REGENERATED_FROM: &str = "id_regenerated_from";

/// Errors of the HTML pages.
#[derive(Debug)]
pub enum PageError {
    /// A session error (storage down, misuse).
    Session(Error),
    /// A template failed to render.
    Template(minijinja::Error),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        Self::Session(e)
    }
}

impl From<minijinja::Error> for PageError {
    fn from(e: minijinja::Error) -> Self {
        Self::Template(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Session(e) => e.into_response(),
            Self::Template(e) => {
                tracing::error!("template error: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
            }
        }
    }
}

// ----- HTML pages -----------------------------------------------------------------------------

async fn home(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    session.increment("page_views")?;
    render(&app, "home.html", &session)
}

#[derive(Deserialize)]
struct CartForm {
    amount: String,
}

async fn add_to_cart(session: Session, Form(form): Form<CartForm>) -> Result<Redirect, PageError> {
    match form.amount.trim().parse::<i64>() {
        Ok(amount) => {
            // As in the seed: read the value, write it back.
            let total: i64 = session.get_or("cart_total", 0)?;
            session.put("cart_total", total.saturating_add(amount))?;
            session.flash("message", format!("Added {amount} to the cart"))?;
        }
        Err(_) => session.flash("message", "The amount must be a whole number")?,
    }
    Ok(Redirect::to("/"))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
}

async fn login(
    session: Session,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Redirect, PageError> {
    let name = form.username.trim();
    if name.is_empty() {
        session.flash("message", "Enter a user name")?;
        return Ok(Redirect::to("/"));
    }
    sign_in(&session, name, agent(&headers), format!("Welcome, {name}"))?;
    Ok(Redirect::to("/"))
}

async fn logout(session: Session) -> Result<Redirect, PageError> {
    // Clears the store and regenerates the id: the old cookie opens nothing afterwards.
    let before = short_id(&session.session_id());
    session.flush()?;
    session.flash("message", "You have been logged out")?;
    session.flash(REGENERATED_FROM, before)?;
    Ok(Redirect::to("/"))
}

async fn flash_form(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    render(&app, "flash_form.html", &session)
}

#[derive(Deserialize)]
struct FlashForm {
    message: String,
}

async fn flash_message(
    session: Session,
    Form(form): Form<FlashForm>,
) -> Result<Redirect, PageError> {
    session.flash("message", form.message)?;
    Ok(Redirect::to("/see-message"))
}

async fn see_message(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    render(&app, "see_message.html", &session)
}

async fn signup_form(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    render(&app, "signup.html", &session)
}

async fn api_index(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    render(&app, "api.html", &session)
}

async fn signup(
    session: Session,
    headers: HeaderMap,
    Form(input): Form<BTreeMap<String, String>>,
) -> Result<Redirect, PageError> {
    let field = |name: &str| input.get(name).map(|v| v.trim()).unwrap_or("");
    let errors = signup_errors(&input);
    if !errors.is_empty() {
        // The input goes back to pre-fill the form, except the password.
        // The form cannot pose as the demo's own note of a regenerated id.
        session.flash_except(&input, &["password", REGENERATED_FROM])?;
        session.flash_errors(errors)?;
        return Ok(Redirect::to("/signup"));
    }
    let name = field("username");
    let welcome = format!("Account created. Welcome, {name}");
    sign_in(&session, name, agent(&headers), welcome)?;
    Ok(Redirect::to("/"))
}

/// Validates the sign-up form: the errors bag keyed by field (a list of messages each), empty
/// when the input is valid.
pub fn signup_errors(input: &BTreeMap<String, String>) -> Map<String, Value> {
    let field = |name: &str| input.get(name).map(|v| v.trim()).unwrap_or("");
    let mut errors = Map::new();
    if field("username").is_empty() {
        errors.insert("username".into(), json!(["User name is required"]));
    }
    if !field("email").contains('@') {
        errors.insert("email".into(), json!(["Enter a valid email address"]));
    }
    if field("password").chars().count() < 8 {
        errors.insert(
            "password".into(),
            json!(["The password needs at least 8 characters"]),
        );
    }
    errors
}

// ----- account: sessions per user ----------------------------------------------------------------

/// The longest `User-Agent` the demo keeps with a login, in characters.
pub const MAX_AGENT_LEN: usize = 120;

/// Signs `name` in (login and sign-up): a new id (an id planted before login opens nothing
/// afterwards), the session tagged with the user name so that the account page finds the
/// user's sessions, the user and the browser's `User-Agent` (cut to [`MAX_AGENT_LEN`]) stored
/// for that page, `welcome` and the old short id flashed to the next page.
pub fn sign_in(
    session: &Session,
    name: &str,
    user_agent: Option<&str>,
    welcome: String,
) -> Result<(), Error> {
    let before = short_id(&session.session_id());
    session.regenerate()?;
    session.tag(name)?;
    session.put("user", name)?;
    let agent: String = user_agent
        .unwrap_or("unknown browser")
        .chars()
        .take(MAX_AGENT_LEN)
        .collect();
    session.put("agent", agent)?;
    session.flash("message", welcome)?;
    session.flash(REGENERATED_FROM, before)
}

fn agent(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

/// "12 s ago", "3 min ago", "2 h ago" from a time in ms since the Unix epoch.
fn ago(now: u64, then: u64) -> String {
    let seconds = now.saturating_sub(then) / 1000;
    match seconds {
        0..=119 => format!("{seconds} s ago"),
        120..=7199 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}

/// The variables of the account page for a signed-in session: `sessions`, the user's sessions
/// (the current one marked) when the driver can list them, or `None` (the cookie driver, whose
/// sessions live in the browsers); `listing` says which. `None` for a visitor who is not signed
/// in.
pub async fn account_context(session: &Session) -> Result<Option<minijinja::Value>, Error> {
    let Some(tag) = session.current_tag() else {
        return Ok(None);
    };
    let manager = session.manager();
    let now = manager.clock().now_ms();
    let current = session.handle();
    let sessions = match manager.tagged_sessions(&tag).await {
        Ok(list) => Some(
            list.iter()
                .map(|s| {
                    json!({
                        "handle": s.handle.as_str(),
                        "short": s.handle.short(),
                        "agent": s.get::<String>("agent").unwrap_or_else(|| "unknown browser".into()),
                        "signed_in": ago(now, s.tagged_at),
                        "last_active": ago(now, s.last_active),
                        "expires_in_min": s.expires_at.saturating_sub(now) / 60_000,
                        "current": s.handle == current,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(Error::TaggingNotSupported { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Some(context! {
        listing => sessions.is_some(),
        sessions => minijinja::Value::from_serialize(sessions.unwrap_or_default()),
        current_short => current.short(),
    }))
}

/// "Log out everywhere else": every other session of the user ends
/// ([`Session::destroy_other_sessions`]); a flash message says how many.
pub async fn log_out_others(session: &Session) -> Result<(), Error> {
    if session.current_tag().is_none() {
        return session.flash("message", "Sign in first");
    }
    let message = match session.destroy_other_sessions().await? {
        Some(0) => "No other session of yours was open".to_owned(),
        Some(1) => "Logged out 1 other session".to_owned(),
        Some(n) => format!("Logged out {n} other sessions"),
        None => "Logged out everywhere else: the cookies your other browsers hold open nothing now"
            .to_owned(),
    };
    session.flash("message", message)
}

/// "Log out that device": the session `handle` names ends if it is one of the user's
/// ([`SessionManager::destroy_tagged_session`] with the user's tag, so a handle of another
/// user's session does nothing); a flash message says what happened.
pub async fn log_out_session(session: &Session, handle: &str) -> Result<(), Error> {
    let Some(tag) = session.current_tag() else {
        return session.flash("message", "Sign in first");
    };
    let message = match session_kit::StorageKey::parse(handle) {
        Some(handle) if handle == session.handle() => {
            "That is this browser: use Log out this device".to_owned()
        }
        Some(handle) => match session
            .manager()
            .destroy_tagged_session(&tag, &handle)
            .await
        {
            Ok(true) => format!("Logged out the session {}", handle.short()),
            Ok(false) => "That session had already ended".to_owned(),
            Err(Error::TaggingNotSupported { .. }) => {
                "This driver cannot log out one session; use Log out everywhere else".to_owned()
            }
            Err(e) => return Err(e),
        },
        None => "No such session".to_owned(),
    };
    session.flash("message", message)
}

async fn account(State(app): State<App>, session: Session) -> Result<Response, PageError> {
    let Some(extra) = account_context(&session).await? else {
        session.flash("message", "Sign in to see your sessions")?;
        return Ok(Redirect::to("/").into_response());
    };
    let html = render_page_with(&app.templates, "account.html", &session, app.driver, extra)?;
    Ok(Html(html).into_response())
}

async fn logout_others(session: Session) -> Result<Redirect, PageError> {
    log_out_others(&session).await?;
    Ok(Redirect::to("/account"))
}

#[derive(Deserialize)]
struct HandleForm {
    handle: String,
}

async fn logout_session(
    session: Session,
    Form(form): Form<HandleForm>,
) -> Result<Redirect, PageError> {
    log_out_session(&session, &form.handle).await?;
    Ok(Redirect::to("/account"))
}

// ----- JSON API -------------------------------------------------------------------------------

/// Errors of the JSON API: a JSON body with the status of the error's kind.
#[derive(Debug)]
struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = api_error_answer(&self.0);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}

/// The JSON API's answer to a session error: 400 for a bad path, 422 for data errors (a path or
/// value past the limits included), 413 when the session does not fit its storage, 503 when the
/// storage is down, 500 otherwise, with `{"error": "<message>"}`.
pub fn api_error_answer(error: &Error) -> (u16, Value) {
    let status = match (error, error.kind()) {
        (Error::InvalidPath { .. } | Error::ReservedKey { .. }, _) => 400,
        (_, ErrorKind::Data) => 422,
        (_, ErrorKind::TooLarge) => 413,
        (_, ErrorKind::Backend) => 503,
        _ => 500,
    };
    (status, json!({ "error": error.to_string() }))
}

type ApiResult<T> = Result<T, ApiError>;

async fn api_all(session: Session) -> ApiResult<Json<Map<String, Value>>> {
    Ok(Json(session.all()))
}

async fn api_get(session: Session, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(session.get(&path)?.unwrap_or(Value::Null)))
}

async fn api_put(
    session: Session,
    Path(path): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<StatusCode> {
    session.put(&path, value)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_forget(session: Session, Path(path): Path<String>) -> ApiResult<StatusCode> {
    session.forget(&path)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_increment(session: Session, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(session.increment(&path)?))
}

async fn api_decrement(session: Session, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(session.decrement(&path)?))
}

async fn api_clear(session: Session) -> ApiResult<StatusCode> {
    session.clear()?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_regenerate(session: Session) -> ApiResult<StatusCode> {
    session.regenerate()?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_flash(session: Session, Json(messages): Json<Value>) -> ApiResult<StatusCode> {
    session.flash_object(messages)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_reflash(session: Session) -> ApiResult<StatusCode> {
    session.reflash()?;
    Ok(StatusCode::NO_CONTENT)
}

async fn api_flash_messages(flash: FlashMessages) -> Json<Map<String, Value>> {
    Json(flash.all())
}

/// How often the file driver's folder is swept while a demo runs.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What runs beside a demo for its driver: the file driver's or the SQL driver's sweeper.
/// Dropping it stops the sweeper.
#[derive(Debug)]
pub enum Sweeper {
    /// Sweeps the file driver's folder.
    File(session_kit::file_driver::SweeperHandle),
    /// Deletes the SQL table's expired rows.
    Sql(session_sql::SweeperHandle),
}

/// Prepares the manager's storage and starts its sweeper (every [`SWEEP_EVERY`]): with the file
/// driver, a sweeper of its folder; with a SQL driver, the table (created if missing) and a
/// sweeper of its expired rows; `None` with any other driver. Both demos call it at start-up and
/// keep the handle until they stop. The sweepers work on the storage, so a driver opened on the
/// manager's section and clock sweeps what the manager's own driver writes.
pub async fn prepare_storage(manager: &SessionManager) -> Result<Option<Sweeper>, String> {
    use session_kit::file_driver::{FileConfig, FileDriver};

    if let Some(sql) = session_sql::driver_for(manager).map_err(|e| e.to_string())? {
        sql.migrate().await.map_err(|e| e.to_string())?;
        tracing::info!(
            driver = sql.backend().name(),
            table = sql.table(),
            every = ?SWEEP_EVERY,
            "the session table is ready; sweeping its expired rows"
        );
        return Ok(Some(Sweeper::Sql(sql.spawn_sweeper(SWEEP_EVERY, 1_000))));
    }
    if manager.driver().name() != "file" {
        return Ok(None);
    }
    let section = manager
        .config()
        .section(manager.config().driver())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let config: FileConfig = serde_json::from_value(section).map_err(|e| e.to_string())?;
    let driver = FileDriver::from_config(config)
        .map_err(|e| e.to_string())?
        .with_clock(manager.clock().clone());
    tracing::info!(
        location = %driver.location().display(),
        every = ?SWEEP_EVERY,
        "sweeping the session folder"
    );
    Ok(Some(Sweeper::File(driver.spawn_sweeper(SWEEP_EVERY))))
}
