//! What the conformance suite does not cover: the sweeper, undecodable rows, migrations run
//! twice, and a database that goes down and comes back.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use session_core::{
    Clock as _, DriverError, ManualClock, Record, SessionId, SessionStore, StorageKey, WriteOutcome,
};
use session_sql::{Backend, SqlDriver};
use session_testkit::proxy::TcpProxy;

use crate::common::{block, TestDatabase};

const BACKENDS: [Backend; 3] = [Backend::Postgres, Backend::MySql, Backend::Sqlite];

/// The `n`th of 100 storage keys, the same in every call.
fn key(n: u32) -> StorageKey {
    static KEYS: OnceLock<Vec<StorageKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        (0..100)
            .map(|_| SessionId::generate().storage_key())
            .collect()
    });
    keys[n as usize].clone()
}

fn record(version: u64, expires_at: u64) -> Record {
    Record {
        data: json!({ "n": 1 }).as_object().cloned().unwrap_or_default(),
        version,
        created_at: 1,
        last_active: 1,
        expires_at,
    }
}

#[test]
fn the_sweeper_deletes_expired_rows_in_batches_and_only_those() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000);
        let driver = database.driver(&clock);
        block(async {
            for n in 0..25 {
                let expires = if n < 20 { 2_000 } else { 60_000 };
                let written = driver
                    .write(&key(n), &record(1, expires), None)
                    .await
                    .unwrap();
                assert_eq!(written, WriteOutcome::Written, "{backend:?}");
            }
            clock.advance(Duration::from_secs(5));
            assert_eq!(driver.delete_expired(8).await.unwrap(), 8, "{backend:?}");
            assert_eq!(driver.delete_expired(8).await.unwrap(), 8, "{backend:?}");
            assert_eq!(driver.delete_expired(8).await.unwrap(), 4, "{backend:?}");
            assert_eq!(driver.delete_expired(8).await.unwrap(), 0, "{backend:?}");
            for n in 20..25 {
                assert!(driver.read(&key(n)).await.unwrap().is_some(), "{backend:?}");
            }
        });
    }
}

#[test]
fn the_spawned_sweeper_runs_until_its_handle_is_dropped() {
    let database = TestDatabase::create(Backend::Sqlite);
    let clock = ManualClock::new(1_000);
    let driver = database.driver(&clock);
    block(async {
        for n in 0..10 {
            driver
                .write(&key(n), &record(1, 2_000), None)
                .await
                .unwrap();
        }
        clock.advance(Duration::from_secs(5));
        let sweeper = driver.spawn_sweeper(Duration::from_millis(20), 3);
        let deadline = Instant::now() + Duration::from_secs(10);
        while rows(&database).await > 0 {
            assert!(Instant::now() < deadline, "the sweeper left rows");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(sweeper);
        // A row that expires after the drop stays: nothing sweeps any more.
        driver
            .write(&key(50), &record(1, 6_500), None)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(rows(&database).await, 1);
    });
}

/// Every row of the SQLite test table, expired or not.
async fn rows(database: &TestDatabase) -> i64 {
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(&database.url)
        .await
        .unwrap();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", database.table))
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[test]
fn an_undecodable_row_reads_as_no_session_and_a_new_one_replaces_it_only_when_expired() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000);
        let driver = database.driver(&clock);
        block(async {
            driver
                .write(&key(1), &record(1, 60_000), None)
                .await
                .unwrap();
            corrupt(&database, &key(1)).await;
            assert!(driver.read(&key(1)).await.unwrap().is_none(), "{backend:?}");
            // The row is still there and live: a new session under that key is a conflict.
            let again = driver
                .write(&key(1), &record(1, 60_000), None)
                .await
                .unwrap();
            assert_eq!(again, WriteOutcome::Conflict, "{backend:?}");
            clock.advance(Duration::from_secs(120));
            let replaced = driver
                .write(&key(1), &record(1, 200_000), None)
                .await
                .unwrap();
            assert_eq!(replaced, WriteOutcome::Written, "{backend:?}");
            assert!(driver.read(&key(1)).await.unwrap().is_some(), "{backend:?}");
        });
    }
}

/// Overwrites a row's data with something that is not a JSON object.
async fn corrupt(database: &TestDatabase, key: &StorageKey) {
    use sqlx::Connection as _;
    let sql = |p: &str, q: &str| {
        format!(
            "UPDATE {} SET data = 'not json' WHERE id = {p}{q}",
            database.table,
            q = q
        )
    };
    match database.backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&database.url).await.unwrap();
            sqlx::query(&sql("$1", ""))
                .bind(key.as_str())
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
            sqlx::query(&sql("?", ""))
                .bind(key.as_str())
                .execute(&mut c)
                .await
                .unwrap();
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&database.url)
                .await
                .unwrap();
            sqlx::query(&sql("?", ""))
                .bind(key.as_str())
                .execute(&mut c)
                .await
                .unwrap();
        }
    }
}

#[test]
fn migrating_twice_is_harmless_and_the_table_name_is_checked() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000);
        let driver = database.driver(&clock);
        block(async {
            driver.migrate().await.unwrap();
            driver
                .write(&key(1), &record(1, 60_000), None)
                .await
                .unwrap();
            driver.migrate().await.unwrap();
            assert!(driver.read(&key(1)).await.unwrap().is_some(), "{backend:?}");
        });
        let err = SqlDriver::builder(backend)
            .with_url(&database.url)
            .with_table("sessions; DROP TABLE users")
            .build()
            .unwrap_err();
        assert_eq!(err.option(), format!("{}.table", backend.name()));
    }
}

#[test]
fn a_database_that_goes_down_fails_fast_and_is_used_again_when_it_returns() {
    for (backend, port) in [(Backend::Postgres, 5432), (Backend::MySql, 3306)] {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::starting_now();
        database.driver(&clock); // creates the table
        let proxy = TcpProxy::start_to(([127, 0, 0, 1], port).into()).expect("a proxy");
        let through_proxy =
            database
                .url
                .replacen(&format!(":{port}"), &format!(":{}", proxy.addr().port()), 1);
        let driver = SqlDriver::builder(backend)
            .with_url(through_proxy)
            .with_table(&database.table)
            .with_connect_timeout(Duration::from_millis(500))
            .with_statement_timeout(Duration::from_millis(500))
            .with_clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        block(async {
            let far = clock.now_ms() + 3_600_000;
            driver.write(&key(1), &record(1, far), None).await.unwrap();
            proxy.stop();
            let started = Instant::now();
            let err = driver.read(&key(1)).await.unwrap_err();
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{backend:?}: the failure took {:?}",
                started.elapsed()
            );
            assert!(
                matches!(
                    err,
                    DriverError::Unavailable { .. } | DriverError::Timeout { .. }
                ),
                "{backend:?}: {err}"
            );
            proxy.start();
            let mut back = None;
            for _ in 0..50 {
                if let Ok(found) = driver.read(&key(1)).await {
                    back = found;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(back.map(|r| r.version), Some(1), "{backend:?}: no recovery");
        });
    }
}
