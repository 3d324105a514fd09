//! Configuration: the `redis` section and the builder.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use redis::IntoConnectionInfo;
use serde_json::{Map, Value};
use session_core::{parse_duration, Clock, ConfigError, DriverSetup, SystemClock};

use crate::cache::Copies;
use crate::pool::{self, Connector};
use crate::RedisDriver;

/// The key prefix when none is configured.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_PREFIX, "session:");
/// ```
pub const DEFAULT_PREFIX: &str = "session:";
/// The pool size when none is configured.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_POOL_SIZE, 16);
/// ```
pub const DEFAULT_POOL_SIZE: usize = 16;
/// The number of shared connections when none is configured.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_CONNECTIONS, 1);
/// ```
pub const DEFAULT_CONNECTIONS: usize = 1;
/// How long opening a connection may take by default.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_CONNECT_TIMEOUT, std::time::Duration::from_secs(1));
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one command may take by default.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_COMMAND_TIMEOUT, std::time::Duration::from_secs(1));
/// ```
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a request may wait for a free pooled connection by default.
///
/// ```
/// assert_eq!(session_redis::DEFAULT_POOL_WAIT_TIMEOUT, std::time::Duration::from_secs(1));
/// ```
pub const DEFAULT_POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest pool accepted; more connections than this from one process only load Redis.
const MAX_POOL_SIZE: usize = 1024;
/// The most sessions `local_cache` accepts.
const MAX_LOCAL_CACHE: usize = 10_000_000;
/// The longest timeout accepted: a request must never hang on Redis for long.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

const OPTIONS: &[&str] = &[
    "url",
    "host",
    "port",
    "username",
    "password",
    "db",
    "prefix",
    "pool_size",
    "connections",
    "connect_timeout",
    "command_timeout",
    "pool_wait_timeout",
    "cluster",
    "nodes",
    "tls_ca_file",
    "tls_client_cert_file",
    "tls_client_key_file",
    "local_cache",
];

/// Builds a [`RedisDriver`] in code, or from the `redis` configuration section with
/// [`RedisDriverBuilder::from_setup`].
///
/// Defaults, each chosen so that a request never waits long on Redis:
///
/// | setting | default | why |
/// |---|---|---|
/// | address | `redis://127.0.0.1:6379/0` | the usual local server |
/// | prefix | `session:` | session keys are recognisable and do not collide with the app's |
/// | pool size | 16 | the most connections open at once |
/// | connections | 1 | commands are pipelined on the connections they share |
/// | connect timeout | 1 s | a server that does not accept quickly is treated as down |
/// | command timeout | 1 s | session commands take well under a millisecond on a healthy server |
/// | pool wait timeout | 1 s | a saturated pool fails fast instead of queueing requests |
/// | local cache | off | see [`RedisDriverBuilder::with_local_cache`] |
///
/// A driver call therefore returns within pool wait + connect + 2 × command timeout (4 s by
/// default, the second command being the rare reload of a flushed script), below session-core's
/// own 5 s driver timeout.
///
/// ```
/// use std::time::Duration;
/// use session_redis::RedisDriver;
///
/// // No server is contacted here: connections are opened on first use.
/// let driver = RedisDriver::builder()
///     .with_url("redis://127.0.0.1:6379/2")
///     .with_prefix("myapp:session:")
///     .with_pool_size(8)
///     .with_command_timeout(Duration::from_millis(500))
///     .build()?;
/// assert_eq!(driver.key_for_display("abc"), "myapp:session:{abc}");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[must_use]
#[derive(Clone)]
pub struct RedisDriverBuilder {
    url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<String>,
    db: Option<i64>,
    cluster: bool,
    nodes: Vec<String>,
    tls_ca_file: Option<PathBuf>,
    tls_client_cert_file: Option<PathBuf>,
    tls_client_key_file: Option<PathBuf>,
    prefix: String,
    pool_size: usize,
    connections: usize,
    connect_timeout: Duration,
    command_timeout: Duration,
    pool_wait_timeout: Duration,
    local_cache: usize,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedisDriverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL and the password may hold credentials: neither is printed.
        f.debug_struct("RedisDriverBuilder")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("cluster", &self.cluster)
            .field("nodes", &self.nodes.len())
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_client_cert_file", &self.tls_client_cert_file)
            .field("tls_client_key_file", &self.tls_client_key_file)
            .field("prefix", &self.prefix)
            .field("pool_size", &self.pool_size)
            .field("connections", &self.connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("pool_wait_timeout", &self.pool_wait_timeout)
            .field("local_cache", &self.local_cache)
            .finish_non_exhaustive()
    }
}

impl Default for RedisDriverBuilder {
    fn default() -> Self {
        Self {
            url: None,
            host: None,
            port: None,
            username: None,
            password: None,
            db: None,
            cluster: false,
            nodes: Vec::new(),
            tls_ca_file: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            connections: DEFAULT_CONNECTIONS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            pool_wait_timeout: DEFAULT_POOL_WAIT_TIMEOUT,
            local_cache: 0,
            clock: Arc::new(SystemClock),
        }
    }
}

impl RedisDriverBuilder {
    /// A builder with the defaults above.
    ///
    /// ```
    /// let driver = session_redis::RedisDriverBuilder::new().build()?;
    /// assert_eq!(driver.prefix(), session_redis::DEFAULT_PREFIX);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the driver's configuration section (`redis`) and the session manager's
    /// clock. Every rejected value names its option (`redis.port`, `redis.url`, …).
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager, DriverRegistry};
    ///
    /// let mut registry = DriverRegistry::new();
    /// session_redis::register(&mut registry);
    /// let config = SessionConfig::new()
    ///     .with_driver("redis")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_section("redis", serde_json::json!({"port": "not a port"}));
    /// let err = SessionManager::builder(config).with_registry(registry).build().unwrap_err();
    /// assert_eq!(err.option(), "redis.port");
    /// ```
    pub fn from_setup(setup: &DriverSetup<'_>) -> Result<Self, ConfigError> {
        let section = match setup.section() {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => {
                return Err(ConfigError::new(
                    setup.name(),
                    "expected a table of options",
                ))
            }
        };
        let name = setup.name();
        let mut builder = Self::new().with_clock(setup.clock());
        for (key, value) in &section {
            let option = format!("{name}.{key}");
            let err = |message: String| ConfigError::new(option.clone(), message);
            match key.as_str() {
                "url" => builder.url = Some(string(value).map_err(err)?),
                "host" => builder.host = Some(string(value).map_err(err)?),
                "port" => {
                    let port = integer(value).map_err(&err)?;
                    let port = u16::try_from(port)
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| err(format!("{port} is not a TCP port (1 to 65535)")))?;
                    builder.port = Some(port);
                }
                "username" => builder.username = Some(string(value).map_err(err)?),
                "password" => builder.password = Some(string(value).map_err(err)?),
                "db" => builder.db = Some(integer(value).map_err(err)?),
                "prefix" => builder.prefix = string(value).map_err(err)?,
                "pool_size" => {
                    let size = integer(value).map_err(&err)?;
                    builder.pool_size = usize::try_from(size).unwrap_or(0);
                    if size < 1 {
                        return Err(err(format!("{size} is not a pool size (at least 1)")));
                    }
                }
                "connections" => {
                    let count = integer(value).map_err(&err)?;
                    builder.connections = usize::try_from(count).unwrap_or(0);
                    if count < 1 {
                        return Err(err(format!(
                            "{count} is not a number of connections (at least 1)"
                        )));
                    }
                }
                "connect_timeout" => builder.connect_timeout = duration(value).map_err(err)?,
                "command_timeout" => builder.command_timeout = duration(value).map_err(err)?,
                "pool_wait_timeout" => builder.pool_wait_timeout = duration(value).map_err(err)?,
                "cluster" => {
                    builder.cluster = value
                        .as_bool()
                        .ok_or_else(|| err(format!("expected true or false, got {value}")))?
                }
                "nodes" => {
                    let list = value
                        .as_array()
                        .ok_or_else(|| err(format!("expected a list of URLs, got {value}")))?;
                    builder.nodes = list
                        .iter()
                        .map(string)
                        .collect::<Result<_, _>>()
                        .map_err(err)?;
                }
                "local_cache" => {
                    let size = integer(value).map_err(&err)?;
                    builder.local_cache = usize::try_from(size).map_err(|_| {
                        err(format!(
                            "{size} is not a number of sessions (0 turns it off)"
                        ))
                    })?;
                }
                "tls_ca_file" => builder.tls_ca_file = Some(path(value).map_err(err)?),
                "tls_client_cert_file" => {
                    builder.tls_client_cert_file = Some(path(value).map_err(err)?)
                }
                "tls_client_key_file" => {
                    builder.tls_client_key_file = Some(path(value).map_err(err)?)
                }
                _ => {
                    return Err(err(format!(
                        "unknown option; known options: {}",
                        OPTIONS.join(", ")
                    )))
                }
            }
        }
        builder.validate(name)?;
        Ok(builder)
    }

    /// Connects by URL: `redis://[[username]:password@]host[:port][/db]`, `rediss://…` for TLS
    /// (with the `tls` feature, on by default), or `redis+unix:///path`.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_url("redis://:secret@10.0.0.5:6379/2")
    ///     .build()?;
    /// assert!(!driver.is_cluster());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Connects to this host (instead of a URL). Default `127.0.0.1`.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_host("10.0.0.5").build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Connects to this port (instead of a URL). Default 6379.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_host("10.0.0.5")
    ///     .with_port(6380)
    ///     .build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Authenticates as this ACL user.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_username("sessions")
    ///     .with_password("s3cret")
    ///     .build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Authenticates with this password. Never printed by `Debug`.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_password("s3cret").build()?;
    /// assert!(!format!("{driver:?}").contains("s3cret"));
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Selects this database (standalone only; Redis Cluster has database 0 only).
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_db(3).build()?;
    /// # let _ = driver;
    /// let cluster = session_redis::RedisDriver::builder()
    ///     .with_cluster_nodes(["redis://127.0.0.1:7000"])
    ///     .with_db(3)
    ///     .build();
    /// assert_eq!(cluster.unwrap_err().option(), "redis.db");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_db(mut self, db: i64) -> Self {
        self.db = Some(db);
        self
    }

    /// Switches to Redis Cluster with these seed nodes (URLs). The rest of the cluster is
    /// discovered from them.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_cluster_nodes(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
    ///     .build()?;
    /// assert!(driver.is_cluster());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_cluster_nodes<I, S>(mut self, nodes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cluster = true;
        self.nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// Trusts the CA certificates in this PEM file for TLS (`rediss://`) instead of the public
    /// CAs, for a server whose certificate a private CA issued (or a self-signed one). The file is
    /// read when the driver is built. Needs the `tls` feature.
    ///
    /// ```
    /// // The file is read when the driver is built: a missing one fails naming the option.
    /// let err = session_redis::RedisDriver::builder()
    ///     .with_url("rediss://10.0.0.5:6380")
    ///     .with_tls_ca_file("/nonexistent/redis-ca.pem")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.option(), "redis.tls_ca_file");
    /// ```
    pub fn with_tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate (PEM, with its chain) and its private key (PEM,
    /// unencrypted) to a server that requires mutual TLS. The files are read when the driver is
    /// built; the key is never printed. Needs the `tls` feature.
    ///
    /// ```
    /// let err = session_redis::RedisDriver::builder()
    ///     .with_url("redis://10.0.0.5:6379")
    ///     .with_tls_client_cert("client.pem", "client-key.pem")
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.option(), "redis.tls_client_cert_file", "TLS files need a rediss:// URL");
    /// ```
    pub fn with_tls_client_cert(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.tls_client_cert_file = Some(cert_file.into());
        self.tls_client_key_file = Some(key_file.into());
        self
    }

    /// The prefix of every key (default `session:`). It may not contain `{` or `}`, which Redis
    /// Cluster reads as a hash tag.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_prefix("myapp:session:").build()?;
    /// assert_eq!(driver.key_for_display("abc"), "myapp:session:{abc}");
    /// let err = session_redis::RedisDriver::builder().with_prefix("{app}:").build().unwrap_err();
    /// assert_eq!(err.option(), "redis.prefix");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The most connections the pool opens (default 16): the shared connections (see
    /// [`RedisDriverBuilder::with_connections`]; on current-thread runtimes, one per thread up
    /// to this size) and the replacements opened while one of them is being replaced, which
    /// stay ready for the next failure.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder().with_pool_size(4).build()?;
    /// # let _ = driver;
    /// let err = session_redis::RedisDriver::builder().with_pool_size(0).build().unwrap_err();
    /// assert_eq!(err.option(), "redis.pool_size");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How many multiplexed connections the driver's commands are spread over on multi-threaded
    /// runtimes (default 1, at most the pool size). Sessions are spread over them by their
    /// storage key, each session keeping its connection; the commands of concurrent requests are
    /// pipelined on the connection they share. One connection keeps Redis's CPU per
    /// command lowest; more help a process whose request rate keeps one connection's client task
    /// busy (many cores, a very high rate).
    ///
    /// On a current-thread runtime (each actix-web worker runs one) the requests of each thread
    /// use a connection of that thread's own instead, opened on it, for up to the pool size of
    /// threads: redis-rs drives a connection from the runtime that opened it, so a connection
    /// shared by the workers would have their requests woken from another worker's thread, and
    /// wait whenever that worker is blocked. With the local cache
    /// ([`RedisDriverBuilder::with_local_cache`]) each thread answers from the copies its own
    /// connection keeps current.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_pool_size(32)
    ///     .with_connections(4)
    ///     .build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_connections(mut self, count: usize) -> Self {
        self.connections = count;
        self
    }

    /// How long opening a connection may take (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_connect_timeout(Duration::from_millis(300))
    ///     .build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one command may take (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_command_timeout(Duration::from_millis(250))
    ///     .build()?;
    /// # let _ = driver;
    /// let err = session_redis::RedisDriver::builder()
    ///     .with_command_timeout(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.option(), "redis.command_timeout");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// How long a call may wait for a free pooled connection (default 1 s).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_pool_wait_timeout(Duration::from_millis(200))
    ///     .build()?;
    /// # let _ = driver;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_pool_wait_timeout(mut self, timeout: Duration) -> Self {
        self.pool_wait_timeout = timeout;
        self
    }

    /// Keeps up to `sessions` sessions in this process and serves reads from them, with Redis
    /// reporting every change to them (default 0: off). Standalone Redis 6 or later only.
    ///
    /// Each shared connection turns on Redis's client tracking for the keys it reads
    /// (`CLIENT TRACKING ON NOLOOP`, over RESP3): when any other client changes or deletes a
    /// session key this connection read, Redis pushes a message and the local copy is dropped.
    /// A read of a session held here, still live, is then answered from the copy without a
    /// round trip, so a request costs one command (the conditional write, or the refresh of an
    /// unchanged session) instead of two: the driver's own writes and refreshes keep the copy
    /// current, and each script that changes a session reads its key again at the end so that
    /// Redis goes on reporting the next change.
    ///
    /// Each copy remembers the shared connection it was read or written on, and a read is
    /// answered from it only by a request that uses that connection: on a current-thread
    /// runtime (each actix-web worker has one) the thread's own, so a worker never answers from
    /// a copy whose change messages wait on another worker's connection (up to `pool_size`
    /// workers; beyond that, workers share connections). A session moving between workers is
    /// read from Redis again after each move.
    ///
    /// What it costs: a read on one instance may, for the moment it takes Redis's message to
    /// arrive (well under a millisecond on a healthy network), still see the state before a
    /// write that another instance just completed. Writes are never lost by it: the
    /// conditional write compares versions in Redis, and a stale copy costs a conflict and a
    /// re-read. Redis remembers which connections read each session key (its tracking table,
    /// bounded by `tracking-table-max-keys`). The copies are dropped when a
    /// connection is lost or replaced, when the database is flushed, and when the server
    /// refuses tracking (a server before 6.0, or a proxy without RESP3: the driver then logs a
    /// warning and works without the cache). Not available with Redis Cluster: building
    /// fails with an error naming `redis.local_cache`.
    ///
    /// ```
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_url("redis://127.0.0.1:6379/0")
    ///     .with_local_cache(10_000)
    ///     .build()?;
    /// assert_eq!(driver.local_cache(), 10_000);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_local_cache(mut self, sessions: usize) -> Self {
        self.local_cache = sessions;
        self
    }

    /// The clock that decides whether a stored record has expired and how long its key's TTL
    /// is (default: the system clock). It must be the session manager's clock;
    /// [`RedisDriverBuilder::from_setup`] takes it from there.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{ManualClock, SessionConfig, SessionManager};
    ///
    /// let clock = Arc::new(ManualClock::new(1_000));
    /// let driver = session_redis::RedisDriver::builder().with_clock(clock.clone()).build()?;
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .driver(driver)
    /// .with_clock(clock)
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "redis");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates the settings and builds the driver. No connection is opened: the pool connects
    /// on first use, so an application starts even while Redis is down.
    ///
    /// ```
    /// // No server is contacted: this builds while nothing listens on port 1.
    /// let driver = session_redis::RedisDriver::builder()
    ///     .with_url("redis://127.0.0.1:1")
    ///     .build()?;
    /// assert_eq!(driver.local_cache(), 0);
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<RedisDriver, ConfigError> {
        self.validate("redis")?;
        let copies =
            (self.local_cache > 0).then(|| Arc::new(Copies::new(&self.prefix, self.local_cache)));
        let connector = self.connector("redis", copies.clone())?;
        let pool = pool::build(
            connector,
            self.pool_size,
            self.pool_wait_timeout,
            self.connect_timeout,
        )
        .map_err(|e| ConfigError::new("redis", e.to_string()).with_source(e))?;
        // Connections of their own for the threads of current-thread runtimes.
        let current = pool::Current::new(self.connections, self.pool_size);
        Ok(RedisDriver::from_parts(
            pool,
            current,
            self.prefix,
            self.clock,
            pool::Limits {
                wait: self.pool_wait_timeout,
                connect: self.connect_timeout,
                command: self.command_timeout,
            },
            self.cluster,
        )
        .with_copies(copies))
    }

    fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let err = |option: &str, message: String| {
            ConfigError::new(format!("{section}.{option}"), message)
        };
        if self.prefix.contains(['{', '}']) {
            return Err(err(
                "prefix",
                "may not contain `{` or `}` (Redis Cluster reads them as a hash tag)".into(),
            ));
        }
        if self.pool_size == 0 || self.pool_size > MAX_POOL_SIZE {
            return Err(err(
                "pool_size",
                format!(
                    "{} is not a pool size (1 to {MAX_POOL_SIZE})",
                    self.pool_size
                ),
            ));
        }
        if self.connections == 0 || self.connections > self.pool_size {
            return Err(err(
                "connections",
                format!(
                    "{} is not a number of connections (1 to the pool size, {})",
                    self.connections, self.pool_size
                ),
            ));
        }
        for (option, value) in [
            ("connect_timeout", self.connect_timeout),
            ("command_timeout", self.command_timeout),
            ("pool_wait_timeout", self.pool_wait_timeout),
        ] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(err(
                    option,
                    format!("{value:?} is not a timeout (above zero, at most {MAX_TIMEOUT:?})"),
                ));
            }
        }
        if self.url.is_some() && (self.host.is_some() || self.port.is_some()) {
            return Err(err(
                "url",
                "set either `url` or `host`/`port`, not both".into(),
            ));
        }
        if let Some(db) = self.db {
            if db < 0 {
                return Err(err("db", format!("{db} is not a database number")));
            }
            if self.cluster && db != 0 {
                return Err(err("db", "Redis Cluster has database 0 only".into()));
            }
        }
        if self.local_cache > MAX_LOCAL_CACHE {
            return Err(err(
                "local_cache",
                format!(
                    "{} is not a number of sessions (0 to {MAX_LOCAL_CACHE})",
                    self.local_cache
                ),
            ));
        }
        if self.cluster && self.local_cache > 0 {
            return Err(err(
                "local_cache",
                "is not available with Redis Cluster (set it to 0)".into(),
            ));
        }
        if !self.cluster && !self.nodes.is_empty() {
            return Err(err(
                "nodes",
                "nodes are only used with `cluster = true`; use `url` for one server".into(),
            ));
        }
        if self.cluster && self.nodes.is_empty() && self.url.is_none() {
            return Err(err(
                "nodes",
                "Redis Cluster needs at least one seed node URL".into(),
            ));
        }
        if let Some(url) = &self.url {
            check_url(url).map_err(|m| err("url", m))?;
        }
        for node in &self.nodes {
            check_url(node).map_err(|m| err("nodes", m))?;
        }
        let urls = self.urls();
        let tls_urls = urls.iter().filter(|u| is_tls(u)).count();
        if tls_urls != 0 && tls_urls != urls.len() {
            return Err(err(
                "nodes",
                "either every node URL uses TLS (`rediss://`) or none does".into(),
            ));
        }
        for (option, file) in self.tls_files() {
            if file.is_some() && !cfg!(feature = "tls") {
                return Err(err(option, NO_TLS.into()));
            }
            if file.is_some() && tls_urls == 0 {
                let urls = if self.cluster { "`nodes`" } else { "`url`" };
                return Err(err(
                    option,
                    format!("TLS files need a `rediss://` URL in {urls}"),
                ));
            }
        }
        Ok(())
    }

    /// The configured URLs: the cluster's seed nodes, or the one server's URL.
    fn urls(&self) -> Vec<&str> {
        if self.cluster && !self.nodes.is_empty() {
            self.nodes.iter().map(String::as_str).collect()
        } else {
            self.url.iter().map(String::as_str).collect()
        }
    }

    fn tls_files(&self) -> [(&'static str, Option<&Path>); 3] {
        [
            ("tls_ca_file", self.tls_ca_file.as_deref()),
            ("tls_client_cert_file", self.tls_client_cert_file.as_deref()),
            ("tls_client_key_file", self.tls_client_key_file.as_deref()),
        ]
    }

    /// Reads and checks the TLS files when the URLs ask for TLS.
    #[cfg(feature = "tls")]
    fn tls_certificates(
        &self,
        section: &str,
    ) -> Result<Option<redis::TlsCertificates>, ConfigError> {
        if !self.urls().iter().any(|u| is_tls(u)) {
            return Ok(None);
        }
        crate::tls::ensure_crypto_provider();
        crate::tls::load(
            section,
            crate::tls::Files {
                ca: self.tls_ca_file.as_deref(),
                client_cert: self.tls_client_cert_file.as_deref(),
                client_key: self.tls_client_key_file.as_deref(),
            },
        )
    }

    fn connector(
        &self,
        section: &str,
        copies: Option<Arc<Copies>>,
    ) -> Result<Connector, ConfigError> {
        let redis_error = |option: &str, e: redis::RedisError| {
            ConfigError::new(format!("{section}.{option}"), e.to_string()).with_source(e)
        };
        #[cfg(feature = "tls")]
        let certificates = self.tls_certificates(section)?;
        if self.cluster {
            let seeds: Vec<String> = if self.nodes.is_empty() {
                self.url.iter().cloned().collect()
            } else {
                self.nodes.clone()
            };
            let mut builder = redis::cluster::ClusterClient::builder(seeds)
                .connection_timeout(self.connect_timeout)
                .response_timeout(self.command_timeout)
                // A failed command is reported at once instead of being retried for seconds;
                // the next request tries again on a fresh connection.
                .retries(1);
            if let Some(user) = &self.username {
                builder = builder.username(user);
            }
            if let Some(password) = &self.password {
                builder = builder.password(password);
            }
            #[cfg(feature = "tls")]
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder.build().map_err(|e| redis_error("nodes", e))?;
            return Ok(Connector::cluster(client));
        }
        let info = match &self.url {
            Some(url) => url
                .as_str()
                .into_connection_info()
                .map_err(|e| redis_error("url", e))?,
            None => redis::ConnectionAddr::Tcp(
                self.host.clone().unwrap_or_else(|| "127.0.0.1".to_owned()),
                self.port.unwrap_or(6379),
            )
            .into_connection_info()
            .map_err(|e| redis_error("host", e))?,
        };
        let mut settings = info.redis_settings().clone();
        if let Some(db) = self.db {
            settings = settings.set_db(db);
        }
        if let Some(user) = &self.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &self.password {
            settings = settings.set_password(password);
        }
        let info = info.set_redis_settings(settings);
        // A private CA or a client certificate is attached to the connection address.
        #[cfg(feature = "tls")]
        let info = match certificates {
            Some(certificates) => redis::Client::build_with_tls(info, certificates)
                .map_err(|e| redis_error("tls_ca_file", e))?
                .get_connection_info()
                .clone(),
            None => info,
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.command_timeout));
        let caching = match copies {
            Some(copies) => {
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(redis::ProtocolVersion::RESP3);
                let info = info.clone().set_redis_settings(settings);
                let handler = copies.clone();
                let config = config
                    .clone()
                    .set_push_sender(move |push: redis::PushInfo| {
                        handler.on_push(&push);
                        Ok::<(), std::convert::Infallible>(())
                    });
                let manager = deadpool_redis::Manager::new_with_config(info, config)
                    .map_err(|e| redis_error("url", e))?;
                Some(Box::new(pool::Caching { manager, copies }))
            }
            None => None,
        };
        deadpool_redis::Manager::new_with_config(info, config)
            .map(|plain| Connector::single(plain, caching))
            .map_err(|e| redis_error("url", e))
    }
}

/// Why TLS options are refused by a build without the `tls` feature.
const NO_TLS: &str = "TLS (`rediss://`) needs session-redis's `tls` feature, which this build \
                      turned off";

fn is_tls(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("rediss://"))
}

fn check_url(url: &str) -> Result<(), String> {
    if is_tls(url) && !cfg!(feature = "tls") {
        return Err(NO_TLS.into());
    }
    let info = url
        .into_connection_info()
        .map_err(|e| format!("not a Redis URL: {e}"))?;
    if let redis::ConnectionAddr::TcpTls { insecure: true, .. } = info.addr() {
        return Err(
            "`#insecure` would skip checking the server's certificate, which this \
                    driver does not allow; trust a private CA with `tls_ca_file` instead"
                .into(),
        );
    }
    Ok(())
}

fn path(value: &Value) -> Result<PathBuf, String> {
    let path = string(value)?;
    if path.trim().is_empty() {
        return Err("expected the path of a PEM file, got an empty string".into());
    }
    Ok(PathBuf::from(path))
}

fn string(value: &Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("expected a string, got {value}"))
}

fn integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| format!("expected an integer, got {n}")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("expected an integer, got \"{s}\"")),
        other => Err(format!("expected an integer, got {other}")),
    }
}

fn duration(value: &Value) -> Result<Duration, String> {
    match value {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => parse_duration(&n.to_string()),
        other => Err(format!(
            "expected a duration such as \"500ms\" or \"2s\", got {other}"
        )),
    }
}
