//! The file driver for `session-core`: one crash-safe file per session, a cross-process lock for
//! lost-update-free commits, expiry checked on read, cheap refreshes and a sweeper.
//!
//! [`FileDriver`] is a [`SessionStore`](session_core::SessionStore) with conditional writes.
//! Build it in code and hand it to the manager:
//!
//! ```
//! use session_core::{SessionConfig, SessionManager};
//! use session_file::FileDriver;
//!
//! let dir = tempfile::tempdir()?;
//! let manager = SessionManager::builder(
//!     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .driver(FileDriver::new(dir.path().join("sessions"))?)
//! .build()?;
//! assert_eq!(manager.driver().name(), "file");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! or register it, so that the configuration picks it by name (`"driver": "file"`) and its `file`
//! section ([`FileConfig`]) sets it up:
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//!
//! let dir = tempfile::tempdir()?;
//! let mut registry = DriverRegistry::new();
//! session_file::register(&mut registry);
//!
//! let config: SessionConfig = serde_json::from_value(serde_json::json!({
//!     "driver": "file",
//!     "age": "2h",
//!     "keys": ["a secret of at least thirty-two bytes!!"],
//!     "file": { "location": dir.path().join("sessions") }
//! }))?;
//! let manager = SessionManager::builder(config).with_registry(registry).build()?;
//!
//! let first = manager.start_request(std::iter::empty()).session().await?;
//! first.put("cart_total", 1900)?;
//! first.commit().await?;
//! let cookie = first.id_cookie().expect("an id cookie");
//!
//! let second = manager.start_request([cookie.as_str()]).session().await?;
//! assert_eq!(second.get::<u32>("cart_total")?, Some(1900));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Layout
//!
//! Each session is one file named from its [`StorageKey`](session_core::StorageKey) (the hash of
//! the id, never request input), sharded by the key's first two characters so that no folder
//! holds more than a few hundred files per million sessions:
//!
//! ```text
//! <location>/Qx/Qx3v…w8.session   the record (session-core's versioned JSON)
//! <location>/Qx/Qx3v…w8.lock      the session's lock (empty)
//! <location>/Qx/.Qx3v…w8.aB3d.tmp a write in progress
//! <location>/tags/9f/9f86…08/Qx3v…w8  the tag index: a session of a tag (empty; see Tags)
//! ```
//!
//! The folder is created with owner-only permissions at start-up; a missing, non-folder or
//! unwritable location is a [`ConfigError`](session_core::ConfigError) naming `file.location`.
//!
//! # Guarantees
//!
//! - **Atomic replace**: a write goes to a temporary file in the same folder, is flushed to disk
//!   (`fsync`, see [`FileConfig::with_fsync`]) and renamed over the old file, so a reader or a
//!   crash never sees half a record.
//! - **No lost update, no resurrection**: [`write`](session_core::SessionStore::write) and
//!   [`destroy`](session_core::SessionStore::destroy) compare versions under an exclusive lock on
//!   the session's lock file (`flock`), which also holds between processes sharing the folder.
//!   [`refresh`](session_core::SessionStore::refresh) takes the same lock and only ever changes a
//!   live record.
//! - **Expiry**: every record carries its `expires_at` (computed by the core from the idle and
//!   absolute lifetimes); read, write, destroy, refresh and the sweeper compare it with the
//!   driver's clock, and an expired file reads as no session.
//! - **Cheap refreshes**: a refresh that slides both times by the same amount (the usual case)
//!   only sets the file's modification time, which reads take into account; any other refresh
//!   rewrites the record like a write.
//! - **Bad files**: a corrupt, truncated, oversized or foreign file reads as no session, with a
//!   `tracing` warning; never a panic.
//! - **No blocking on the runtime**: every file operation runs on tokio's blocking pool.
//!
//! # Tags
//!
//! [`FileDriver`] implements [`TaggedStore`](session_core::TaggedStore), so
//! [`Session::tag`](session_core::Session::tag) and the manager's
//! [`tagged_sessions`](session_core::SessionManager::tagged_sessions),
//! [`destroy_tagged_sessions`](session_core::SessionManager::destroy_tagged_sessions) and the
//! others work. The index of a tag is a folder of empty files, one per session, named after the
//! session's storage key:
//!
//! ```text
//! <location>/tags/<h2>/<h64>/<key>
//! ```
//!
//! where `<h64>` is SHA-256 of the tag in lowercase hex and `<h2>` its first two characters
//! ([`FileDriver::tag_path`]): no tag reaches a path, whatever its bytes, and neither does a
//! session id.
//!
//! - **Never missing a session.** A write of a tagged record adds the entry, under the
//!   session's lock, *before* the record (flushed to disk first with `fsync` on), so a crash in
//!   between leaves an entry too many, never a tagged session its listing would miss. An entry
//!   is removed only under the session's lock, once its record is checked to be gone, expired,
//!   untagged or tagged otherwise; so "log out everywhere" reaches every session.
//! - **Kept tidy.** A write that untags or re-tags a session, a destroy (logout) and the
//!   sweeper's removal of an expired file remove the entry at once; a listing removes the stale
//!   entries it meets; the sweeper removes those nobody lists and the folders of tags left
//!   without sessions (a writer that finds its tag's folder gone makes it again).
//! - **Cost.** An untagged session costs nothing more. A write of a tagged session costs one
//!   more `open` (the entry, usually there already), plus a folder flush when the entry is new
//!   and `fsync` is on; reads and refreshes cost nothing more. A listing reads the tag's folder
//!   and each record in it.
//!
//! # Sweeping
//!
//! Expired files stay on disk until swept: call [`FileDriver::sweep`], start
//! [`FileDriver::spawn_sweeper`] beside the server, or run the `sweep` example from cron
//! (`cargo run -p session-file --example sweep -- /var/lib/app/sessions`). A sweep also
//! removes the temporary files of writes that a crash interrupted, once they are older than
//! [`TEMP_FILE_MIN_AGE`], unreadable session files older than [`UNREADABLE_FILE_MIN_AGE`],
//! the lock files of sessions that no longer exist, and the tag index's entries whose session is
//! gone, expired, untagged or tagged otherwise. See
//! [`FileDriver::sweep`] for the rules and [`SweepReport`] for the counts.
//!
//! The sweeper works on the folder, not on one driver value: any [`FileDriver`] on the same
//! location sweeps it, in this process or another. An application that builds the driver keeps a
//! clone of it for the sweeper (see [`FileDriver`]); one that picks its driver from the
//! configuration can open one from the manager's own settings:
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//! use session_file::{FileConfig, FileDriver};
//!
//! # let dir = tempfile::tempdir()?;
//! let mut registry = DriverRegistry::new();
//! session_file::register(&mut registry);
//! let config: SessionConfig = serde_json::from_value(serde_json::json!({
//!     "driver": "file",
//!     "keys": ["a secret of at least thirty-two bytes!!"],
//!     "file": { "location": dir.path().join("sessions") }
//! }))?;
//! let manager = SessionManager::builder(config).with_registry(registry).build()?;
//!
//! let _sweeper = if manager.driver().name() == "file" {
//!     // The section is named after the driver's registry name, `file`.
//!     let section = manager.config().section(manager.config().driver()).cloned();
//!     let file_config: FileConfig =
//!         serde_json::from_value(section.unwrap_or_else(|| serde_json::json!({})))?;
//!     let driver = FileDriver::from_config(file_config)?.with_clock(manager.clock().clone());
//!     // Keep the handle as long as the server runs: dropping it stops the sweeper.
//!     Some(driver.spawn_sweeper(Duration::from_secs(15 * 60)))
//! } else {
//!     None
//! };
//! # assert!(_sweeper.is_some_and(|s| !s.is_finished()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! | name | what | default |
//! |---|---|---|
//! | — | the crate has no optional features | — |
//!
//! # Platforms
//!
//! Unix is the primary target (owner-only permissions, lock-file clean-up by inode comparison).
//! Elsewhere the driver works but leaves lock files in place and does not set permissions.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89 (`std::fs::File::lock`).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod driver;
mod store;
mod sweep;
mod tags;

pub use crate::config::FileConfig;
pub use crate::driver::{FileDriver, SweeperHandle};
pub use crate::sweep::{SweepReport, TEMP_FILE_MIN_AGE, UNREADABLE_FILE_MIN_AGE};

/// Registers the file driver under `file` in a driver registry. Its factory reads the `file`
/// configuration section ([`FileConfig`]) and takes the manager's clock at start-up
/// ([`FileDriver::from_setup`]).
///
/// ```
/// use serde_json::json;
/// use session_core::{DriverRegistry, SessionConfig, SessionManager};
///
/// let mut registry = DriverRegistry::new();
/// session_file::register(&mut registry);
/// assert!(registry.names().any(|name| name == "file"));
///
/// let dir = tempfile::tempdir()?;
/// let manager = SessionManager::builder(
///     SessionConfig::new()
///         .with_driver("file")
///         .with_key("a secret of at least thirty-two bytes!!")
///         .with_section("file", json!({ "location": dir.path() })),
/// )
/// .with_registry(registry)
/// .build()?;
/// assert_eq!(manager.driver().name(), "file");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn register(registry: &mut session_core::DriverRegistry) {
    registry.extend("file", |setup| Ok(FileDriver::from_setup(setup)?.into()));
}

/// The environment variables [`config_from_vars`] reads.
///
/// ```
/// assert_eq!(session_file::ENV_VARS, ["SESSION_FILE_LOCATION"]);
/// ```
pub const ENV_VARS: &[&str] = &["SESSION_FILE_LOCATION"];

/// Reads the file driver's variables into `config`'s `file` section: `SESSION_FILE_LOCATION`
/// sets `file.location`. Other variables are left alone (the core reads its own with
/// `SessionConfig::from_vars`; the `session-kit` facade calls both).
///
/// ```
/// use session_core::SessionConfig;
///
/// let vars = [("SESSION_FILE_LOCATION".to_string(), "/var/lib/app/sessions".to_string())];
/// let config = session_file::config_from_vars(SessionConfig::new().with_driver("file"), &vars);
/// assert_eq!(config.section("file").unwrap()["location"], "/var/lib/app/sessions");
/// ```
pub fn config_from_vars(
    mut config: session_core::SessionConfig,
    vars: &[(String, String)],
) -> session_core::SessionConfig {
    for (name, value) in vars {
        if name == "SESSION_FILE_LOCATION" {
            config = config.with_section_option("file", "location", value.as_str());
        }
    }
    config
}
