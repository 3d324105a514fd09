//! Sessions for Rust web services on axum and actix-web: a per-user values store, flash
//! messages, id regeneration at login, cookie, file, Redis and memory drivers, custom drivers, and
//! commits that lose no update when requests of one user run at the same time.
//!
//! This is the crate to depend on; pick drivers and adapters by cargo feature. A handler takes
//! the session as an extractor, the same [`Session`] type on axum and actix-web:
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::post, Router};
//! use session_kit::{Error, Session};
//!
//! async fn login(session: Session) -> Result<&'static str, Error> {
//!     session.regenerate()?; // a new id at login: session fixation defence
//!     session.put("user_id", 42)?;
//!     session.flash("notice", "Welcome back")?; // shown by the next request
//!     Ok("signed in")
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = session_kit::config_from_vars([("APP_KEY".to_owned(), "a secret of at least thirty-two bytes!!".to_owned())])?;
//! let manager = session_kit::builder(config).build()?;
//! let app: Router = Router::new()
//!     .route("/login", post(login))
//!     .layer(session_kit::axum::SessionLayer::new(manager));
//! # let _ = app; Ok(()) }
//! # main().unwrap(); }
//! ```
//!
//! # What is exported
//!
//! | for | items |
//! |---|---|
//! | handlers | [`Session`], [`SessionReader`] (read only: websockets, server-sent events), [`FlashMessages`], [`Error`], [`ErrorKind`], [`SessionId`] |
//! | set-up | [`config_from_env`], [`builder`], [`SessionConfig`], [`SessionManager`], [`ConfigError`], [`CookieOptions`], [`Limits`], [`Refresh`], [`SecretKey`], [`KeyRing`], [`ErrorAnswer`] |
//! | tests | [`RequestSession`] (a request's session before and after the handler), [`Access`], [`ManualClock`] |
//! | custom drivers | the [`driver`] module: the [`SessionStore`](driver::SessionStore) and [`ClientStore`](driver::ClientStore) contracts |
//! | an adapter | [`axum`] or [`actix`] module, by feature |
//! | a driver | [`MemoryDriver`]; [`cookie_driver`], [`file_driver`], [`redis_driver`] modules, by feature |
//!
//! Everything else (what adapter authors need) is in `session-core`.
//!
//! # Feature flags
//!
//! | name | what | default |
//! |---|---|---|
//! | `cookie` | the `cookie` driver: the session sealed (AES-256-GCM) in the browser's cookies | yes |
//! | `file` | the `file` driver: one crash-safe file per session | no |
//! | `redis` | the `redis` driver: standalone Redis or Redis Cluster | no |
//! | `axum` | the axum adapter (`axum` module) | no |
//! | `actix` | the actix-web adapter (`actix` module) | no |
//!
//! The `memory` driver is always there.
//!
//! # Guide
//!
//! [The guide](https://github.com/session-rs/session/tree/main/docs) follows the AdonisJS session
//! documentation section by section (values, flash messages, lifecycle, configuration, drivers,
//! security), and adds framework pages (axum, actix-web, with migrations from tower-sessions and
//! actix-session), testing your handlers, custom drivers and a production checklist.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.
//!
// The links to feature-gated modules: to the module when its feature is on, to docs.rs (built
// with every feature) when it is off, so the front page has no broken link in any build.
#![cfg_attr(feature = "axum", doc = "[`axum`]: crate::axum")]
#![cfg_attr(
    not(feature = "axum"),
    doc = "[`axum`]: https://docs.rs/session-kit/latest/session_kit/axum/"
)]
#![cfg_attr(feature = "actix", doc = "[`actix`]: crate::actix")]
#![cfg_attr(
    not(feature = "actix"),
    doc = "[`actix`]: https://docs.rs/session-kit/latest/session_kit/actix/"
)]
#![cfg_attr(feature = "cookie", doc = "[`cookie_driver`]: crate::cookie_driver")]
#![cfg_attr(
    not(feature = "cookie"),
    doc = "[`cookie_driver`]: https://docs.rs/session-kit/latest/session_kit/cookie_driver/"
)]
#![cfg_attr(feature = "file", doc = "[`file_driver`]: crate::file_driver")]
#![cfg_attr(
    not(feature = "file"),
    doc = "[`file_driver`]: https://docs.rs/session-kit/latest/session_kit/file_driver/"
)]
#![cfg_attr(feature = "redis", doc = "[`redis_driver`]: crate::redis_driver")]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`redis_driver`]: https://docs.rs/session-kit/latest/session_kit/redis_driver/"
)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use session_core::adapter::ErrorAnswer;
pub use session_core::{
    Access, Clock, ConfigError, CookieOptions, Driver, DriverRegistry, DurationSetting, Error,
    ErrorKind, FlashMessages, KeyRing, Limits, ManualClock, MemoryDriver, Refresh, RequestSession,
    SecretKey, Session, SessionConfig, SessionId, SessionManager, SessionManagerBuilder,
    SessionReader, StorageKey, SystemClock, TaggedSession, ENV_VARS,
};

/// The driver contract, for a driver written in the application (see the guide's custom drivers
/// page). Driver crates depend on `session-core` and `session-testkit` instead.
pub mod driver {
    pub use session_core::{
        BoxError, ClientStore, CookieChange, DerivedKey, DriverError, DriverSetup, Lifetimes,
        Record, SessionContext, SessionStore, StorageKey, TaggedStore, WriteOutcome,
    };
}

/// The axum adapter: wrap the router in a [`SessionLayer`](axum::SessionLayer); the handlers
/// take [`Session`], [`SessionReader`] or [`FlashMessages`].
#[cfg(feature = "axum")]
pub mod axum {
    pub use session_axum::SessionLayer;
}

/// The actix-web adapter: wrap the app in a [`SessionMiddleware`](actix::SessionMiddleware); the
/// handlers take [`Session`], [`SessionReader`] or [`FlashMessages`].
#[cfg(feature = "actix")]
pub mod actix {
    pub use session_actix::{InitiateSession, SessionExt, SessionMiddleware};
}

/// The cookie driver: the session sealed in the browser's cookies.
#[cfg(feature = "cookie")]
pub mod cookie_driver {
    pub use session_cookie::{CookieDriver, CookieDriverConfig};
}

/// The file driver: one file per session.
#[cfg(feature = "file")]
pub mod file_driver {
    pub use session_file::{FileConfig, FileDriver, SweepReport, SweeperHandle};
}

/// The Redis driver: standalone Redis or Redis Cluster.
#[cfg(feature = "redis")]
pub mod redis_driver {
    pub use session_redis::{RedisDriver, RedisDriverBuilder};
}

/// A driver registry holding `memory` and every driver enabled by cargo feature.
///
/// ```
/// let names: Vec<String> = session_kit::registry().names().map(str::to_owned).collect();
/// assert!(names.contains(&"memory".to_owned()));
/// # #[cfg(feature = "cookie")]
/// assert!(names.contains(&"cookie".to_owned()));
/// ```
pub fn registry() -> DriverRegistry {
    let mut registry = DriverRegistry::new();
    #[cfg(feature = "cookie")]
    session_cookie::register(&mut registry);
    #[cfg(feature = "file")]
    session_file::register(&mut registry);
    #[cfg(feature = "redis")]
    session_redis::register(&mut registry);
    for (driver, enabled) in [
        ("cookie", cfg!(feature = "cookie")),
        ("file", cfg!(feature = "file")),
        ("redis", cfg!(feature = "redis")),
    ] {
        if !enabled {
            registry.hint_missing(
                driver,
                format!(
                    "enable the cargo feature `{driver}` of session-kit \
                     (session-kit = {{ version = \"0.1\", features = [\"{driver}\"] }})"
                ),
            );
        }
    }
    registry
}

/// A manager builder with [`registry`] installed: `session_kit::builder(config).build()?`.
pub fn builder(config: SessionConfig) -> SessionManagerBuilder {
    SessionManager::builder(config).with_registry(registry())
}

/// The driver chosen when `SESSION_DRIVER` is not set: `cookie` with the `cookie` feature
/// (the default; no server needed), `memory` without it.
///
/// ```
/// # #[cfg(feature = "cookie")]
/// assert_eq!(session_kit::DEFAULT_DRIVER, "cookie");
/// ```
#[cfg(feature = "cookie")]
pub const DEFAULT_DRIVER: &str = session_cookie::DRIVER_NAME;

/// The driver chosen when `SESSION_DRIVER` is not set: `cookie` with the `cookie` feature
/// (the default; no server needed), `memory` without it.
#[cfg(not(feature = "cookie"))]
pub const DEFAULT_DRIVER: &str = "memory";

/// Reads the configuration from the process environment: see [`config_from_vars`].
///
/// ```
/// match session_kit::config_from_env() {
///     Ok(config) => println!("sessions use the {} driver", config.driver()),
///     // A misspelt SESSION_ variable or a bad value is named in the error.
///     Err(e) => eprintln!("bad session configuration: {e}"),
/// }
/// ```
pub fn config_from_env() -> Result<SessionConfig, ConfigError> {
    config_from_vars(std::env::vars())
}

/// Reads the configuration from `(name, value)` pairs: the core's variables
/// ([`SessionConfig::from_vars`], [`ENV_VARS`]), [`DEFAULT_DRIVER`] when `SESSION_DRIVER` is not
/// set, and the chosen driver's own variables (`SESSION_FILE_LOCATION` for `file`; `REDIS_URL`,
/// `SESSION_REDIS_PREFIX`, `SESSION_REDIS_CLUSTER`, `SESSION_REDIS_LOCAL_CACHE` for `redis`),
/// which each driver crate reads itself. A misspelling of any of these variables fails, naming it.
///
/// ```
/// let vars = |pairs: &[(&str, &str)]| {
///     pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
/// };
/// let config = session_kit::config_from_vars(vars(&[("SESSION_AGE", "30m")]))?;
/// assert_eq!(config.driver(), session_kit::DEFAULT_DRIVER);
/// let typo = session_kit::config_from_vars(vars(&[("SESSION_DRIVR", "memory")])).unwrap_err();
/// assert_eq!(typo.option(), "SESSION_DRIVR");
/// # Ok::<(), session_kit::ConfigError>(())
/// ```
pub fn config_from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<SessionConfig, ConfigError> {
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    #[allow(unused_mut)]
    let mut known: Vec<&str> = Vec::new();
    #[cfg(feature = "file")]
    known.extend_from_slice(session_file::ENV_VARS);
    #[cfg(feature = "redis")]
    known.extend_from_slice(session_redis::ENV_VARS);
    let mut config = SessionConfig::from_vars_with(vars.iter().cloned(), &known)?;
    if config.driver().is_empty() {
        config = config.with_driver(DEFAULT_DRIVER);
    }
    #[cfg(feature = "file")]
    if config.driver() == "file" {
        config = session_file::config_from_vars(config, &vars);
    }
    #[cfg(feature = "redis")]
    if config.driver() == session_redis::DRIVER_NAME {
        config = session_redis::config_from_vars(config, &vars)?;
    }
    Ok(config)
}
