//! [`SqlDriver`]: the [`SessionStore`] over a sqlx pool, for the three databases.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use session_core::{
    Clock, ConfigError, DriverError, DriverSetup, Record, SessionStore, StorageKey, SystemClock,
    TaggedStore, WriteOutcome, MAX_TAG_LEN,
};

use crate::config::{
    check_table_name, SectionOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE,
    DEFAULT_STATEMENT_TIMEOUT, DEFAULT_TABLE,
};
use crate::statements::Statements;

/// The database a [`SqlDriver`] talks to. Each is a cargo feature of this crate; its
/// [`name`](Backend::name) is the driver's name in a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (feature `postgres`).
    Postgres,
    /// MySQL or MariaDB (feature `mysql`).
    MySql,
    /// SQLite (feature `sqlite`).
    Sqlite,
}

impl Backend {
    /// The driver's name: `postgres`, `mysql` or `sqlite`.
    ///
    /// ```
    /// assert_eq!(session_sql::Backend::MySql.name(), "mysql");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Sets up a [`SqlDriver`]: the database URL is required, everything else has a default.
///
/// ```
/// # #[cfg(feature = "postgres")] {
/// use std::time::Duration;
/// use session_sql::{Backend, SqlDriver};
///
/// let driver = SqlDriver::builder(Backend::Postgres)
///     .with_url("postgres://app@127.0.0.1/app")
///     .with_table("auth.sessions")
///     .with_pool_size(20)
///     .with_connect_timeout(Duration::from_millis(500))
///     .with_statement_timeout(Duration::from_secs(2))
///     .build()?; // checks the options; opens no connection
/// assert_eq!(driver.table(), "auth.sessions");
/// # }
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqlDriverBuilder {
    backend: Backend,
    url: Option<String>,
    table: String,
    pool_size: u32,
    connect_timeout: Duration,
    statement_timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl SqlDriverBuilder {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            url: None,
            table: DEFAULT_TABLE.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// A builder from the driver's configuration section (named after the driver) and the
    /// manager's clock: what [`register`](crate::register) does.
    pub(crate) fn from_setup(
        backend: Backend,
        setup: &DriverSetup<'_>,
    ) -> Result<Self, ConfigError> {
        Self::from_section(backend, setup.section(), setup.clock())
    }

    pub(crate) fn from_section(
        backend: Backend,
        section: Option<&Value>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let options = SectionOptions::parse(backend.name(), section)?;
        let mut builder = Self::new(backend).with_clock(clock);
        builder.url = options.url;
        if let Some(table) = options.table {
            builder.table = table;
        }
        if let Some(size) = options.pool_size {
            builder.pool_size = size;
        }
        if let Some(timeout) = options.connect_timeout {
            builder.connect_timeout = timeout;
        }
        if let Some(timeout) = options.statement_timeout {
            builder.statement_timeout = timeout;
        }
        Ok(builder)
    }

    /// The database URL (`postgres://…`, `mysql://…`, `sqlite://path/to/file.db`); option `url`,
    /// environment `DATABASE_URL`. Required.
    #[must_use]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The table (option `table`, environment `SESSION_SQL_TABLE`; default `sessions`), with a
    /// schema if wanted (`auth.sessions`). Checked by [`build`](Self::build) with
    /// [`check_table_name`].
    #[must_use]
    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The most connections the pool opens (option `pool_size`, default 10).
    #[must_use]
    pub fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size;
        self
    }

    /// How long a statement may wait for a connection, a new one included (option
    /// `connect_timeout`, default 1 s). A database that is down answers within it.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one statement may run once it has a connection (option `statement_timeout`,
    /// default 1 s). PostgreSQL also enforces it on the server (`statement_timeout`) and
    /// SQLite waits at most this long for a lock (`busy_timeout`).
    #[must_use]
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// The clock that decides expiry: the session manager's (default the system clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the options and parses the URL. Opens no connection: the first statement does,
    /// so building needs neither the database nor a runtime.
    pub fn build(self) -> Result<SqlDriver, ConfigError> {
        let name = self.backend.name();
        let option = |o: &str| format!("{name}.{o}");
        let url = self.url.as_deref().ok_or_else(|| {
            ConfigError::new(
                option("url"),
                "a database URL is required (option `url` or DATABASE_URL)",
            )
        })?;
        check_table_name(&self.table).map_err(|e| ConfigError::new(option("table"), e))?;
        if self.pool_size == 0 {
            return Err(ConfigError::new(option("pool_size"), "must be at least 1"));
        }
        for (o, d) in [
            ("connect_timeout", self.connect_timeout),
            ("statement_timeout", self.statement_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::new(option(o), "must be more than zero"));
            }
        }
        let connect = ConnectOptions::parse(self.backend, url, self.statement_timeout)
            .map_err(|e| ConfigError::new(option("url"), e))?;
        Ok(SqlDriver {
            inner: Arc::new(Inner {
                backend: self.backend,
                statements: Statements::new(self.backend, &self.table),
                table: self.table,
                connect,
                pool: OnceLock::new(),
                pool_size: self.pool_size,
                connect_timeout: self.connect_timeout,
                statement_timeout: self.statement_timeout,
                clock: self.clock,
            }),
        })
    }
}

/// Sessions in a SQL table: one row per session, keyed by its storage key, with the version
/// that conditional writes compare and the absolute expiry that every statement checks.
/// Clones share one connection pool.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
/// use session_sql::{Backend, SqlDriver};
///
/// let dir = tempfile::tempdir()?;
/// let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
/// let driver = SqlDriver::builder(Backend::Sqlite).with_url(url).build()?;
/// driver.migrate().await?; // creates the table and its indexes if they are missing
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .driver(driver)
/// .build()?;
/// let session = manager.start_request(std::iter::empty()).session().await?;
/// session.put("cart_total", 1900)?;
/// session.commit().await?; // one INSERT
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqlDriver {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    statements: Statements,
    table: String,
    connect: ConnectOptions,
    /// Made by the first statement, inside the runtime (sqlx's pool starts background tasks).
    pool: OnceLock<Pool>,
    pool_size: u32,
    connect_timeout: Duration,
    statement_timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for SqlDriver {
    /// The URL is left out: it may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlDriver")
            .field("backend", &self.inner.backend)
            .field("table", &self.inner.table)
            .field("pool_size", &self.inner.pool_size)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("statement_timeout", &self.inner.statement_timeout)
            .finish_non_exhaustive()
    }
}

/// A statement parameter: every column is a 64-bit integer or text, but the tag: bytes or NULL.
enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Bytes(Option<&'a [u8]>),
}

/// A row as read: version, created_at, last_active, expires_at, data.
type Row = (i64, i64, i64, i64, String);

/// A row of a tag's listing: id, version, created_at, last_active, expires_at, data.
type TaggedRow = (String, i64, i64, i64, i64, String);

/// Milliseconds and versions as the database stores them (`BIGINT`, signed).
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqlDriver {
    /// A builder for `backend`.
    ///
    /// ```
    /// use session_sql::{Backend, SqlDriver};
    ///
    /// let err = SqlDriver::builder(Backend::Postgres).build().unwrap_err();
    /// assert_eq!(err.option(), "postgres.url");
    /// ```
    pub fn builder(backend: Backend) -> SqlDriverBuilder {
        SqlDriverBuilder::new(backend)
    }

    /// The database.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The table, as configured.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// Creates the table and its indexes on `expires_at` and `tag` if they are missing (the
    /// statements of this crate's `migrations/<database>.sql`, with the configured table name).
    /// Safe to run at every start and from several processes.
    ///
    /// It does not alter a table that exists: a table created before the `tag` column needs
    /// it added (see the migration file of the database) or to be dropped.
    pub async fn migrate(&self) -> Result<(), DriverError> {
        for statement in &self.inner.statements.migration {
            self.execute(statement, &[]).await?;
        }
        Ok(())
    }

    /// Deletes at most `batch` expired rows; returns how many. Run it from your scheduler, or
    /// start [`spawn_sweeper`](Self::spawn_sweeper). Expired rows are never served, so sweeping
    /// only reclaims space.
    pub async fn delete_expired(&self, batch: u32) -> Result<u64, DriverError> {
        let now = int(self.inner.clock.now_ms());
        self.execute(
            &self.inner.statements.sweep,
            &[Arg::Int(now), Arg::Int(i64::from(batch.max(1)))],
        )
        .await
    }

    /// Deletes expired rows now and then every `interval`, `batch` rows per statement until
    /// fewer than `batch` are left, on the current Tokio runtime, until the handle is dropped. A
    /// failure is logged and retried at the next interval.
    pub fn spawn_sweeper(&self, interval: Duration, batch: u32) -> SweeperHandle {
        let driver = self.clone();
        let task = tokio::spawn(async move {
            loop {
                loop {
                    match driver.delete_expired(batch).await {
                        Ok(n) if n >= u64::from(batch.max(1)) => tokio::task::yield_now().await,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(
                                driver = driver.inner.backend.name(),
                                error = %e,
                                "deleting expired sessions failed"
                            );
                            break;
                        }
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        SweeperHandle(task)
    }

    fn pool(&self) -> &Pool {
        self.inner.pool.get_or_init(|| {
            self.inner
                .connect
                .pool(self.inner.pool_size, self.inner.connect_timeout)
        })
    }

    /// Runs `work` within the connect and statement timeouts.
    async fn timed<T>(
        &self,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<Result<T, sqlx::Error>, DriverError> {
        let limit = self.inner.connect_timeout + self.inner.statement_timeout;
        let name = self.inner.backend.name();
        match tokio::time::timeout(limit, work).await {
            Err(_) => Err(DriverError::Timeout {
                driver: name,
                after: limit,
            }),
            Ok(Err(sqlx::Error::PoolTimedOut)) => Err(DriverError::Timeout {
                driver: name,
                after: self.inner.connect_timeout,
            }),
            Ok(result) => Ok(result),
        }
    }

    fn failed(&self, error: sqlx::Error) -> DriverError {
        DriverError::unavailable(self.inner.backend.name(), error)
    }

    /// A statement's count of affected rows.
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DriverError> {
        self.timed(self.pool().execute(sql, args))
            .await?
            .map_err(|e| self.failed(e))
    }

    async fn fetch_version(&self, key: &StorageKey, now: i64) -> Result<Option<i64>, DriverError> {
        let args = [Arg::Text(key.as_str()), Arg::Int(now)];
        self.timed(
            self.pool()
                .fetch_version(&self.inner.statements.version, &args),
        )
        .await?
        .map_err(|e| self.failed(e))
    }

    /// After a conditional statement changed nothing: is another version there, or none?
    async fn conflict_or_gone(
        &self,
        key: &StorageKey,
        now: i64,
    ) -> Result<WriteOutcome, DriverError> {
        Ok(match self.fetch_version(key, now).await? {
            Some(_) => WriteOutcome::Conflict,
            None => WriteOutcome::Gone,
        })
    }

    /// A new session (no live row expected), on MySQL: insert; on a duplicate key, delete the
    /// row if it has expired and insert once more.
    async fn insert_new(
        &self,
        args: &[Arg<'_>],
        key: &StorageKey,
        now: i64,
    ) -> Result<WriteOutcome, DriverError> {
        let statements = &self.inner.statements;
        for first in [true, false] {
            match self
                .timed(self.pool().execute(&statements.insert, args))
                .await?
            {
                Ok(_) => return Ok(WriteOutcome::Written),
                Err(e) if is_unique_violation(&e) => {
                    let expired = [Arg::Text(key.as_str()), Arg::Int(now)];
                    if !(first
                        && self
                            .execute(&statements.delete_expired_key, &expired)
                            .await?
                            == 1)
                    {
                        return Ok(WriteOutcome::Conflict);
                    }
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        Ok(WriteOutcome::Conflict)
    }

    /// The value of the `tag` column for `record`: its tag's UTF-8 bytes, or NULL. A tag
    /// longer than [`MAX_TAG_LEN`] (which [`Session::tag`](session_core::Session::tag) refuses,
    /// so only a record written through the store itself has one) is refused rather than cut
    /// or left out of the column, either of which would leave the session out of its tag's
    /// listing.
    fn tag_of<'r>(&self, record: &'r Record) -> Result<Option<&'r [u8]>, DriverError> {
        match record.tag() {
            Some(tag) if tag.len() > MAX_TAG_LEN => Err(DriverError::unavailable(
                self.inner.backend.name(),
                format!(
                    "the session's tag is {} bytes, more than session_core::MAX_TAG_LEN ({MAX_TAG_LEN})",
                    tag.len()
                ),
            )),
            tag => Ok(tag.map(str::as_bytes)),
        }
    }

    /// A row into a record; a row that does not decode reads as no session.
    fn decode(&self, row: Row) -> Option<Record> {
        let (version, created_at, last_active, expires_at, data) = row;
        let unsigned = |n: i64| u64::try_from(n).ok();
        let data = serde_json::from_str::<Map<String, Value>>(&data).ok();
        let record = (|| {
            Some(Record {
                data: data?,
                version: unsigned(version)?,
                created_at: unsigned(created_at)?,
                last_active: unsigned(last_active)?,
                expires_at: unsigned(expires_at)?,
            })
        })();
        if record.is_none() {
            tracing::warn!(
                driver = self.inner.backend.name(),
                event = "undecodable-record",
                "a session row does not decode; it reads as no session"
            );
        }
        record
    }
}

#[async_trait]
impl SessionStore for SqlDriver {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        let now = int(self.inner.clock.now_ms());
        let args = [Arg::Text(key.as_str()), Arg::Int(now)];
        let row = self
            .timed(self.pool().fetch_row(&self.inner.statements.read, &args))
            .await?
            .map_err(|e| self.failed(e))?;
        Ok(row.and_then(|row| self.decode(row)))
    }

    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        let now = int(self.inner.clock.now_ms());
        let data = serde_json::to_string(&record.data)
            .map_err(|e| DriverError::unavailable(self.inner.backend.name(), e))?;
        let tag = self.tag_of(record)?;
        let statements = &self.inner.statements;
        let (version, created, active, expires) = (
            int(record.version),
            int(record.created_at),
            int(record.last_active),
            int(record.expires_at),
        );
        let Some(expected) = expected else {
            let args = [
                Arg::Text(key.as_str()),
                Arg::Int(version),
                Arg::Int(created),
                Arg::Int(active),
                Arg::Int(expires),
                Arg::Text(&data),
                Arg::Bytes(tag),
                Arg::Int(now),
            ];
            return match &statements.insert_or_replace_expired {
                Some(sql) => Ok(match self.execute(sql, &args).await? {
                    0 => WriteOutcome::Conflict,
                    _ => WriteOutcome::Written,
                }),
                None => self.insert_new(&args[..7], key, now).await,
            };
        };
        let args = [
            Arg::Int(version),
            Arg::Int(created),
            Arg::Int(active),
            Arg::Int(expires),
            Arg::Text(&data),
            Arg::Bytes(tag),
            Arg::Text(key.as_str()),
            Arg::Int(int(expected)),
            Arg::Int(now),
        ];
        match self.execute(&statements.update, &args).await? {
            0 => self.conflict_or_gone(key, now).await,
            _ => Ok(WriteOutcome::Written),
        }
    }

    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        let now = int(self.inner.clock.now_ms());
        let args = [
            Arg::Text(key.as_str()),
            Arg::Int(int(version)),
            Arg::Int(now),
        ];
        match self.execute(&self.inner.statements.destroy, &args).await? {
            0 => self.conflict_or_gone(key, now).await,
            _ => Ok(WriteOutcome::Written),
        }
    }

    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        let now = int(self.inner.clock.now_ms());
        let args = [
            Arg::Int(int(last_active)),
            Arg::Int(int(expires_at)),
            Arg::Text(key.as_str()),
            Arg::Int(now),
        ];
        self.execute(&self.inner.statements.refresh, &args).await?;
        Ok(())
    }

    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        self.inner.backend.name()
    }
}

/// One `SELECT … WHERE tag = ? AND expires_at > now` through the index on `tag`: the column is
/// written by the same statement as the record, so it never lags behind it.
#[async_trait]
impl TaggedStore for SqlDriver {
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
        let now = int(self.inner.clock.now_ms());
        let args = [Arg::Bytes(Some(tag.as_bytes())), Arg::Int(now)];
        let rows = self
            .timed(
                self.pool()
                    .fetch_tagged(&self.inner.statements.tagged, &args),
            )
            .await?
            .map_err(|e| self.failed(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, version, created_at, last_active, expires_at, data)| {
                let key = StorageKey::parse(&id);
                if key.is_none() {
                    tracing::warn!(
                        driver = self.inner.backend.name(),
                        event = "undecodable-record",
                        "a session row's id is not a storage key; it is left out"
                    );
                }
                let record = self.decode((version, created_at, last_active, expires_at, data))?;
                Some((key?, record))
            })
            .collect())
    }
}

/// Stops the sweeper when dropped.
#[derive(Debug)]
pub struct SweeperHandle(tokio::task::JoinHandle<()>);

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// Connection options per database, parsed at start-up. `Disabled` has no value: it keeps the
/// type (and the crate) well-formed in a build without any database feature. The variants differ
/// in size; there is one value per driver, made at start-up, so none is boxed.
#[allow(clippy::large_enum_variant)]
enum ConnectOptions {
    #[allow(dead_code)]
    Disabled(Infallible),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgConnectOptions),
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlConnectOptions),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::sqlite::SqliteConnectOptions),
}

/// A connection pool per database (`Disabled`: see [`ConnectOptions`]).
enum Pool {
    #[allow(dead_code)]
    Disabled(Infallible),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

impl ConnectOptions {
    /// `statement_timeout` is enforced on the server by PostgreSQL and (as the lock wait) by
    /// SQLite; MySQL relies on the client-side limit every statement runs under.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "sqlite")),
        allow(unused_variables)
    )]
    fn parse(backend: Backend, url: &str, statement_timeout: Duration) -> Result<Self, String> {
        use sqlx::ConnectOptions as _;
        let invalid = |e: sqlx::Error| format!("not a {} URL: {e}", backend.name());
        match backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let options: sqlx::postgres::PgConnectOptions = url.parse().map_err(invalid)?;
                let ms = statement_timeout.as_millis().to_string();
                Ok(Self::Postgres(
                    options
                        .options([("statement_timeout", ms.as_str())])
                        .disable_statement_logging(),
                ))
            }
            #[cfg(feature = "mysql")]
            Backend::MySql => {
                let options: sqlx::mysql::MySqlConnectOptions = url.parse().map_err(invalid)?;
                Ok(Self::MySql(options.disable_statement_logging()))
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                use sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                let options: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(invalid)?;
                Ok(Self::Sqlite(
                    options
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(statement_timeout)
                        .disable_statement_logging(),
                ))
            }
            #[allow(unreachable_patterns)]
            _ => Err(format!(
                "the {0} driver is not compiled in: enable the cargo feature `{0}` of session-sql",
                backend.name()
            )),
        }
    }

    /// A lazy pool: connections open when statements need them. `test_before_acquire` is off:
    /// sqlx already checks a connection when it comes back to the pool, and checking again on
    /// the way out would add a round trip to every statement.
    fn pool(&self, size: u32, connect_timeout: Duration) -> Pool {
        macro_rules! options {
            () => {
                sqlx::pool::PoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(connect_timeout)
                    .test_before_acquire(false)
            };
        }
        match self {
            Self::Disabled(never) => match *never {},
            #[cfg(feature = "postgres")]
            Self::Postgres(o) => Pool::Postgres(options!().connect_lazy_with(o.clone())),
            #[cfg(feature = "mysql")]
            Self::MySql(o) => Pool::MySql(options!().connect_lazy_with(o.clone())),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(o) => Pool::Sqlite(options!().connect_lazy_with(o.clone())),
        }
    }
}

/// Binds `args` to `sql` for one database.
macro_rules! bound {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(n) => query.bind(*n),
                Arg::Text(s) => query.bind(*s),
                Arg::Bytes(b) => query.bind(*b),
            };
        }
        query
    }};
}

impl Pool {
    async fn execute(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        match self {
            Pool::Disabled(never) => match *never {},
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => Ok(bound!(sqlx::query(sql), args)
                .execute(p)
                .await?
                .rows_affected()),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => Ok(bound!(sqlx::query(sql), args)
                .execute(p)
                .await?
                .rows_affected()),
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => Ok(bound!(sqlx::query(sql), args)
                .execute(p)
                .await?
                .rows_affected()),
        }
    }

    async fn fetch_row(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, sqlx::Error> {
        match self {
            Pool::Disabled(never) => match *never {},
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => bound!(sqlx::query_as(sql), args).fetch_optional(p).await,
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => bound!(sqlx::query_as(sql), args).fetch_optional(p).await,
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => bound!(sqlx::query_as(sql), args).fetch_optional(p).await,
        }
    }

    async fn fetch_tagged(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<TaggedRow>, sqlx::Error> {
        match self {
            Pool::Disabled(never) => match *never {},
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => bound!(sqlx::query_as(sql), args).fetch_all(p).await,
            // sqlx reads an `ascii_bin` column as VARBINARY, which does not decode into a
            // `String`: the id comes as bytes, and a storage key is ASCII.
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                let rows: Vec<(Vec<u8>, i64, i64, i64, i64, String)> =
                    bound!(sqlx::query_as(sql), args).fetch_all(p).await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, version, created, active, expires, data)| {
                        let id = String::from_utf8_lossy(&id).into_owned();
                        (id, version, created, active, expires, data)
                    })
                    .collect())
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => bound!(sqlx::query_as(sql), args).fetch_all(p).await,
        }
    }

    async fn fetch_version(&self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, sqlx::Error> {
        match self {
            Pool::Disabled(never) => match *never {},
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => {
                bound!(sqlx::query_scalar(sql), args)
                    .fetch_optional(p)
                    .await
            }
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => {
                bound!(sqlx::query_scalar(sql), args)
                    .fetch_optional(p)
                    .await
            }
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => {
                bound!(sqlx::query_scalar(sql), args)
                    .fetch_optional(p)
                    .await
            }
        }
    }
}
