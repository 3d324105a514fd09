//! The Redis driver for session-core: one round trip per read, no lost updates, Redis Cluster,
//! and fast failure.
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
//! let session = manager.start_request(std::iter::empty());
//! session.initiate(false).await?; // one EVALSHA
//! session.put("user.id", 7)?;
//! session.commit().await?; // one EVALSHA: the conditional write
//! # Ok(())
//! # }
//! ```
//!
//! # Round trips
//!
//! | request | commands |
//! |---|---|
//! | reads the session, changes nothing | 1 (`EVALSHA`: read, mark active, slide the TTL; a plain `GET` within a second of the last mark) |
//! | reads and modifies the session | 2 (that read + one `EVALSHA` conditional write) |
//! | never uses the session, has a cookie | 1 (`EVALSHA`: touch), 0 within a second of the last mark |
//! | empties the session (logout) | 2 (the read + one `EVALSHA` conditional delete) |
//! | stores data for a new visitor | 1 (`SET … NX PX`; the conditional write's script only when the key exists) |
//! | regenerates the id (login) | 3 (the read + `SET … NX PX` under the new id + one `EVALSHA` conditional delete of the old one) |
//!
//! With the local cache on, a new session's write is the conditional write's script (see the
//! guide's "Round trips per request").
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
//! driver keeps copies of the sessions it read or wrote in memory, kept current by Redis's change
//! messages (client tracking), and answers a read within a second of the last mark from the
//! copy: no command at all, and a modifying request sends only its conditional write.
//!
//! The issue that specified this driver named `GETEX … PXAT` for the read. A plain `GETEX` cannot
//! tell the core when the session was last active according to the application's clock, nor
//! keep the absolute lifetime, so the read is a small script instead: still one command.
//!
//! # Key layout
//!
//! One Redis string per session at `<prefix>{<storage key>}` (default prefix `session:`), where
//! the storage key is the 43-character digest of the session id that session-core derives: the
//! raw id never reaches Redis. The braces are a Redis Cluster hash tag, so every key of a session
//! lives in one slot. The value is a 66-byte header, `s1:<version>:<created>:<active>:` with each
//! number in 20 decimal digits (times in ms), then the record in session-core's versioned JSON
//! encoding. The header has a fixed size so that the scripts read only the header
//! (`GETRANGE`) to compare versions, and move the activity mark in place (`SETRANGE`).
//!
//! # TTL
//!
//! The key's TTL is the time left until the session's idle expiry (capped by the absolute
//! lifetime), computed with the session manager's clock and set relative (`PEXPIRE`), so clock
//! skew between the application and Redis does not change lifetimes. Every read and touch slides
//! it, except one that comes less than a second after the last (the activity mark and the TTL
//! are then left as they are: the idle lifetime is exact to within a second); a session the
//! application's clock considers expired is reported as absent and never refreshed. The driver
//! remembers the marks it set or read in the last second (a fixed table, not growing with the
//! number of sessions): for those sessions the script would change nothing, so a read is a plain
//! `GET` checked by the driver itself and a touch is not sent. A busy session costs Redis no Lua
//! on reads.
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

mod cache;
mod config;
mod gate;
mod layout;
mod marks;
mod pool;
mod scripts;
#[cfg(feature = "tls")]
mod tls;

/// The stored layout's codec, for the fuzz targets in `fuzz/` only (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use session_core::Record;

    /// The header of a stored value (`[version, created, active]`) and the encoded record after
    /// it, as the driver reads them; `None` for a value the driver did not write.
    pub fn split(stored: &[u8]) -> Option<([u64; 3], &[u8])> {
        crate::layout::split(stored)
            .map(|(head, rest)| ([head.version, head.created, head.active], rest))
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
    Capabilities, Clock, Driver, DriverError, DriverRegistry, Expected, Lifetimes, Record,
    SessionContext, StorageKey, WriteOutcome,
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
pub const DRIVER_NAME: &str = "redis";

/// Registers the `redis` driver factory, which reads the `redis` configuration section.
///
/// ```
/// use session_core::DriverRegistry;
///
/// let mut registry = DriverRegistry::new();
/// session_redis::register(&mut registry);
/// assert!(registry.names().any(|n| n == "redis"));
/// ```
pub fn register(registry: &mut DriverRegistry) {
    registry.extend(DRIVER_NAME, |setup| {
        let driver = RedisDriver::from_builder(RedisDriverBuilder::from_setup(setup)?)?;
        Ok(Arc::new(driver) as Arc<dyn Driver>)
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
/// app (the `session` facade does so). A bad value fails naming the option.
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

/// Sessions in Redis or Redis Cluster, with the atomic update.
///
/// Build it with [`RedisDriver::builder`] in code, or let the session manager build it from the
/// `redis` configuration section after [`register`].
pub struct RedisDriver {
    pool: Pool,
    current: Current,
    prefix: String,
    lifetimes: Lifetimes,
    clock: Arc<dyn Clock>,
    limits: Limits,
    cluster: bool,
    scripts: Scripts,
    gates: gate::Gates,
    marks: marks::Marks,
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
            .field("lifetimes", &self.lifetimes)
            .field("local_cache", &self.copies)
            .finish_non_exhaustive()
    }
}

/// A change to a session in flight, for the local cache: the copy was dropped when it began;
/// [`Change::settle`] stores the outcome. Dropped unsettled (an error, or the request's future
/// dropped by a timeout while the command may still run), it drops the copy again.
struct Change<'a> {
    copies: &'a Copies,
    key: &'a StorageKey,
    stamp: Stamp,
    settled: bool,
}

impl Change<'_> {
    fn settle(mut self, stored: Option<&Record>) {
        self.copies.settle(self.key, stored, self.stamp);
        self.settled = true;
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
    pub fn builder() -> RedisDriverBuilder {
        RedisDriverBuilder::new()
    }

    fn from_builder(builder: RedisDriverBuilder) -> Result<Self, session_core::ConfigError> {
        builder.build()
    }

    pub(crate) fn from_parts(
        pool: Pool,
        current: Current,
        prefix: String,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
        limits: Limits,
        cluster: bool,
    ) -> Self {
        Self {
            pool,
            current,
            prefix,
            lifetimes,
            clock,
            limits,
            cluster,
            scripts: Scripts::new(false),
            gates: gate::Gates::default(),
            marks: marks::Marks::default(),
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

    /// The local copy of the session, when one may answer a read at `now`: the read script
    /// would change nothing (the mark is fresh), the copy is kept current by the connection
    /// this request would use (on a current-thread runtime, the thread's own: its messages are
    /// read on this thread), that connection is healthy (so Redis's change messages are
    /// arriving), and the copy is live.
    fn copy(&self, key: &StorageKey, slot: usize, now: u64) -> Option<Record> {
        let (record, held_on) = self.copies.as_deref()?.get(key)?;
        if held_on != slot || !self.current.serves(slot) {
            return None;
        }
        Some(record).filter(|record| !self.lifetimes.is_expired(record, now))
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
        Some(Change {
            copies,
            key,
            stamp: copies.changing(key, slot),
            settled: false,
        })
    }

    /// Whether the driver talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The configured key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key a storage key maps to: `<prefix>{<storage key>}`.
    pub fn key(&self, key: &StorageKey) -> String {
        self.key_for_display(key.as_str())
    }

    /// [`RedisDriver::key`] for any text, for documentation and tooling.
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

    /// The idle and absolute lifetimes in ms (0: no absolute lifetime), as the scripts take them.
    /// The idle one is at least 1: without an absolute lifetime the scripts pass it to `PEXPIRE`
    /// as it is, and 0 would delete the key.
    fn lifetime_args(&self) -> [u64; 2] {
        [
            (self.lifetimes.idle().as_millis() as u64).max(1),
            self.lifetimes
                .absolute()
                .map_or(0, |a| a.as_millis() as u64),
        ]
    }

    /// Appends the thresholds a live session's header must exceed at `now` (see `scripts.rs`):
    /// its activity mark `now - idle`, its creation time `now - absolute`.
    fn live_args(&self, cmd: &mut Cmd, now: u64) {
        live_thresholds(cmd, now, self.lifetime_args());
    }

    /// The arguments of the read and touch scripts: the live thresholds, the mark that is due to
    /// move, now (in the header's digits, and in decimal) and the lifetimes in ms.
    fn refresh_args(&self, cmd: &mut Cmd, now: u64) {
        let [idle, abs] = self.lifetime_args();
        live_thresholds(cmd, now, [idle, abs]);
        threshold_arg(cmd, now, Some(marks::FRESH_MS));
        cmd.arg(&layout::number(now)).arg(now).arg(idle).arg(abs);
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
        let mut cmd = Cmd::with_capacity(16, COMMAND_BYTES + self.prefix.len() + extra);
        cmd.arg("EVALSHA").arg(&lua.sha).arg(1).arg(self.key(key));
        args(&mut cmd);
        Request::Script {
            by_sha: cmd,
            code: &lua.code,
        }
    }

    /// Runs one request on the shared connection of `slot` (the session's or the thread's, from
    /// `pool::Current::index`), under the overall time limit.
    ///
    /// Idempotent requests (read, touch, delete) are tried once more on a fresh connection when
    /// the shared one turns out to be dead (Redis restarted since it was last used). The
    /// conditional write is never repeated: if its reply was lost it may have been applied, and
    /// repeating it would replay the request's changes twice.
    async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &StorageKey,
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
                        tracing::debug!(target: "session::redis", op, key = key.short(), error = %e, "shared connection was dead; retrying on a fresh one");
                    }
                    // Only the plain `GET` of a read can meet a key of another type (the
                    // scripts check with `pcall`): it reads as no session, like in the script.
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
            tracing::warn!(target: "session::redis", op, key = key.short(), error = %e, "redis call failed");
        }
        outcome
    }

    async fn try_once<T: FromRedisValue>(
        &self,
        op: &'static str,
        key: &StorageKey,
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
                    tracing::debug!(target: "session::redis", op, key = key.short(), "script not cached on the server; sending it again");
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

    async fn conditional_write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: &[u8],
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let ttl = self.lifetimes.expires_at(record).saturating_sub(now).max(1);
        let value = layout::value(record);
        let slot = self.current.index(key);
        // An empty `expected` is `Expected::Absent`: a new session, tried with a plain `SET`
        // first. With the local cache it goes through the script too: the script's final read
        // keeps the connection tracking the key, so this instance can serve the session from its
        // copy (a plain `SET` is not a read: a copy kept after it would hear of no later change).
        if expected.is_empty()
            && self.copies.is_none()
            && self.create(key, slot, &value, ttl).await?
        {
            self.marks.saw(key, record.last_active);
            self.after(cx, key, WriteOutcome::Written).await;
            return Ok(WriteOutcome::Written);
        }
        let change = self.changing(key, slot);
        let extra = value.len();
        let args = |cmd: &mut Cmd| {
            cmd.arg(expected).arg(value).arg(ttl);
            self.live_args(cmd, now);
        };
        let reply: String = self
            .run(
                "write",
                key,
                slot,
                self.script(&self.scripts.write_if, key, extra, args),
                false,
            )
            .await?;
        let outcome = outcome(&reply)?;
        if outcome == WriteOutcome::Written {
            self.marks.saw(key, record.last_active);
        }
        if let Some(change) = change {
            change.settle((outcome == WriteOutcome::Written).then_some(record));
        }
        self.after(cx, key, outcome).await;
        Ok(outcome)
    }
}

impl RedisDriver {
    /// Writes a new session's value with `SET … NX PX`: one plain command instead of the
    /// conditional write's script. `false` when the key exists; the script then decides
    /// (a session past its lifetime by the application's clock, still in Redis, counts as
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
            .run("write", key, slot, Request::Plain(cmd), false)
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

    /// Enters the session's contention gate after a conflict, leaves it otherwise.
    async fn after(&self, cx: &SessionContext, key: &StorageKey, outcome: WriteOutcome) {
        match outcome {
            WriteOutcome::Conflict => self.gates.enter(cx, key, self.limits.total()).await,
            WriteOutcome::Written | WriteOutcome::Gone => self.gates.leave(cx, key),
        }
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

/// `now - span` in the header's digits, which the scripts compare as text; empty (below every
/// number) when there is no span or it reaches back before the epoch.
fn threshold_arg(cmd: &mut Cmd, now: u64, span: Option<u64>) {
    match span.and_then(|span| now.checked_sub(span)) {
        Some(at) => cmd.arg(&layout::number(at)),
        None => cmd.arg(""),
    };
}

/// The thresholds of [`RedisDriver::live_args`] for the lifetimes `[idle, absolute]` in ms
/// (absolute 0: none).
fn live_thresholds(cmd: &mut Cmd, now: u64, [idle, abs]: [u64; 2]) {
    threshold_arg(cmd, now, Some(idle));
    threshold_arg(cmd, now, (abs > 0).then_some(abs));
}

/// A warning for a stored value that does not decode, which reads as no session.
fn reject<T>(key: &StorageKey, why: &str) -> Option<T> {
    tracing::warn!(target: "session::redis", key = key.short(), why, "stored session does not decode; treating it as no session");
    None
}

impl RedisDriver {
    /// Turns a stored value into a record, with the checks of the read script: a record past its
    /// deadline is no session, anything this driver did not write is no session with a warning.
    /// `mark` is the activity mark the session holds now, when the read script moved it.
    fn decode_value(
        &self,
        key: &StorageKey,
        stored: &[u8],
        now: u64,
        mark: impl FnOnce(u64) -> u64,
    ) -> Option<Record> {
        let Some((head, encoded)) = layout::split(stored) else {
            return reject(key, "the key holds a value this driver did not write");
        };
        if now >= self.lifetimes.expires_at_parts(head.created, head.active) {
            return None;
        }
        let Some(mut record) = Record::decode(encoded) else {
            return reject(key, "the record is not in a known format");
        };
        if record.version != head.version {
            return reject(key, "the header's version disagrees with the record");
        }
        record.last_active = record.last_active.max(mark(head.active));
        Some(record)
    }

    /// Turns the read script's reply into a record; anything unexpected is no session, logged.
    /// The script moved the mark to `now` when the stored one was [`marks::FRESH_MS`] old.
    fn decode_read(&self, key: &StorageKey, reply: redis::Value, now: u64) -> Option<Record> {
        match reply {
            redis::Value::Nil => None,
            redis::Value::BulkString(stored) => self.decode_value(key, &stored, now, |active| {
                if now.saturating_sub(active) >= marks::FRESH_MS {
                    now
                } else {
                    active
                }
            }),
            redis::Value::Array(_) => {
                reject(key, "the key holds a value this driver did not write")
            }
            _ => reject(key, "unexpected reply shape"),
        }
    }
}

#[async_trait]
impl Driver for RedisDriver {
    fn name(&self) -> &'static str {
        DRIVER_NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .with_atomic_update(true)
            .with_refreshes_on_read(true)
    }

    async fn read(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let fresh = self.marks.is_fresh(key, now);
        let slot = self.current.index(key);
        if fresh {
            if let Some(record) = self.copy(key, slot, now) {
                return Ok(Some(record));
            }
        }
        let stamp = self.stamp(key, slot);
        if fresh {
            // The script would leave the mark and the TTL alone: read the value directly.
            let mut cmd = Cmd::with_capacity(2, COMMAND_BYTES + self.prefix.len());
            cmd.arg("GET").arg(self.key(key));
            let stored: Option<Vec<u8>> = self
                .run("read", key, slot, Request::Plain(cmd), true)
                .await?;
            let record = stored.and_then(|s| self.decode_value(key, &s, now, |active| active));
            self.keep(key, record.as_ref(), stamp);
            return Ok(record);
        }
        let args = |cmd: &mut Cmd| self.refresh_args(cmd, now);
        let reply: redis::Value = self
            .run(
                "read",
                key,
                slot,
                self.script(&self.scripts.read, key, 0, args),
                true,
            )
            .await?;
        let record = self.decode_read(key, reply, now);
        if let Some(record) = &record {
            self.marks.saw(key, record.last_active);
        }
        self.keep(key, record.as_ref(), stamp);
        Ok(record)
    }

    async fn write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        self.conditional_write(cx, key, record, b"*")
            .await
            .map(|_| ())
    }

    async fn write_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        match expected {
            Expected::Absent => self.conditional_write(cx, key, record, b"").await,
            Expected::Version(v) => {
                self.conditional_write(cx, key, record, &layout::number(v))
                    .await
            }
        }
    }

    async fn destroy(&self, _cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        let slot = self.current.index(key);
        let change = self.changing(key, slot);
        let _removed: i64 = self
            .run("destroy", key, slot, Request::Plain(cmd), true)
            .await?;
        self.marks.forget(key);
        if let Some(change) = change {
            change.settle(None);
        }
        Ok(())
    }

    async fn destroy_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let args = |cmd: &mut Cmd| {
            cmd.arg(&layout::number(version));
            self.live_args(cmd, now);
        };
        let slot = self.current.index(key);
        let change = self.changing(key, slot);
        let reply: String = self
            .run(
                "destroy_if",
                key,
                slot,
                self.script(&self.scripts.destroy_if, key, 0, args),
                false,
            )
            .await?;
        let outcome = outcome(&reply)?;
        if outcome == WriteOutcome::Written {
            self.marks.forget(key);
        }
        if let Some(change) = change {
            change.settle(None);
        }
        self.after(cx, key, outcome).await;
        Ok(outcome)
    }

    async fn touch(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        if self.marks.is_fresh(key, now_ms) {
            // The script would change nothing.
            return Ok(());
        }
        let args = |cmd: &mut Cmd| self.refresh_args(cmd, now_ms);
        let mark: i64 = self
            .run(
                "touch",
                key,
                self.current.index(key),
                self.script(&self.scripts.touch, key, 0, args),
                true,
            )
            .await?;
        match u64::try_from(mark) {
            Ok(mark @ 1..) => {
                self.marks.saw(key, mark);
                if let Some(copies) = &self.copies {
                    copies.touched(key, mark);
                }
            }
            _ => {
                if let Some(copies) = &self.copies {
                    copies.forget(key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::{CookieOptions, SessionId};

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
        let cx = SessionContext::new("id", CookieOptions::default());
        let key = SessionId::generate().storage_key();
        let record = Record::new(serde_json::Map::new(), 1);
        let checkout = driver.pool.get();
        assert!(
            std::mem::size_of_val(&checkout) > 4096,
            "deadpool's checkout future shrank; boxing it may no longer be worth it"
        );
        let futures = [
            ("read", std::mem::size_of_val(&*driver.read(&cx, &key))),
            ("touch", std::mem::size_of_val(&*driver.touch(&cx, &key, 1))),
            (
                "write_if",
                std::mem::size_of_val(&*driver.write_if(&cx, &key, &record, Expected::Absent)),
            ),
            (
                "destroy_if",
                std::mem::size_of_val(&*driver.destroy_if(&cx, &key, 1)),
            ),
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
    }
}
