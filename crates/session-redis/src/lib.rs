//! The Redis driver for session-core: one round trip per request for most requests, no lost
//! updates, Redis Cluster, and fast failure.
//!
//! Register it and choose it by name in the configuration:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//!
//! let mut registry = DriverRegistry::new();
//! session_redis::register(&mut registry);
//!
//! let manager = SessionManager::builder(
//!     SessionConfig::new()
//!         .with_driver("redis")
//!         .with_key("a secret of at least thirty-two bytes!!")
//!         .with_section("redis", serde_json::json!({
//!             "url": "redis://127.0.0.1:6379/0",
//!             "prefix": "myapp:session:",
//!             "command_timeout": "500ms",
//!         })),
//! )
//! .with_registry(registry)
//! .build()?;
//!
//! let session = manager.start_request(std::iter::empty()).session().await?; // no cookie: nothing to read
//! session.put("user.id", 7)?;
//! session.commit().await?; // one SET … NX PX: a new session
//! # Ok(())
//! # }
//! ```
//!
//! or build it in code and hand the value to the manager (building opens no connection):
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{SessionConfig, SessionManager, SystemClock};
//! use session_redis::RedisDriver;
//!
//! let clock = Arc::new(SystemClock);
//! let driver = RedisDriver::builder()
//!     .with_url("redis://127.0.0.1:6379/0")
//!     .with_prefix("myapp:session:")
//!     .with_clock(clock.clone()) // the manager's clock
//!     .build()?;
//! let manager = SessionManager::builder(
//!     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .driver(driver)
//! .with_clock(clock)
//! .build()?;
//! assert_eq!(manager.driver().name(), "redis");
//! # Ok::<(), session_core::ConfigError>(())
//! ```
//!
//! # Round trips
//!
//! | request | commands |
//! |---|---|
//! | reads the session, changes nothing | 2 (`GET`, then one `EVALSHA`: the refresh) |
//! | reads and modifies the session | 2 (`GET` + one `EVALSHA` conditional write) |
//! | never uses the session, has a cookie | 2 (`GET` + one `EVALSHA`: the refresh) |
//! | readonly request | 1 (`GET`) |
//! | empties the session (logout) | 2 (`GET` + one `EVALSHA` conditional delete) |
//! | stores data for a new visitor | 1 (`SET … NX PX`; the conditional write's script only when the key exists) |
//! | regenerates the id (login) | 3 (`GET` + `SET … NX PX` under the new id + one `EVALSHA` conditional delete of the old one) |
//!
//! With the local cache on, the `GET` of a session held in the process is answered from its
//! copy, and a new session's write is the conditional write's script (see the guide's "Round
//! trips per request"). A tagged session costs the same but when it is stored as new (a login):
//! one `EVALSHA` more, before the `SET` (see [Tags](#tags)).
//!
//! Every command goes over one shared multiplexed connection while it stays healthy (or over the
//! one of `connections` that the session's storage key picks; on a current-thread runtime, such
//! as each actix-web worker's, over the calling thread's own), so the commands of concurrent
//! requests are pipelined on it; the pool opens it, and replaces it when a command on it fails
//! (see [`RedisDriverBuilder::with_connections`] and the guide). Taking it costs no round trip:
//! the pool does not `PING`. When Redis's script cache was flushed (`SCRIPT FLUSH`, a restart, a
//! fail-over), the first call of each script answers `NOSCRIPT` and is repeated once as `EVAL`,
//! which reloads it.
//!
//! With [`RedisDriverBuilder::with_local_cache`] (the `local_cache` option, off by default), the
//! driver keeps copies of the sessions it read, wrote or refreshed in memory, kept current by
//! Redis's change messages (client tracking), and answers reads from them: no `GET`, so a request
//! sends only its write, delete or refresh.
//!
//! # Key layout
//!
//! One Redis string per session at `<prefix>{<storage key>}` (default prefix `session:`), where
//! the storage key is the 22-character digest of the session id that session-core derives: the
//! raw id never reaches Redis. The braces are a Redis Cluster hash tag, so every key of a session
//! lives in one slot. The value is a 50-byte header, `s3<version><active><expires><created>` with
//! each number in 12 lowercase hex digits (times in ms since the Unix epoch), then the session's
//! values as a JSON object: each number is stored once. The header has a fixed size so that the
//! scripts read only the header (`GETRANGE`) to compare versions and expiry, and a refresh
//! rewrites the activity mark and the expiry in place (`SETRANGE`). A tagged session's values
//! start with its tag (see [Tags](#tags)).
//!
//! # Tags
//!
//! The driver implements session-core's [`TaggedStore`]: the manager's `tagged_sessions`,
//! `tagged_session`, `destroy_tagged_session` and `destroy_tagged_sessions` work on standalone
//! Redis and on Redis Cluster. Each tag has an index, a sorted set at `<prefix>tag:<digest>`
//! ([`RedisDriver::tag_key`]; the digest is base64url of SHA-256 of the tag, so the tag never
//! appears in a key name), whose members are the storage keys of the tag's sessions.
//!
//! On Redis Cluster an index is in another slot than its sessions, so no script changes both:
//! the index is updated first, by a command of its own, and the record written after; a write
//! that then fails leaves an entry too many, never one too few. The scores say which write added
//! an entry (minus its time for a new session, the version written for an update that gave a
//! record the tag), so that the cleanup never removes an entry whose write may still be on its
//! way. What each request costs:
//!
//! | request of a tagged session | commands |
//! |---|---|
//! | reads, refreshes, readonly and untouched requests, logout | as untagged |
//! | modifies the session (same tag) | as untagged: the write's script checks that the stored record carries the same tag, whose index already names it |
//! | stores a new session (a login: `regenerate` and `tag`) | one `EVALSHA` more (the index), before the `SET … NX PX` |
//! | tags a session that keeps its id | two `EVALSHA` more (the script answers that the record is not tagged yet; the index; then the write) |
//! | lists a tag | one `EVALSHA` (the index), one `MGET` (the records, from Redis, never from the local cache), one `EVALSHA` more when stale entries are removed |
//!
//! A listing removes the entries whose session is gone, expired, untagged or tagged otherwise
//! (each only if nothing updated it since it was read). An index has no TTL, since a refresh
//! (which carries no record) keeps a session alive without telling its tag; instead a new
//! session whose index holds more than 32 entries checks up to 64 of them and removes the stale
//! ones, so an index stays near the number of its live sessions whether or not anyone lists it.
//! The guide's "Tags" section gives the rules and why "log out everywhere" never misses a session.
//!
//! # Expiry and TTL
//!
//! session-core computes when each record expires (`Record::expires_at`, from the idle and
//! absolute lifetimes) and hands it to the driver with every write and refresh. The key's TTL is
//! the time left until then, computed with the session manager's clock and set relative (`PX`,
//! `PEXPIRE`), so clock skew between the application and Redis does not change lifetimes. A
//! record whose expiry has come by the application's clock reads as absent, is never refreshed,
//! and counts as absent for the conditional write and delete, even while Redis still holds the
//! key. A record written already expired is not stored. A refresh only ever changes a live
//! record: it never creates one and never brings an expired one back.
//!
//! # Failure
//!
//! Every call is bounded: waiting for a pooled connection, opening one, and each command have
//! their own timeout (1 s each by default). A Redis that is down, slow or restarting gives
//! [`DriverError::Unavailable`](session_core::DriverError) or
//! [`DriverError::Timeout`](session_core::DriverError) within that bound, which the adapters turn
//! into 503. A shared connection whose command failed or timed out is discarded, and the next
//! request that uses it checks a fresh one out of the pool, so the driver reconnects by itself
//! once Redis is back. A value the driver cannot decode reads as no session, with a `tracing`
//! warning.
//!
//! # TLS
//!
//! A `rediss://` URL (or `rediss://` cluster nodes) connects over TLS, with rustls. The server's
//! certificate must come from a public CA (the `webpki-roots` list) unless `tls_ca_file` names
//! the PEM file of a private CA to trust instead; `tls_client_cert_file` and
//! `tls_client_key_file` add a client certificate for servers that require mutual TLS:
//!
//! ```no_run
//! let driver = session_redis::RedisDriver::builder()
//!     .with_url("rediss://10.0.0.5:6380/0")
//!     .with_tls_ca_file("/etc/myapp/redis-ca.pem")
//!     .with_tls_client_cert("/etc/myapp/redis-client.pem", "/etc/myapp/redis-client-key.pem")
//!     .build()?;
//! # Ok::<(), session_core::ConfigError>(())
//! ```
//!
//! The files are read and checked at start-up: a missing or invalid file is a
//! [`ConfigError`](session_core::ConfigError) naming `redis.tls_ca_file` (or the client
//! certificate's options). A server certificate the trusted CAs did not issue fails each
//! connection attempt, which requests see as a backend error within the connect timeout.
//! Certificate checks cannot be turned off (`#insecure` URLs are refused). The driver uses
//! rustls's ring crypto provider and installs it as the process's default rustls provider when a
//! TLS driver is built and no default is installed yet.
//!
//! With Redis Cluster every seed node is a `rediss://` URL, and the same CA (and client
//! certificate) serve for the nodes discovered from `CLUSTER SLOTS` and redirections too: their
//! certificates must be valid for the addresses the cluster announces, and the nodes must announce
//! their TLS ports (`tls-cluster yes`). The test suite runs the conformance suite against such a
//! cluster with a private CA.
//!
//! # Feature flags
//!
//! | name | what | default |
//! |---|---|---|
//! | `tls` | TLS: `rediss://` URLs and the `tls_*` options (rustls with ring, webpki-roots) | on |
//!
//! Standalone and cluster support are always built. Without `tls`, `rediss://` URLs and the
//! `tls_*` options are rejected at start-up with an error naming the option.
//!
//! # Supported Rust versions
//!
//! The minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod config;
mod layout;
mod pool;
mod scripts;
mod tags;
#[cfg(feature = "tls")]
mod tls;

/// The stored layout's codec, for the fuzz targets in `fuzz/` only (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use session_core::Record;

    /// The record a stored value holds, as the driver reads it (before the expiry check);
    /// `None` for a value the driver did not write.
    pub fn read(stored: &[u8]) -> Option<Record> {
        crate::layout::decode(stored)
    }

    /// The value the driver stores for `record`.
    pub fn value(record: &Record) -> Vec<u8> {
        crate::layout::value(record)
    }
}

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, RedisError};
use session_core::{
    Clock, Driver, DriverError, DriverRegistry, Record, SessionStore, StorageKey, TaggedStore,
    WriteOutcome,
};

pub use crate::config::{
    RedisDriverBuilder, DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECTIONS, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL_SIZE, DEFAULT_POOL_WAIT_TIMEOUT, DEFAULT_PREFIX,
};

use crate::cache::{Copies, Stamp};
use crate::pool::{Current, Handle, Limits, Pool};
use crate::scripts::{Lua, Scripts};

/// Room for a command's name, a script digest, a storage key and a dozen numbers.
const COMMAND_BYTES: usize = 256;

/// The name the driver registers under and reports in errors.
///
/// ```
/// assert_eq!(session_redis::DRIVER_NAME, "redis");
/// ```
pub const DRIVER_NAME: &str = "redis";

/// Registers the `redis` driver factory, which reads the `redis` configuration section and
/// builds a [`RedisDriver`] on the session manager's clock.
///
/// ```
/// use session_core::{DriverRegistry, SessionConfig, SessionManager};
///
/// let mut registry = DriverRegistry::new();
/// session_redis::register(&mut registry);
/// assert!(registry.names().any(|n| n == "redis"));
///
/// // Building opens no connection: no server is needed here.
/// let manager = SessionManager::builder(
///     SessionConfig::new()
///         .with_driver("redis")
///         .with_key("a secret of at least thirty-two bytes!!")
///         .with_section("redis", serde_json::json!({ "url": "redis://127.0.0.1:6379/0" })),
/// )
/// .with_registry(registry)
/// .build()?;
/// assert_eq!(manager.driver().name(), "redis");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub fn register(registry: &mut DriverRegistry) {
    registry.extend(DRIVER_NAME, |setup| {
        let driver = RedisDriverBuilder::from_setup(setup)?.build()?;
        Ok(Driver::from(driver))
    });
}

/// The environment variables [`config_from_vars`] reads.
///
/// ```
/// assert!(session_redis::ENV_VARS.contains(&"REDIS_URL"));
/// ```
pub const ENV_VARS: &[&str] = &[
    "REDIS_URL",
    "SESSION_REDIS_PREFIX",
    "SESSION_REDIS_CLUSTER",
    "SESSION_REDIS_LOCAL_CACHE",
];

/// Reads the Redis driver's variables into `config`'s `redis` section:
///
/// | variable | option |
/// |---|---|
/// | `REDIS_URL` | `redis.url` |
/// | `SESSION_REDIS_PREFIX` | `redis.prefix` |
/// | `SESSION_REDIS_CLUSTER` | `redis.cluster` (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`) |
/// | `SESSION_REDIS_LOCAL_CACHE` | `redis.local_cache` (a number of sessions, 0: off) |
///
/// Call it only when the Redis driver is chosen: `REDIS_URL` is often set for other parts of an
/// app (the `session-kit` facade does so). A bad value fails naming the option.
///
/// ```
/// use session_core::SessionConfig;
///
/// let vars = [
///     ("REDIS_URL".to_string(), "redis://127.0.0.1:7000".to_string()),
///     ("SESSION_REDIS_CLUSTER".to_string(), "true".to_string()),
/// ];
/// let config = session_redis::config_from_vars(SessionConfig::new().with_driver("redis"), &vars)?;
/// assert_eq!(config.section("redis").unwrap()["url"], "redis://127.0.0.1:7000");
/// assert_eq!(config.section("redis").unwrap()["cluster"], true);
///
/// let bad = [("SESSION_REDIS_LOCAL_CACHE".to_string(), "lots".to_string())];
/// let err = session_redis::config_from_vars(SessionConfig::new(), &bad).unwrap_err();
/// assert_eq!(err.option(), "redis.local_cache");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub fn config_from_vars(
    mut config: session_core::SessionConfig,
    vars: &[(String, String)],
) -> Result<session_core::SessionConfig, session_core::ConfigError> {
    for (name, value) in vars {
        config = match name.as_str() {
            "REDIS_URL" => config.with_section_option(DRIVER_NAME, "url", value.as_str()),
            "SESSION_REDIS_PREFIX" => {
                config.with_section_option(DRIVER_NAME, "prefix", value.as_str())
            }
            "SESSION_REDIS_CLUSTER" => {
                let on = match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" => false,
                    _ => {
                        return Err(session_core::ConfigError::new(
                            "redis.cluster",
                            format!("expected true or false, got \"{value}\""),
                        ))
                    }
                };
                config.with_section_option(DRIVER_NAME, "cluster", on)
            }
            "SESSION_REDIS_LOCAL_CACHE" => {
                let sessions: u64 = value.trim().parse().map_err(|_| {
                    session_core::ConfigError::new(
                        "redis.local_cache",
                        format!("expected a number of sessions (0: off), got \"{value}\""),
                    )
                })?;
                config.with_section_option(DRIVER_NAME, "local_cache", sessions)
            }
            _ => config,
        };
    }
    Ok(config)
}

/// Sessions in Redis or Redis Cluster, with conditional writes: a [`SessionStore`] named
/// `redis`.
///
/// Build it with [`RedisDriver::builder`] in code and give the value to
/// [`SessionManagerBuilder::driver`](session_core::SessionManagerBuilder::driver), or let the
/// session manager build it from the `redis` configuration section after [`register`]. Building
/// opens no connection: the pool connects on first use.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{ManualClock, SessionConfig, SessionManager};
/// use session_redis::RedisDriver;
///
/// let clock = Arc::new(ManualClock::new(1_000));
/// let driver = RedisDriver::builder()
///     .with_url("redis://127.0.0.1:6379/0")
///     .with_clock(clock.clone())
///     .build()?;
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .driver(driver)
/// .with_clock(clock)
/// .build()?;
/// assert_eq!(manager.driver().name(), "redis");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
///
/// Used directly, it follows the [`SessionStore`] contract (a server is needed for this one):
///
/// ```no_run
/// # async fn run() -> Result<(), session_core::DriverError> {
/// use session_core::{Record, SessionId, SessionStore, WriteOutcome};
///
/// let driver = session_redis::RedisDriver::builder().build().expect("valid");
/// let key = SessionId::generate().storage_key();
/// let now = 1_800_000_000_000;
/// let record = Record { version: 1, ..Record::new(Default::default(), now, now + 60_000) };
/// assert_eq!(driver.write(&key, &record, None).await?, WriteOutcome::Written);
/// assert_eq!(driver.write(&key, &record, None).await?, WriteOutcome::Conflict);
/// driver.refresh(&key, now + 1_000, now + 61_000).await?;
/// assert_eq!(driver.destroy(&key, 1).await?, WriteOutcome::Written);
/// # Ok(())
/// # }
/// ```
pub struct RedisDriver {
    pool: Pool,
    current: Current,
    prefix: String,
    clock: Arc<dyn Clock>,
    limits: Limits,
    cluster: bool,
    scripts: Scripts,
    copies: Option<Arc<Copies>>,
}

impl fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("RedisDriver")
            .field("prefix", &self.prefix)
            .field("cluster", &self.cluster)
            .field("pool_size", &status.max_size)
            .field("pool_open", &status.size)
            .field("limits", &self.limits)
            .field("local_cache", &self.copies)
            .finish_non_exhaustive()
    }
}

/// A change to a session in flight, for the local cache: the copy was dropped when it began
/// (and kept here when it came from the connection the change is sent on); [`Change::settle`]
/// stores the outcome. Dropped unsettled (an error, or the request's future dropped by a timeout
/// while the command may still run), it drops the copy again.
struct Change<'a> {
    copies: &'a Copies,
    key: &'a StorageKey,
    stamp: Stamp,
    held: Option<Record>,
    settled: bool,
}

impl Change<'_> {
    fn settle(mut self, stored: Option<&Record>) {
        self.copies.settle(self.key, stored, self.stamp);
        self.settled = true;
    }

    /// Settles a refresh: the copy held before, with its new times, when the record was live.
    fn settle_refreshed(mut self, live: bool, last_active: u64, expires_at: u64) {
        let refreshed = self.held.take().filter(|_| live).map(|mut record| {
            (record.last_active, record.expires_at) = (last_active, expires_at);
            record
        });
        self.settle(refreshed.as_ref());
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.copies.forget(self.key);
        }
    }
}

/// Why one attempt failed: a Redis error (which may call for a retry) or a final one.
enum Failure {
    Redis(RedisError),
    Driver(DriverError),
}

/// How a call's reply is obtained: one command, or a script by digest with its full text as
/// the fallback when the server no longer has it cached. The fallback `EVAL` is only built when
/// it is needed: building it for every call copied the script's text (and, for a write, the
/// encoded record a second time) into a command that was almost never sent.
enum Request<'a> {
    Plain(Cmd),
    Script { by_sha: Cmd, code: &'a str },
}

/// The `EVAL` equivalent of an `EVALSHA` command: the script's text instead of its digest, the
/// same keys and arguments.
fn eval_of(by_sha: &Cmd, code: &str) -> Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(code);
    // The first two arguments of `by_sha` are `EVALSHA` and the digest.
    for arg in by_sha.args_iter().skip(2) {
        if let redis::Arg::Simple(bytes) = arg {
            cmd.arg(bytes);
        }
    }
    cmd
}

impl RedisDriver {
    /// A builder with the documented defaults.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_url("redis://127.0.0.1:6379/0")
    ///     .build()?;
    /// assert_eq!(driver.prefix(), "session:");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn builder() -> RedisDriverBuilder {
        RedisDriverBuilder::new()
    }

    pub(crate) fn from_parts(
        pool: Pool,
        current: Current,
        prefix: String,
        clock: Arc<dyn Clock>,
        limits: Limits,
        cluster: bool,
    ) -> Self {
        Self {
            pool,
            current,
            prefix,
            clock,
            limits,
            cluster,
            scripts: Scripts::new(false),
            copies: None,
        }
    }

    /// Keeps local copies of sessions in `copies` (the `local_cache` option).
    pub(crate) fn with_copies(mut self, copies: Option<Arc<Copies>>) -> Self {
        self.scripts = Scripts::new(copies.is_some());
        self.copies = copies;
        self
    }

    /// How many sessions the local cache holds at most (0: off); see
    /// [`RedisDriverBuilder::with_local_cache`].
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().build()?;
    /// assert_eq!(driver.local_cache(), 0, "off by default");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn local_cache(&self) -> usize {
        self.copies.as_ref().map_or(0, |c| c.capacity())
    }

    /// The local copy of the session, when one may answer a read at `now`: the copy is kept
    /// current by the connection this request would use (on a current-thread runtime, the
    /// thread's own: its messages are read on this thread), that connection is healthy (so
    /// Redis's change messages are arriving), and the copy is live.
    fn copy(&self, key: &StorageKey, slot: usize, now: u64) -> Option<Record> {
        let (record, held_on) = self.copies.as_deref()?.get(key)?;
        if held_on != slot || !self.current.serves(slot) {
            return None;
        }
        Some(record).filter(|record| !record.is_expired_at(now))
    }

    /// The stamp a read's reply on the connection of `slot` settles with (see `cache.rs`), when
    /// the local cache is on.
    fn stamp(&self, key: &StorageKey, slot: usize) -> Option<Stamp> {
        Some(self.copies.as_deref()?.stamp(key, slot))
    }

    /// Stores what a read found in the local cache (see `cache.rs`).
    fn keep(&self, key: &StorageKey, found: Option<&Record>, stamp: Option<Stamp>) {
        if let (Some(copies), Some(stamp)) = (self.copies.as_deref(), stamp) {
            copies.settle(key, found, stamp);
        }
    }

    /// Drops the session's local copy before a command on the connection of `slot` changes it,
    /// and settles it afterwards.
    fn changing<'a>(&'a self, key: &'a StorageKey, slot: usize) -> Option<Change<'a>> {
        let copies = self.copies.as_deref()?;
        let (stamp, held) = copies.changing(key, slot);
        Some(Change {
            copies,
            key,
            stamp,
            held,
            settled: false,
        })
    }

    /// Whether the driver talks to a Redis Cluster.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_cluster_nodes(["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"])
    ///     .build()?;
    /// assert!(driver.is_cluster());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The configured key prefix.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_prefix("app:").build()?;
    /// assert_eq!(driver.prefix(), "app:");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key a storage key maps to: `<prefix>{<storage key>}`.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let driver = session_redis::RedisDriver::builder().with_prefix("app:").build()?;
    /// let key = SessionId::generate().storage_key();
    /// assert_eq!(driver.key(&key), format!("app:{{{}}}", key.as_str()));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn key(&self, key: &StorageKey) -> String {
        self.key_for_display(key.as_str())
    }

    /// [`RedisDriver::key`] for any text, for documentation and tooling.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().build()?;
    /// assert_eq!(driver.key_for_display("abc"), "session:{abc}");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn key_for_display(&self, storage_key: &str) -> String {
        // Built by hand: it is on every call's path, and `format!` took about 1,700 instructions
        // (callgrind) where this takes one allocation and three copies.
        let mut key = String::with_capacity(self.prefix.len() + storage_key.len() + 2);
        key.push_str(&self.prefix);
        key.push('{');
        key.push_str(storage_key);
        key.push('}');
        key
    }

    /// The Redis key of the index of `tag`'s sessions: `<prefix>tag:<digest>`, the digest being
    /// base64url of SHA-256 of the tag (43 characters), so the tag never appears in a key name
    /// (see the crate's "Tags").
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_prefix("app:").build()?;
    /// let key = driver.tag_key("ada@example.com");
    /// assert!(key.starts_with("app:tag:") && !key.contains("ada"));
    /// assert_eq!(key.len(), "app:tag:".len() + 43);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn tag_key(&self, tag: &str) -> String {
        tags::index_key(&self.prefix, tag)
    }

    /// An `EVALSHA` of `lua` on the session's key; `args` appends the script's `ARGV` (numbers
    /// are written in decimal, as the scripts read them), `extra` bytes of them beyond the
    /// numbers (the encoded record of a write), so the command is allocated once.
    fn script<'a>(
        &self,
        lua: &'a Lua,
        key: &StorageKey,
        extra: usize,
        args: impl FnOnce(&mut Cmd),
    ) -> Request<'a> {
        Self::script_on(lua, &self.key(key), extra, args)
    }

    /// An `EVALSHA` of `lua` on the Redis key `on` (a tag's index, or a session's key); see
    /// [`RedisDriver::script`].
    fn script_on<'a>(
        lua: &'a Lua,
        on: &str,
        extra: usize,
        args: impl FnOnce(&mut Cmd),
    ) -> Request<'a> {
        let mut cmd = Cmd::with_capacity(16, COMMAND_BYTES + on.len() + extra);
        cmd.arg("EVALSHA").arg(&lua.sha).arg(1).arg(on);
        args(&mut cmd);
        Request::Script {
            by_sha: cmd,
            code: &lua.code,
        }
    }

    /// Runs one request on the shared connection of `slot` (the session's or the thread's, from
    /// `pool::Current::index`), under the overall time limit.
    ///
    /// Idempotent requests (the read and the refresh) are tried once more on a fresh connection
    /// when the shared one turns out to be dead (Redis restarted since it was last used). The
    /// conditional write and delete are never repeated: if a reply was lost the command may have
    /// been applied, and repeating it would answer a conflict (or `gone`) to the request's own
    /// change.
    async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        slot: usize,
        request: Request<'_>,
        idempotent: bool,
    ) -> Result<T, DriverError> {
        let attempt = async {
            let mut tries = 0;
            loop {
                tries += 1;
                match self.try_once(op, key, slot, &request).await {
                    // A timeout is not retried: the server is slow, and a second wait would
                    // only double the time the request is held.
                    Err(Failure::Redis(e))
                        if idempotent
                            && tries == 1
                            && !e.is_timeout()
                            && pool::breaks_connection(&e) =>
                    {
                        tracing::debug!(target: "session_kit::redis", op, key, error = %e, "shared connection was dead; retrying on a fresh one");
                    }
                    // The plain `GET` of a read can meet a key of another type (the session
                    // scripts check with `pcall`): it reads as no session, like in the script.
                    // (A tag's index of another type fails its script: nil is not the count or
                    // the list of members the caller expects, so the call is an error.)
                    Err(Failure::Redis(e)) if e.code() == Some("WRONGTYPE") => {
                        reject::<()>(key, "the key holds a value this driver did not write");
                        return T::from_redis_value(redis::Value::Nil)
                            .map_err(|e| self.redis_error(e.into()));
                    }
                    Err(Failure::Redis(e)) => return Err(self.redis_error(e)),
                    Err(Failure::Driver(e)) => return Err(e),
                    Ok(value) => return Ok(value),
                }
            }
        };
        let total = self.limits.total();
        // Boxed apart from the timer: the driver call's future (boxed by `async_trait`) and this
        // one each stay under the kilobyte that glibc's allocator serves from a per-thread
        // cache; as one block of about 1.1 KB, every call took the shared heap and made it
        // consolidate its fast bins, which doubled the server's CPU per request under load.
        let outcome = match tokio::time::timeout(total, Box::pin(attempt)).await {
            Ok(result) => result,
            Err(_) => Err(DriverError::Timeout {
                driver: DRIVER_NAME,
                after: total,
            }),
        };
        if let Err(e) = &outcome {
            tracing::warn!(target: "session_kit::redis", op, key, error = %e, "redis call failed");
        }
        outcome
    }

    async fn try_once<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &str,
        slot: usize,
        request: &Request<'_>,
    ) -> Result<T, Failure> {
        let mut conn = match self.current.handle(slot) {
            Some(handle) => handle,
            None => self.checkout(slot).await.map_err(Failure::Driver)?,
        };
        let result = match request {
            Request::Plain(cmd) => conn.query(cmd).await,
            Request::Script { by_sha, code } => match conn.query(by_sha).await {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    tracing::debug!(target: "session_kit::redis", op, key, "script not cached on the server; sending it again");
                    conn.query(&eval_of(by_sha, code)).await
                }
                other => other,
            },
        };
        result.map_err(Failure::Redis)
    }

    /// A connection from the pool for the shared connection `slot` (see `pool::Current`),
    /// which keeps it unless a healthy one took the slot meanwhile. Commands run on a handle
    /// that shares its multiplexed socket (see `pool::Tracked`).
    async fn checkout(&self, slot: usize) -> Result<Handle, DriverError> {
        // The broken connection goes back to the pool first, which discards it: with as many
        // shared connections as the pool holds, the pool would otherwise have none to give.
        self.current.release_broken(slot);
        // deadpool's checkout future is large (about 7 KB with its timeouts): boxed, it is not
        // part of, and copied with, the future of every call.
        let object = Box::pin(self.pool.get())
            .await
            .map_err(|e| self.pool_error(e))?;
        Ok(self.current.offer(slot, object))
    }

    fn redis_error(&self, e: RedisError) -> DriverError {
        if e.is_timeout() {
            DriverError::Timeout {
                driver: DRIVER_NAME,
                after: self.limits.command,
            }
        } else {
            DriverError::unavailable(DRIVER_NAME, e)
        }
    }

    fn pool_error(&self, e: deadpool::managed::PoolError<RedisError>) -> DriverError {
        use deadpool::managed::{PoolError, TimeoutType};
        match e {
            PoolError::Timeout(TimeoutType::Wait) => DriverError::Timeout {
                driver: DRIVER_NAME,
                after: self.limits.wait,
            },
            PoolError::Timeout(_) => DriverError::Timeout {
                driver: DRIVER_NAME,
                after: self.limits.connect,
            },
            PoolError::Backend(e) => self.redis_error(e),
            other => DriverError::unavailable(DRIVER_NAME, other),
        }
    }
}

impl RedisDriver {
    /// Writes a new session's value with `SET … NX PX`: one plain command instead of the
    /// conditional write's script. `false` when the key exists; the script then decides
    /// (a record whose expiry has come by the application's clock, still in Redis, counts as
    /// absent there, and a value of another kind as a conflict), so the outcome is the script's
    /// in every case.
    ///
    /// Not repeated on a dead connection, like the script: had the first `SET` been applied, a
    /// second would find the key and report a conflict with the request's own write.
    async fn create(
        &self,
        key: &StorageKey,
        slot: usize,
        value: &[u8],
        ttl: u64,
    ) -> Result<bool, DriverError> {
        let mut cmd = Cmd::with_capacity(6, COMMAND_BYTES + self.prefix.len() + value.len());
        cmd.arg("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        let reply: redis::Value = self
            .run("write", key.short(), slot, Request::Plain(cmd), false)
            .await?;
        match reply {
            redis::Value::Nil => Ok(false),
            redis::Value::Okay => Ok(true),
            redis::Value::SimpleString(s) if s == "OK" => Ok(true),
            other => Err(DriverError::unavailable(
                DRIVER_NAME,
                format!("unexpected reply to SET NX: {other:?}"),
            )),
        }
    }

    /// Writes `record` by the conditional write's script, a new session first by `SET … NX PX`
    /// (see [`SessionStore::write`]), at `now` with `ttl` ms to live (0: the record is expired
    /// as given, and removed).
    async fn write_record(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
        now: u64,
        ttl: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let value = if ttl > 0 {
            layout::value(record)
        } else {
            Vec::new()
        };
        let slot = self.current.index(key);
        // A new session is tried with a plain `SET` first. With the local cache it goes through
        // the script too: the script's final read keeps the connection tracking the key, so this
        // instance can serve the session from its copy (a plain `SET` is not a read: a copy kept
        // after it would hear of no later change).
        if expected.is_none()
            && ttl > 0
            && self.copies.is_none()
            && self.create(key, slot, &value, ttl).await?
        {
            return Ok(WriteOutcome::Written);
        }
        let change = self.changing(key, slot);
        let extra = value.len();
        let args = |cmd: &mut Cmd| {
            match expected {
                Some(version) => cmd.arg(&layout::number(version)),
                None => cmd.arg(""),
            };
            cmd.arg(value);
            if ttl > 0 {
                cmd.arg(ttl);
            } else {
                cmd.arg("");
            }
            cmd.arg(&layout::number(now));
        };
        let reply: String = self
            .run(
                "write",
                key.short(),
                slot,
                self.script(&self.scripts.write, key, extra, args),
                false,
            )
            .await?;
        let outcome = outcome(&reply)?;
        if let Some(change) = change {
            let stored = outcome == WriteOutcome::Written && ttl > 0;
            change.settle(stored.then_some(record));
        }
        Ok(outcome)
    }

    /// Turns a stored value into a record, with the scripts' checks: a record whose expiry has
    /// come by `now` is no session, anything this driver did not write is no session with a
    /// warning. The header's activity mark and expiry are the record's (a refresh moves only
    /// them).
    fn decode_value(&self, key: &StorageKey, stored: &[u8], now: u64) -> Option<Record> {
        let Some(record) = layout::decode(stored) else {
            return reject(
                key.short(),
                "the key holds a value this driver did not write",
            );
        };
        (record.expires_at > now).then_some(record)
    }
}

fn outcome(reply: &str) -> Result<WriteOutcome, DriverError> {
    match reply {
        "written" => Ok(WriteOutcome::Written),
        "conflict" => Ok(WriteOutcome::Conflict),
        "gone" => Ok(WriteOutcome::Gone),
        other => Err(DriverError::unavailable(
            DRIVER_NAME,
            format!("unexpected script reply {other:?}"),
        )),
    }
}

/// A warning for a stored value that does not decode, which reads as no session.
fn reject<T>(key: &str, why: &str) -> Option<T> {
    tracing::warn!(target: "session_kit::redis", key, why, "stored session does not decode; treating it as no session");
    None
}

#[async_trait]
impl SessionStore for RedisDriver {
    /// One `GET` (none when the local cache holds a live copy), checked by the driver: a record
    /// whose expiry has come, a value this driver did not write or a key of another type is no
    /// session.
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let slot = self.current.index(key);
        if let Some(record) = self.copy(key, slot, now) {
            return Ok(Some(record));
        }
        let stamp = self.stamp(key, slot);
        let mut cmd = Cmd::with_capacity(2, COMMAND_BYTES + self.prefix.len());
        cmd.arg("GET").arg(self.key(key));
        let stored: Option<Vec<u8>> = self
            .run("read", key.short(), slot, Request::Plain(cmd), true)
            .await?;
        let record = stored.and_then(|s| self.decode_value(key, &s, now));
        self.keep(key, record.as_ref(), stamp);
        Ok(record)
    }

    /// The conditional write's script (a new session's first try is a plain `SET … NX PX`),
    /// with the key's TTL the time left until `record.expires_at`. A record already expired is
    /// not stored: when the version check passes, the key is removed instead. A tagged record
    /// keeps its tag's index current (see the crate's "Tags"): a new session adds itself to the
    /// index first, an update checks in its script that the record it replaces had the same tag.
    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let ttl = record.expires_at.saturating_sub(now);
        if ttl > 0 {
            if let Some(tag) = record.tag() {
                // Boxed: the index's steps do not enlarge the future of every write.
                return Box::pin(self.write_tagged(key, record, expected, tag, now, ttl)).await;
            }
        }
        self.write_record(key, record, expected, now, ttl).await
    }

    /// The conditional delete's script: the key goes only while its record is live and at
    /// `version`.
    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let args = |cmd: &mut Cmd| {
            cmd.arg(&layout::number(version)).arg(&layout::number(now));
        };
        let slot = self.current.index(key);
        let change = self.changing(key, slot);
        let reply: String = self
            .run(
                "destroy",
                key.short(),
                slot,
                self.script(&self.scripts.destroy, key, 0, args),
                false,
            )
            .await?;
        let outcome = outcome(&reply)?;
        if let Some(change) = change {
            change.settle(None);
        }
        Ok(outcome)
    }

    /// The refresh script: on a live record only, rewrites the header's activity mark and expiry
    /// in place and sets the key's TTL to the time left until `expires_at`. Nothing is sent when
    /// `expires_at` has already come.
    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let ttl = expires_at.saturating_sub(now);
        if ttl == 0 {
            // The record would expire now: nothing to slide, and the stored one has expired
            // already or does at its own time.
            return Ok(());
        }
        let args = |cmd: &mut Cmd| {
            cmd.arg(&layout::number(now))
                .arg(&layout::times(last_active, expires_at))
                .arg(ttl);
        };
        let slot = self.current.index(key);
        let change = self.changing(key, slot);
        let live: i64 = self
            .run(
                "refresh",
                key.short(),
                slot,
                self.script(&self.scripts.refresh, key, 0, args),
                true,
            )
            .await?;
        if let Some(change) = change {
            change.settle_refreshed(live == 1, last_active, expires_at);
        }
        Ok(())
    }

    /// The driver keeps an index per tag (see the crate's "Tags").
    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        DRIVER_NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::SessionId;

    /// Every request creates, and moves, the future of each driver call it makes: a large one is
    /// a large copy each time. deadpool's checkout future alone is about 7 KB, which is why the
    /// driver boxes it (see `RedisDriver::checkout`). And `async_trait` boxes each of them: up
    /// to about a kilobyte, glibc serves the box from a per-thread cache; above, from the shared
    /// heap, consolidating its fast bins each time (see `RedisDriver::run`).
    #[test]
    fn the_futures_of_driver_calls_stay_small() {
        // Building the driver opens no connection, and no future here is polled.
        let driver = RedisDriver::builder()
            .with_url("redis://127.0.0.1:1")
            .build()
            .expect("valid configuration");
        let key = SessionId::generate().storage_key();
        let record = Record::new(serde_json::Map::new(), 1, 2);
        let checkout = driver.pool.get();
        assert!(
            std::mem::size_of_val(&checkout) > 4096,
            "deadpool's checkout future shrank; boxing it may no longer be worth it"
        );
        let futures = [
            ("read", std::mem::size_of_val(&*driver.read(&key))),
            (
                "refresh",
                std::mem::size_of_val(&*driver.refresh(&key, 1, 2)),
            ),
            (
                "write",
                std::mem::size_of_val(&*driver.write(&key, &record, None)),
            ),
            ("destroy", std::mem::size_of_val(&*driver.destroy(&key, 1))),
        ];
        for (call, size) in futures {
            assert!(size <= 1024, "the {call} future takes {size} bytes");
        }
    }

    #[test]
    fn keys_are_the_prefix_and_the_storage_key_in_a_hash_tag() {
        let driver = RedisDriver::builder()
            .with_url("redis://127.0.0.1:1")
            .with_prefix("app:")
            .build()
            .expect("valid configuration");
        assert_eq!(driver.key_for_display("abc"), "app:{abc}");
        assert_eq!(SessionStore::name(&driver), "redis");
    }
}
