//! The cookie driver for `session-core`: the whole session sealed with AES-256-GCM in the
//! browser's cookies, with server-side expiry, key rotation and a size cap that fails loudly.
//!
//! Nothing is stored on the server. The record (values, flash messages, creation and
//! last-activity times, a format version) is encrypted and authenticated with a key derived from
//! the application's secret keys, and travels in data cookies next to the signed id cookie.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//!
//! let mut registry = DriverRegistry::new();
//! session_cookie::register(&mut registry);
//! let manager = SessionManager::builder(
//!     SessionConfig::new()
//!         .with_driver("cookie")
//!         .with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .with_registry(registry)
//! .build()?;
//!
//! // First request: the handler stores a value; the response carries the id cookie and the
//! // sealed data cookie.
//! let first = manager.start_request(std::iter::empty()).session().await?;
//! first.put("cart_total", 1900)?;
//! first.commit().await?;
//! let cookies: Vec<String> = first
//!     .context()
//!     .response_cookies()
//!     .iter()
//!     .map(|c| c.stripped().to_string())
//!     .collect();
//! assert!(cookies.iter().any(|c| c.starts_with("id.d=1.")));
//!
//! // Second request: the browser sends both back.
//! let second = manager.start_request([cookies.join("; ").as_str()]).session().await?;
//! assert_eq!(second.get::<u32>("cart_total")?, Some(1900));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # What is stored where
//!
//! | cookie | holds |
//! |---|---|
//! | `<cookie_name>` | the signed session id (set by the core, as with every driver) |
//! | `<cookie_name>.d` | `<count>.` followed by the first part of the sealed record |
//! | `<cookie_name>.d.1` … `.d.<count-1>` | the following parts, when the record needs more than one cookie |
//!
//! The sealed record is `base64url(format byte ‖ 96-bit random nonce ‖ AES-256-GCM(record) ‖ tag)`.
//! The associated data binds it to the session cookie name and to the session's storage key (a
//! SHA-256 of the id), so a data cookie moved to another session, or set under another cookie
//! name, does not open. The data cookies carry the session's cookie attributes (`Path`, `Domain`,
//! `Secure`, `HttpOnly`, `SameSite`) and, unless `clear_with_browser` is set, a `Max-Age` that
//! ends when the sealed session expires.
//!
//! # Topics
//!
//! - **Registration**: [`register`] (options from the `cookie_store` section) and
//!   [`register_with`] (options in code, [`CookieDriverConfig`]).
//! - **Expiry**: the creation and last-activity times are sealed inside, and every read checks
//!   them against the idle and absolute lifetimes with the manager's clock. A cookie replayed after
//!   its lifetime reads as no session, whatever the browser did with `Max-Age`.
//! - **Refresh**: a request that does not change the session re-seals it (with its new expiry
//!   and the cookies' new `Max-Age`) only when the session's `refresh` option says it is due
//!   (by default once 20% of the idle age has passed), so read-only page views cost no
//!   encryption and set no cookie.
//! - **Key rotation**: every configured key opens, the first one seals, and a cookie opened with
//!   an older key is re-sealed with the current key on that response even when the session did not
//!   change. Keys are derived from the session secrets with HKDF for the purpose
//!   `"cookie-driver-aes-256-gcm"`, so they never equal the id cookie's signing keys.
//! - **Size**: a sealed value that does not fit one cookie (`name=value` ≤ 4096 bytes) is spread
//!   over numbered chunk cookies. Above the cap ([`CookieDriverConfig::with_max_size`], default
//!   what ten cookies hold, about 40 KB) the commit fails with
//!   [`DriverError::TooLarge`](session_core::DriverError::TooLarge) and no cookie is sent. Chunks
//!   of an earlier, larger value are deleted; clearing the session deletes every chunk with the
//!   attributes it was set with.
//! - **Bad input**: any value in any data cookie (wrong base64, truncated, wrong tag, wrong key,
//!   a chunk count that does not match, absurd chunk numbers, megabyte headers) reads as no session
//!   with a `tracing` warning (`event = "rejected-data-cookie"`), never an error or a panic. Sizes
//!   are checked before anything is decoded or decrypted.
//!
//! # Configuration
//!
//! The session's `cookie` key holds cookie *attributes*, as in AdonisJS; this driver's own
//! options live in the `cookie_store` section:
//!
//! ```
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//!
//! let config: SessionConfig = serde_json::from_str(r#"{
//!     "driver": "cookie",
//!     "keys": ["a secret of at least thirty-two bytes!!"],
//!     "cookie_store": { "max_size": 8000 }
//! }"#).unwrap();
//! let mut registry = DriverRegistry::new();
//! session_cookie::register(&mut registry);
//! let manager = SessionManager::builder(config).with_registry(registry).build().unwrap();
//! assert_eq!(manager.driver().name(), "cookie");
//! ```
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `cookie_store.max_size` | what ten cookies hold (40,899 bytes for the cookie name `id`) | cap on the sealed value, summed over the chunks; 256 up to what 40 cookies hold |
//!
//! # Security notes
//!
//! - **No revocation.** The server keeps nothing, so it cannot end a session early: a copy of
//!   the cookies opens the session until its sealed idle or absolute lifetime ends, even after the
//!   user logged out or `regenerate` issued a new id. Keep the idle age short, set an absolute
//!   lifetime, and rotate the keys to end every outstanding session at once. Applications that
//!   must revoke single sessions (password change, "log out everywhere") need a server-side driver.
//! - **Concurrent requests.** Each response carries the whole session, so when two requests run
//!   at once the browser keeps the cookies of the last response: the other request's changes are
//!   lost. The driver does not declare the atomic update, and the core falls back to last writer
//!   wins.
//! - **Confidentiality.** Values are encrypted, but the size of the session is visible in the
//!   cookie length.
//! - **Nonces.** Nonces are 96 random bits, so a key should seal fewer than 2³² values (NIST
//!   SP 800-38D); the refresh threshold keeps re-seals rare, and rotating keys resets the count.
//! - **Opened values remembered.** The driver keeps, for each session it served lately, the
//!   last sealed value it opened or sealed and its record (a fixed table of 512 entries, values
//!   of up to 1,024 characters), and answers a value equal
//!   to the one kept for the same storage key without decrypting it again. Opening depends only on the value, the storage key and the driver's keys, so the
//!   answer is the one opening would give; a tampered or moved value equals no entry and is
//!   refused as before. Values are compared in constant time
//!   ([`constant_time_eq`](session_core::constant_time_eq)) and expiry is checked on every read.
//!   The table holds decrypted session data in the process's memory; its `Debug` shows only
//!   its size.
//! - **Request size.** Ten full cookies make a 40 KB `Cookie` header, above the 8 KB many proxies
//!   accept by default. Keep sessions small (ids, not objects) or lower `max_size`.
//!
//! # Benchmarks
//!
//! `cargo bench -p session-cookie` (criterion) measures a write (encode, seal, split into
//! cookies), a read (assemble, open, decode) of a value the driver has not seen, and a read of a
//! value it opened before (*remembered*), through the [`ClientStore`](session_core::ClientStore) trait,
//! with one key configured. Median of 100 samples (criterion's confidence interval in brackets)
//! on a 2-core AMD EPYC virtual machine (rustc 1.95, release profile, 2026-11-28), shared with
//! other work at the time, so compare ratios rather than absolute numbers:
//!
//! | record (encoded) | data cookies | seal (write) | open (read) | remembered (read) |
//! |---|---|---|---|---|
//! | 200 bytes | 1 | 2.02 µs (1.92–2.12) | 1.95 µs (1.90–2.01) | 0.60 µs (0.59–0.63) |
//! | 3 KB | 2 | 5.89 µs (5.74–6.08) | 5.36 µs (5.17–5.56) | not kept: opened |
//!
//! Since then a write makes one byte buffer and one string instead of seven allocations, and a
//! single-key open decrypts in the decoded bytes (about 3,200 fewer instructions per benchmark
//! server `write` under callgrind). The table was not measured again: on the machine at hand
//! (2026-11-28, an Intel Xeon shared with other work), the same binary's figures moved by up to
//! 40% between runs, more than the change. The latest run of every micro-benchmark, these
//! included, is on the guide's micro-benchmarks page (`docs/micro-benchmarks.md`, written by
//! `cargo xtask bench micro`).
//!
//! A request that reads an unmodified session brings the value the previous response set, which
//! the driver remembers (if no other value landed in its slot since); the re-seal on refresh is
//! skipped until half the idle age has passed.
//!
//! # Feature flags
//!
//! This crate has no feature flags.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chunk;
mod config;
mod driver;
mod opened;
mod plain;
mod seal;

/// The sealed plaintext's codec and the sealing itself, for the fuzz targets in `fuzz/` only
/// (built with `--cfg fuzzing`): a fuzzer cannot forge the AES-GCM tag, so the targets seal
/// fuzzed plaintexts with a known key to reach the decoder behind it.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use session_core::{DerivedKey, DriverError, Record, StorageKey};

    /// The record in a sealed plaintext, as the driver decodes it after opening a data cookie.
    pub fn decode_plaintext(plain: &[u8]) -> Option<Record> {
        crate::plain::decode(plain)
    }

    /// The plaintext the driver seals for `record`.
    pub fn encode_plaintext(record: &Record) -> Vec<u8> {
        let mut out = Vec::new();
        crate::plain::encode_into(&mut out, record);
        out
    }

    /// `plaintext` sealed under the first of `keys` (derived for [`crate::KEY_PURPOSE`]) for the
    /// session cookie `cookie_name` and the session `key`: the value the data cookies carry,
    /// before it is split into chunks.
    pub fn seal(
        keys: &[DerivedKey],
        cookie_name: &str,
        key: &StorageKey,
        plaintext: &[u8],
    ) -> Result<String, DriverError> {
        let mut buf = crate::seal::Sealer::buffer(plaintext.len());
        buf.extend_from_slice(plaintext);
        let mut out = String::new();
        crate::seal::Sealer::new(keys).seal_into(cookie_name, key, buf, &mut out)?;
        Ok(out)
    }
}

use session_core::{Driver, DriverRegistry};

pub use crate::config::CookieDriverConfig;
pub use crate::driver::CookieDriver;

/// The name the driver is registered under (`driver = "cookie"`).
pub const DRIVER_NAME: &str = "cookie";

/// The configuration section holding the driver's own options.
pub const SECTION: &str = "cookie_store";

/// The purpose the sealing keys are derived for (see [`session_core::KeyRing::derive`]).
pub const KEY_PURPOSE: &str = "cookie-driver-aes-256-gcm";

/// Registers the cookie driver under `"cookie"`, with its options read from the `cookie_store`
/// section (defaults when there is none).
///
/// ```
/// use session_core::{Driver, DriverRegistry};
///
/// let mut registry = DriverRegistry::new();
/// session_cookie::register(&mut registry);
/// assert!(registry.names().any(|n| n == "cookie"));
/// ```
pub fn register(registry: &mut DriverRegistry) {
    register_with(registry, CookieDriverConfig::default());
}

/// Registers the cookie driver under `"cookie"` with options given in code. A `cookie_store`
/// section in the session configuration, when present, replaces them.
///
/// ```
/// use session_core::{DriverRegistry, SessionConfig, SessionManager};
/// use session_cookie::CookieDriverConfig;
///
/// let mut registry = DriverRegistry::new();
/// session_cookie::register_with(&mut registry, CookieDriverConfig::new().with_max_size(4000));
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("cookie").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .with_registry(registry)
/// .build()
/// .unwrap();
/// assert_eq!(manager.driver().name(), "cookie");
///
/// // Invalid options are rejected at start-up, naming the option.
/// let mut registry = DriverRegistry::new();
/// session_cookie::register_with(&mut registry, CookieDriverConfig::new().with_max_size(10));
/// let err = SessionManager::builder(
///     SessionConfig::new().with_driver("cookie").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .with_registry(registry)
/// .build()
/// .unwrap_err();
/// assert_eq!(err.option(), "cookie_store.max_size");
/// ```
pub fn register_with(registry: &mut DriverRegistry, config: CookieDriverConfig) {
    // The options cannot live under the driver's name: `cookie` holds the cookie attributes.
    registry.claim_section(SECTION);
    registry.extend(DRIVER_NAME, move |setup| {
        Ok(CookieDriver::from_setup(setup, config.clone())?.into())
    });
}

/// A cookie driver converts into the manager's client-side [`Driver`].
///
/// ```
/// use session_core::{Driver, SessionConfig};
/// use session_cookie::{CookieDriver, CookieDriverConfig};
///
/// let config = SessionConfig::new().with_key("a secret of at least thirty-two bytes!!");
/// let driver: Driver = CookieDriver::new(&config, CookieDriverConfig::new())?.into();
/// assert_eq!(driver.name(), "cookie");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
impl From<CookieDriver> for Driver {
    fn from(driver: CookieDriver) -> Self {
        Driver::client(driver)
    }
}
