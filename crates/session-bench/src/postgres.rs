//! The PostgreSQL server of the PostgreSQL servers (`axum-postgres`, `tower-sessions-postgres`):
//! one that already runs, by default on 127.0.0.1:5432 as user `postgres` with trust
//! authentication (what `cargo xtask test` starts or installs), or the one `BENCH_POSTGRES_URL`
//! names. The run gives each of the two servers a database of its own
//! ([`Server::postgres_database`](crate::servers::Server::postgres_database)): dropped and
//! created again at the start of every round, as Redis is emptied with `FLUSHALL`, and dropped at
//! the end of the run. A run that was killed leaves them behind; the next run drops them first.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};

use crate::servers::Server;

/// The server used when `BENCH_POSTGRES_URL` is not set: the one the SQL driver's tests use.
pub(crate) const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The longest the benchmark waits for a connection or a statement of its own.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A reachable PostgreSQL server and the databases the run keeps on it.
#[derive(Debug)]
pub(crate) struct Postgres {
    /// The URL of the server's maintenance database, where the run creates and drops the others.
    admin: String,
    /// The server, for messages: `user@host:port`, no password.
    shown: String,
    /// `SHOW server_version`.
    version: String,
    /// The databases of the servers in the run.
    databases: Vec<&'static str>,
}

impl Postgres {
    /// Connects to the server (`BENCH_POSTGRES_URL`, or [`DEFAULT_URL`]) for the databases of
    /// the PostgreSQL servers among `servers`; an error says what is missing and how to provide
    /// it.
    pub(crate) async fn connect(servers: &[Server]) -> Result<Self, String> {
        let databases: Vec<&'static str> = servers
            .iter()
            .filter_map(|s| s.postgres_database())
            .collect();
        let slugs: Vec<&'static str> = servers
            .iter()
            .filter(|s| s.uses_postgres())
            .map(|s| s.slug())
            .collect();
        let admin = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let options: PgConnectOptions = admin
            .parse()
            .map_err(|e| format!("BENCH_POSTGRES_URL: not a PostgreSQL URL: {e}"))?;
        let shown = format!(
            "{}@{}:{}",
            options.get_username(),
            options.get_host(),
            options.get_port()
        );
        let mut postgres = Self {
            admin,
            shown,
            version: String::new(),
            databases,
        };
        let unreachable = |e: String| {
            format!(
                "PostgreSQL is not reachable as {} ({e}). The servers {} keep their sessions in \
                 PostgreSQL: start it (`cargo xtask test` starts or installs one on \
                 127.0.0.1:5432 with trust authentication for the user postgres), set \
                 BENCH_POSTGRES_URL to a server where the user may create databases, or leave \
                 those servers out with --servers",
                postgres.shown,
                slugs.join(" and ")
            )
        };
        let mut conn = timed(PgConnection::connect(&postgres.admin))
            .await
            .map_err(unreachable)?;
        postgres.version = timed(sqlx::query_scalar("SHOW server_version").fetch_one(&mut conn))
            .await
            .map_err(|e| format!("PostgreSQL {}: {e}", postgres.shown))?;
        let _ = conn.close().await;
        Ok(postgres)
    }

    /// The server's version (`SHOW server_version`).
    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    /// The URL a server connects to: the maintenance URL with `database` in its path.
    pub(crate) fn url(&self, database: &str) -> String {
        with_database(&self.admin, database)
    }

    /// Drops the run's databases if they exist and creates them empty.
    pub(crate) async fn reset(&self) -> Result<(), String> {
        let mut conn = self.admin_connection().await?;
        for database in &self.databases {
            drop_database(&mut conn, database).await?;
            timed(sqlx::query(&format!("CREATE DATABASE \"{database}\"")).execute(&mut conn))
                .await
                .map_err(|e| format!("PostgreSQL: CREATE DATABASE {database}: {e}"))?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Drops the run's databases, closing any connection left to them; an error names the
    /// databases that may be left.
    pub(crate) async fn drop_databases(&self) -> Result<(), String> {
        let left = |e: String| {
            format!(
                "{e}; the database(s) {} may be left on {} (the next run drops them)",
                self.databases.join(", "),
                self.shown
            )
        };
        let mut conn = self.admin_connection().await.map_err(left)?;
        for database in &self.databases {
            drop_database(&mut conn, database).await.map_err(left)?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    async fn admin_connection(&self) -> Result<PgConnection, String> {
        timed(PgConnection::connect(&self.admin))
            .await
            .map_err(|e| format!("PostgreSQL {}: {e}", self.shown))
    }
}

/// Ends the sessions still connected to `database` (a server of the round before, killed a
/// moment ago) and drops it if it exists.
async fn drop_database(conn: &mut PgConnection, database: &str) -> Result<(), String> {
    timed(
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(database)
        .execute(&mut *conn),
    )
    .await
    .map_err(|e| format!("PostgreSQL: closing the connections to {database}: {e}"))?;
    // DROP DATABASE waits up to 5 s for the ended sessions to go.
    timed(sqlx::query(&format!("DROP DATABASE IF EXISTS \"{database}\"")).execute(&mut *conn))
        .await
        .map_err(|e| format!("PostgreSQL: DROP DATABASE {database}: {e}"))?;
    Ok(())
}

/// `work` within [`TIMEOUT`].
async fn timed<T>(
    work: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

/// `url` with its path (the database) replaced by `database`; the query string is kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_server_url_names_its_database() {
        assert_eq!(
            with_database(super::DEFAULT_URL, "session_bench_ours"),
            "postgres://postgres@127.0.0.1:5432/session_bench_ours"
        );
        assert_eq!(
            with_database("postgresql://u:p%2F@db:6543?sslmode=disable", "x"),
            "postgresql://u:p%2F@db:6543/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://localhost/app/?application_name=a/b", "x"),
            "postgres://localhost/x?application_name=a/b"
        );
    }
}
