//! A database of its own for one HTTP scenario run on a SQL driver: a PostgreSQL schema or a
//! MariaDB database, created here and dropped with the value (the demo creates the table), or a
//! SQLite file in a temporary folder; optionally reached through a [`TcpProxy`] that the outage
//! scenario cuts. Shared by the actix-web demo's tests.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use session_testkit::http::Backend;
use session_testkit::proxy::TcpProxy;
use sqlx::Connection as _;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MARIADB: &str = "mysql://root@127.0.0.1:3306/mysql";

pub(crate) struct Database {
    /// The driver's configuration section.
    pub(crate) section: Value,
    /// The proxy in front of the server, for the outage scenario (none for SQLite).
    pub(crate) proxy: Option<Arc<TcpProxy>>,
    /// The statement that drops the schema or database.
    drop: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    pub(crate) async fn create(driver: &'static str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("demo_{}_{nanos}", std::process::id());
        match driver {
            "postgres" => {
                let mut c = sqlx::PgConnection::connect(POSTGRES)
                    .await
                    .expect("PostgreSQL on 127.0.0.1:5432 (cargo xtask test starts it)");
                sqlx::query(&format!("CREATE SCHEMA {name}"))
                    .execute(&mut c)
                    .await
                    .expect("create schema");
                let proxy =
                    Arc::new(TcpProxy::start_to(([127, 0, 0, 1], 5432).into()).expect("proxy"));
                let url = format!("postgres://postgres@{}/postgres", proxy.addr());
                Self {
                    section: json!({ "url": url, "table": format!("{name}.sessions") }),
                    proxy: Some(proxy),
                    drop: Some((POSTGRES.to_owned(), format!("DROP SCHEMA {name} CASCADE"))),
                    _dir: None,
                }
            }
            "mysql" => {
                let mut c = sqlx::MySqlConnection::connect(MARIADB)
                    .await
                    .expect("MariaDB on 127.0.0.1:3306 (cargo xtask test starts it)");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .expect("create database");
                let proxy =
                    Arc::new(TcpProxy::start_to(([127, 0, 0, 1], 3306).into()).expect("proxy"));
                let url = format!("mysql://root@{}/{name}", proxy.addr());
                Self {
                    section: json!({ "url": url }),
                    proxy: Some(proxy),
                    drop: Some((MARIADB.to_owned(), format!("DROP DATABASE {name}"))),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
                Self {
                    section: json!({ "url": url }),
                    proxy: None,
                    drop: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// The proxy, as the outage scenario's backend.
    pub(crate) fn backend(&self) -> Option<Arc<dyn Backend>> {
        self.proxy.clone().map(|p| p as Arc<dyn Backend>)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some((admin, statement)) = self.drop.take() else {
            return;
        };
        // A thread with a runtime of its own: `Drop` may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if admin.starts_with("postgres") {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&statement).execute(&mut c).await;
                    }
                } else if let Ok(mut c) = sqlx::MySqlConnection::connect(&admin).await {
                    let _ = sqlx::query(&statement).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}
