//! Sessions for Rust web services on axum and actix-web: a per-user values store, flash
//! messages, id regeneration at login, cookie, file, Redis and memory drivers, custom drivers, and
//! commits that lose no update when requests of one user run at the same time.
//!
//! This is the crate to depend on; pick drivers and adapters by cargo feature.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use session::{SessionConfig, SessionManager};
//!
//! let config = SessionConfig::new()
//!     .with_driver("memory")
//!     .with_key("a secret of at least thirty-two bytes!!");
//! let manager = session::builder(config).build()?;
//!
//! let request = manager.start_request(std::iter::empty());
//! request.initiate(false).await?;
//! request.put("cart_total", 1900)?;
//! request.commit().await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! | name | what | default |
//! |---|---|---|
//! | `cookie` | the `cookie` driver: the session sealed (AES-256-GCM) in the browser's cookies | yes |
//! | `file` | the `file` driver: one crash-safe file per session | no |
//! | `redis` | the `redis` driver: standalone Redis or Redis Cluster | no |
//! | `axum` | the axum adapter ([`axum`] module) | no |
//! | `actix` | the actix-web adapter ([`actix`] module) | no |
//!
//! The `memory` driver is always there.
//!
//! # Topics
//!
//! Everything of [`session_core`] is re-exported here: [`Session`] (the store, flash messages and
//! lifecycle), [`SessionConfig`], [`SessionManager`], the [`Driver`] contract for custom drivers.
//! The guide in the repository's `docs/` folder follows the AdonisJS session documentation
//! section by section.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]

pub use session_core::*;

/// The axum adapter: [`SessionLayer`](session_axum::SessionLayer) and the extractors.
#[cfg(feature = "axum")]
pub use session_axum as axum;

/// The actix-web adapter: [`SessionMiddleware`](session_actix::SessionMiddleware) and the
/// extractors.
#[cfg(feature = "actix")]
pub use session_actix as actix;

/// The cookie driver.
#[cfg(feature = "cookie")]
pub use session_cookie as cookie_driver;

/// The file driver.
#[cfg(feature = "file")]
pub use session_file as file_driver;

/// The Redis driver.
#[cfg(feature = "redis")]
pub use session_redis as redis_driver;

/// A driver registry holding `memory` and every driver enabled by cargo feature.
///
/// ```
/// let names: Vec<String> = session::registry().names().map(str::to_owned).collect();
/// assert!(names.contains(&"memory".to_owned()));
/// # #[cfg(feature = "cookie")]
/// assert!(names.contains(&"cookie".to_owned()));
/// ```
pub fn registry() -> DriverRegistry {
    #[allow(unused_mut)]
    let mut registry = DriverRegistry::new();
    #[cfg(feature = "cookie")]
    session_cookie::register(&mut registry);
    #[cfg(feature = "file")]
    session_file::register(&mut registry);
    #[cfg(feature = "redis")]
    session_redis::register(&mut registry);
    registry
}

/// A manager builder with [`registry`] installed: `session::builder(config).build()?`.
pub fn builder(config: SessionConfig) -> SessionManagerBuilder {
    SessionManager::builder(config).with_registry(registry())
}
