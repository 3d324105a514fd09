//! The SQL driver for `session-core`: sessions in a PostgreSQL, MySQL/MariaDB or SQLite table,
//! on [sqlx](https://docs.rs/sqlx) 0.8, with the same promises as the other server-side drivers:
//! no lost update and no resurrection (writes and deletes compare a version column in the
//! statement itself), expiry decided in every query, and a fast failure when the database is
//! down.
//!
//! Choose the database by cargo feature (`postgres`, `mysql`, `sqlite`), register the drivers
//! and pick one by name, with the URL in its section (or `DATABASE_URL`):
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use session_core::{DriverRegistry, SessionConfig, SessionManager};
//!
//! let mut registry = DriverRegistry::new();
//! session_sql::register(&mut registry);
//! let manager = SessionManager::builder(
//!     SessionConfig::new()
//!         .with_driver("postgres")
//!         .with_key("a secret of at least thirty-two bytes!!")
//!         .with_section("postgres", serde_json::json!({
//!             "url": "postgres://app@127.0.0.1/app",
//!             "table": "sessions",
//!         })),
//! )
//! .with_registry(registry)
//! .build()?;
//! // Create the table if it is missing (or run migrations/postgres.sql with your own tool).
//! if let Some(driver) = session_sql::driver_for(&manager)? {
//!     driver.migrate().await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! or build a [`SqlDriver`] in code and hand it to the manager ([`SqlDriver::builder`]).
//!
//! # The table
//!
//! | column | type | holds |
//! |---|---|---|
//! | `id` | text, primary key | the storage key: a 22-character hash of the session id, never the id |
//! | `version` | 64-bit integer | incremented by every write; writes and deletes compare it |
//! | `created_at`, `last_active`, `expires_at` | 64-bit integers | milliseconds since the Unix epoch |
//! | `data` | text | the values and flash messages, as a JSON object |
//! | `tag` | bytes, nullable | the session's tag as UTF-8 bytes (see [Tags](#tags)) |
//!
//! with an index on `expires_at` and one on `tag`. The statements are in `migrations/postgres.sql`,
//! `migrations/mysql.sql` and `migrations/sqlite.sql`; [`SqlDriver::migrate`] runs them with the
//! configured table name (`table`, default `sessions`, a schema allowed: `auth.sessions`).
//!
//! # Statements per request
//!
//! | request | statements |
//! |---|---|
//! | reads the session | 1 `SELECT … WHERE id = ? AND expires_at > now` |
//! | changes it | 1 `UPDATE … WHERE id = ? AND version = ? AND expires_at > now` (plus a `SELECT` of the version if it changed nothing: conflict or gone) |
//! | new session with data | 1 `INSERT` (PostgreSQL, SQLite: `… ON CONFLICT DO UPDATE … WHERE expired`; MySQL: a plain `INSERT`, and on a duplicate key a `DELETE` of the row if expired and a second `INSERT`) |
//! | refresh due (by default once 20% of the idle age has passed) | 1 `UPDATE … SET last_active, expires_at WHERE id = ? AND expires_at > now` |
//! | logout (empties the session) | 1 `DELETE … WHERE id = ? AND version = ? AND expires_at > now` |
//! | regenerate (login) | the new row's `INSERT`, then the old row's conditional `DELETE` |
//!
//! "now" is the session manager's clock, passed as a parameter, so an expired row reads as no
//! session whatever the database's clock says, and tests can move time. A tagged session costs
//! the same statements as an untagged one (see [Tags](#tags)).
//!
//! # Tags
//!
//! [`SqlDriver`] implements [`TaggedStore`](session_core::TaggedStore), so
//! [`Session::tag`](session_core::Session::tag) and the manager's
//! [`tagged_sessions`](session_core::SessionManager::tagged_sessions),
//! [`destroy_tagged_sessions`](session_core::SessionManager::destroy_tagged_sessions) and the
//! others work. The tag is kept in the `tag` column, as its UTF-8 bytes (PostgreSQL `BYTEA`,
//! MySQL `VARBINARY(256)`, SQLite `BLOB`): bytes compare exactly (no case folding, no
//! trailing-space padding, a NUL allowed), whatever the database's collations.
//!
//! - **Written with the record.** Every `INSERT` and `UPDATE` that writes a record sets `tag`
//!   from the record's tag (`NULL` without one) in the same statement, so the column never
//!   disagrees with the data and needs no clean-up: untagging clears it, a logout's `DELETE`
//!   and the sweeper remove it with the row. A refresh does not touch it.
//! - **Listed through an index.** [`tagged`](session_core::TaggedStore::tagged) is one
//!   `SELECT id, version, created_at, last_active, expires_at, data … WHERE tag = ? AND
//!   expires_at > now`, through the index `<table>_tag`. On PostgreSQL and SQLite the index is
//!   partial (`WHERE tag IS NOT NULL`): untagged rows are not in it. MySQL has no partial
//!   indexes; there an untagged row has a `NULL` entry in it.
//! - **Cost.** None in statements: a login that regenerates and tags is the `SELECT`, the new
//!   row's `INSERT` and the old row's `DELETE`, tagged or not; reads, writes, refreshes and
//!   logouts are unchanged. Listing a tag is one `SELECT`; logging it out everywhere is that
//!   `SELECT` and one conditional `DELETE` per session.
//! - **Length.** A tag is at most [`MAX_TAG_LEN`](session_core::MAX_TAG_LEN) (256) bytes, as
//!   `Session::tag` checks; a record written through the store with a longer one is refused
//!   (`DriverError::Unavailable`) rather than cut, which would leave it out of its listing.
//!
//! # Failures
//!
//! `connect_timeout` (default 1 s) bounds the wait for a connection, a new one included;
//! `statement_timeout` (default 1 s) bounds each statement (PostgreSQL also enforces it on the
//! server, SQLite waits at most that long for a lock). A database that is down or does not
//! answer gives `DriverError::Timeout` or `Unavailable` within them: a `503` from the adapters.
//! The pool opens new connections when the database is back; nothing needs a restart.
//!
//! # Sweeping
//!
//! Expired rows are never served, but they stay in the table until deleted:
//! [`SqlDriver::delete_expired`] deletes a bounded batch, [`SqlDriver::spawn_sweeper`] runs it
//! on an interval beside the server.
//!
//! # Supported versions
//!
//! PostgreSQL 9.5 or later, MySQL or MariaDB with InnoDB, SQLite 3.24 or later (sqlx bundles
//! one); tested with PostgreSQL 15, MariaDB 10.11 and sqlx's SQLite. The minimum supported Rust version is that of sqlx 0.8 and session-core (1.89).

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a database feature the crate is an empty shell (its pools have no variant to use):
// what only the databases use is then unused.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros, unused_variables)
)]

mod config;
mod driver;
mod statements;

use session_core::{ConfigError, Driver, DriverRegistry, SessionConfig, SessionManager};

pub use crate::config::{
    check_table_name, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_STATEMENT_TIMEOUT,
    DEFAULT_TABLE, MAX_TABLE_NAME,
};
pub use crate::driver::{Backend, SqlDriver, SqlDriverBuilder, SweeperHandle};

/// The backends compiled in.
const BACKENDS: &[Backend] = &[
    #[cfg(feature = "postgres")]
    Backend::Postgres,
    #[cfg(feature = "mysql")]
    Backend::MySql,
    #[cfg(feature = "sqlite")]
    Backend::Sqlite,
];

/// Registers a driver per database compiled in (`postgres`, `mysql`, `sqlite`), each reading the
/// configuration section of its name (`url`, `table`, `pool_size`, `connect_timeout`,
/// `statement_timeout`) and using the manager's clock.
///
/// ```
/// let mut registry = session_core::DriverRegistry::new();
/// session_sql::register(&mut registry);
/// # #[cfg(feature = "postgres")]
/// assert!(registry.names().any(|n| n == "postgres"));
/// ```
pub fn register(registry: &mut DriverRegistry) {
    for &backend in BACKENDS {
        registry.extend(backend.name(), move |setup| {
            let driver = SqlDriverBuilder::from_setup(backend, setup)?.build()?;
            Ok(Driver::from(driver))
        });
    }
}

/// A [`SqlDriver`] on the same table and database as `manager`'s driver, when that is one of
/// this crate's (`None` otherwise), for [`SqlDriver::migrate`] and the sweeper when the driver
/// was chosen by name. It reads the manager's section and clock and has its own pool, which
/// opens a connection only when used.
///
/// ```
/// use session_core::{DriverRegistry, SessionConfig, SessionManager};
///
/// let mut registry = DriverRegistry::new();
/// session_sql::register(&mut registry);
/// let config = SessionConfig::new().with_key("a secret of at least thirty-two bytes!!");
/// # #[cfg(feature = "sqlite")] {
/// let manager = SessionManager::builder(
///     config.clone().with_driver("sqlite").with_section("sqlite", serde_json::json!({ "url": "sqlite://sessions.db" })),
/// )
/// .with_registry(registry)
/// .build()?;
/// assert!(session_sql::driver_for(&manager)?.is_some());
/// # }
/// let other = SessionManager::builder(config.with_driver("memory")).build()?;
/// assert!(session_sql::driver_for(&other)?.is_none());
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub fn driver_for(manager: &SessionManager) -> Result<Option<SqlDriver>, ConfigError> {
    let name = manager.config().driver();
    let Some(&backend) = BACKENDS.iter().find(|b| b.name() == name) else {
        return Ok(None);
    };
    let section = manager.config().section(name);
    SqlDriverBuilder::from_section(backend, section, manager.clock().clone())?
        .build()
        .map(Some)
}

/// The environment variables [`config_from_vars`] reads.
pub const ENV_VARS: &[&str] = &["DATABASE_URL", "SESSION_SQL_TABLE"];

/// Reads `DATABASE_URL` (option `url`) and `SESSION_SQL_TABLE` (option `table`) into the
/// section of the configured driver, when it is one of this crate's; any other driver's
/// configuration is returned unchanged (`DATABASE_URL` is often set for other parts of an app).
///
/// ```
/// use session_core::SessionConfig;
///
/// let vars = [("DATABASE_URL".to_owned(), "postgres://127.0.0.1/app".to_owned())];
/// let config = session_sql::config_from_vars(SessionConfig::new().with_driver("postgres"), &vars)?;
/// assert_eq!(config.section("postgres").unwrap()["url"], "postgres://127.0.0.1/app");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
pub fn config_from_vars(
    mut config: SessionConfig,
    vars: &[(String, String)],
) -> Result<SessionConfig, ConfigError> {
    let driver = config.driver().to_owned();
    if !["postgres", "mysql", "sqlite"].contains(&driver.as_str()) {
        return Ok(config);
    }
    for (name, value) in vars {
        config = match name.as_str() {
            "DATABASE_URL" => config.with_section_option(&driver, "url", value.as_str()),
            "SESSION_SQL_TABLE" => {
                check_table_name(value)
                    .map_err(|e| ConfigError::new(format!("{driver}.table"), e))?;
                config.with_section_option(&driver, "table", value.as_str())
            }
            _ => config,
        };
    }
    Ok(config)
}
