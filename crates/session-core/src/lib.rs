//! Sessions for Rust web services: the values store, flash messages, session lifecycle and the
//! driver contract, with no HTTP framework and no storage backend in sight.
//!
//! This crate is what the adapters (`session-axum`, `session-actix`) and the drivers
//! (`session-cookie`, `session-file`, `session-redis`) share. Applications usually depend on the
//! `session-kit` facade crate, which re-exports it.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use session_core::{SessionConfig, SessionManager};
//!
//! let manager = SessionManager::builder(
//!     SessionConfig::new()
//!         .with_driver("memory")
//!         .with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .build()?;
//!
//! // First request: no cookie yet.
//! let first = manager.start_request(std::iter::empty()).session().await?;
//! first.put("cart_total", 1900)?;
//! first.flash("message", "Added to cart")?;
//! first.commit().await?;
//! let cookie = first.id_cookie().expect("an id cookie");
//!
//! // Second request: the browser sends the cookie back.
//! let second = manager.start_request([cookie.as_str()]).session().await?;
//! assert_eq!(second.get::<u32>("cart_total")?, Some(1900));
//! assert_eq!(second.flash_messages().get::<String>("message")?.as_deref(), Some("Added to cart"));
//! second.commit().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Topics
//!
//! - **Values store**: [`Session::get`], [`Session::put`], [`Session::increment`], … with dot paths
//!   (`user.name`) and form paths (`user[name]`); see [`KeyPath`].
//! - **Flash messages**: [`Session::flash`] and friends for the next request,
//!   [`Session::flash_messages`] for the previous one's.
//! - **Lifecycle**: [`RequestSession`] (what an adapter holds: [`RequestSession::session`] opens
//!   the session, [`RequestSession::commit`] stores it), [`Session::regenerate`],
//!   [`Session::flush`].
//! - **Read only**: [`SessionReader`], for websockets and server-sent events.
//! - **Frameworks**: with the `axum` or `actix` feature (which the adapters enable), [`Session`],
//!   [`SessionReader`] and [`FlashMessages`] are extractors and [`Error`] is their rejection.
//! - **Ids and keys**: [`SessionId`] (256 random bits), [`StorageKey`] (what drivers see),
//!   [`KeyRing`] (signing keys with rotation).
//! - **Drivers**: the [`Driver`] trait, [`DriverRegistry::extend`] for custom drivers, and the
//!   bundled [`MemoryDriver`].
//! - **Configuration**: [`SessionConfig`], validated by [`SessionManager::builder`].
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
mod actix;
pub mod adapter;
#[cfg(feature = "axum")]
mod axum;
mod clock;
mod commit;
mod config;
mod context;
mod driver;
mod error;
mod flash;
mod group;
mod id;
mod limits;
mod manager;
mod memory;
mod path;
mod reader;
mod request;
mod session;
mod store;
mod tags;
mod verified;

pub use crate::clock::{Clock, ManualClock, SystemClock};
pub use crate::config::{
    parse_duration, CookieOptions, DurationSetting, Refresh, SessionConfig, DEFAULT_COOKIE_NAME,
    ENV_VARS,
};
pub use crate::context::SessionContext;
pub use crate::driver::{
    ClientStore, CookieChange, Driver, DriverRegistry, DriverSetup, Lifetimes, Record,
    SessionStore, WriteOutcome,
};
pub use crate::error::{BoxError, ConfigError, DriverError, Error, ErrorKind};
pub use crate::flash::FlashMessages;
pub use crate::id::{
    DerivedKey, IdSigner, KeyRing, SecretKey, SessionId, StorageKey, MIN_SECRET_LEN,
};
pub use crate::limits::{Limits, MAX_DEPTH_CEILING};
pub use crate::manager::{SessionManager, SessionManagerBuilder};
pub use crate::memory::{MemoryDriver, DEFAULT_MAX_BYTES, DEFAULT_MAX_SESSIONS};
pub use crate::path::KeyPath;
pub use crate::reader::SessionReader;
pub use crate::request::RequestSession;
pub use crate::session::{Access, Session};
pub use crate::tags::{TaggedSession, TaggedStore};
pub use crate::verified::constant_time_eq;

/// Re-exported so drivers and adapters use the same `cookie` version as the core.
pub use cookie;

/// The reserved key under which flash messages are stored inside a record.
///
/// ```
/// use session_core::{Error, FLASH_KEY};
///
/// # let session = session_core::Session::for_tests();
/// assert_eq!(FLASH_KEY, "__flash__");
/// assert!(matches!(session.put(FLASH_KEY, 1), Err(Error::ReservedKey { .. })));
/// ```
pub const FLASH_KEY: &str = "__flash__";

/// The reserved key under which the session's tag ([`Session::tag`]) is stored inside a record.
/// The store API refuses it, and [`Session::all`] leaves it out; drivers read it with
/// [`Record::tag`].
///
/// ```
/// use session_core::{Error, TAG_KEY};
///
/// # let session = session_core::Session::for_tests();
/// assert_eq!(TAG_KEY, "__tag__");
/// assert!(matches!(session.put(TAG_KEY, 1), Err(Error::ReservedKey { .. })));
/// ```
pub const TAG_KEY: &str = "__tag__";

/// The longest tag [`Session::tag`] accepts, in bytes: a tag is usually a user id.
pub const MAX_TAG_LEN: usize = 256;

/// What a driver factory returns.
///
/// ```
/// use session_core::{DriverFactoryResult, DriverSetup, MemoryDriver, SessionConfig, SessionManager};
///
/// fn memory_factory(setup: &DriverSetup<'_>) -> DriverFactoryResult {
///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
/// }
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("mine").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .extend("mine", memory_factory)
/// .build()?;
/// assert_eq!(manager.config().driver(), "mine");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub type DriverFactoryResult = Result<Driver, ConfigError>;
