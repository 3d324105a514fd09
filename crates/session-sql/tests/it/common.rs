//! A database per test: a PostgreSQL schema, a MariaDB database or a SQLite file, created for
//! the test and dropped after it.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use session_core::{ManualClock, SessionConfig, SessionManager};
use session_sql::{Backend, SqlDriver};
use sqlx::Connection as _;

/// The PostgreSQL server the tests use (trust authentication); `SESSION_TEST_POSTGRES_URL`
/// overrides it.
pub(crate) fn postgres_admin_url() -> String {
    std::env::var("SESSION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The MariaDB (or MySQL) server the tests use, as root without a password;
/// `SESSION_TEST_MYSQL_URL` overrides it.
pub(crate) fn mysql_admin_url() -> String {
    std::env::var("SESSION_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".to_owned())
}

/// Runs `work` on a runtime of its own, on a thread of its own: usable inside and outside a
/// runtime (test set-up and `Drop`).
pub(crate) fn block<T: Send>(work: impl Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(work)
            })
            .join()
            .expect("the set-up thread")
    })
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// One test's database; dropped (schema, database or file) when this is dropped.
#[derive(Debug)]
pub(crate) struct TestDatabase {
    pub(crate) backend: Backend,
    /// The URL the driver connects to.
    pub(crate) url: String,
    /// The session table, schema-qualified on PostgreSQL.
    pub(crate) table: String,
    /// PostgreSQL's schema or MariaDB's database.
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub(crate) fn create(backend: Backend) -> Self {
        let name = unique_name();
        match backend {
            Backend::Postgres => {
                let admin = postgres_admin_url();
                block(async {
                    let mut c = sqlx::PgConnection::connect(&admin)
                        .await
                        .expect("PostgreSQL on 127.0.0.1:5432 (cargo xtask test starts it)");
                    sqlx::query(&format!("CREATE SCHEMA {name}"))
                        .execute(&mut c)
                        .await
                        .expect("create schema");
                });
                Self {
                    backend,
                    url: admin,
                    table: format!("{name}.sessions"),
                    name,
                    _dir: None,
                }
            }
            Backend::MySql => {
                let admin = mysql_admin_url();
                block(async {
                    let mut c = sqlx::MySqlConnection::connect(&admin)
                        .await
                        .expect("MariaDB on 127.0.0.1:3306 (cargo xtask test starts it)");
                    sqlx::query(&format!("CREATE DATABASE {name}"))
                        .execute(&mut c)
                        .await
                        .expect("create database");
                });
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Self {
                    backend,
                    url: format!("{base}/{name}"),
                    table: "sessions".to_owned(),
                    name,
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
                Self {
                    backend,
                    url,
                    table: "sessions".to_owned(),
                    name,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// A driver on this database and table, with the table created.
    pub(crate) fn driver(&self, clock: &ManualClock) -> SqlDriver {
        let build = || {
            SqlDriver::builder(self.backend)
                .with_url(&self.url)
                .with_table(&self.table)
                .with_clock(Arc::new(clock.clone()))
                .build()
                .expect("a valid driver configuration")
        };
        // A driver of its own: its pool lives on the set-up runtime, which ends here.
        let migrating = build();
        block(async move { migrating.migrate().await.expect("migrate") });
        build()
    }

    /// A manager on this database, for the conformance suite.
    pub(crate) fn manager(&self, config: SessionConfig, clock: ManualClock) -> SessionManager {
        SessionManager::builder(config)
            .driver(self.driver(&clock))
            .with_clock(Arc::new(clock))
            .build()
            .expect("a manager")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        match self.backend {
            Backend::Postgres => block(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                        .execute(&mut c)
                        .await;
                }
            }),
            Backend::MySql => block(async {
                if let Ok(mut c) = sqlx::MySqlConnection::connect(&mysql_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE {name}"))
                        .execute(&mut c)
                        .await;
                }
            }),
            Backend::Sqlite => {}
        }
    }
}
