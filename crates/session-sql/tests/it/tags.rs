//! Tags: the `tag` column written by the statement that writes the record, and a tag's sessions
//! listed through its index, on each database.

use std::time::Duration;

use serde_json::json;
use session_core::{
    ManualClock, Record, SessionConfig, SessionId, SessionManager, SessionStore, StorageKey,
    TaggedStore, WriteOutcome, MAX_TAG_LEN,
};
use session_sql::Backend;

use crate::common::{block, TestDatabase};

const BACKENDS: [Backend; 3] = [Backend::Postgres, Backend::MySql, Backend::Sqlite];

fn config() -> SessionConfig {
    SessionConfig::new()
        .with_key("a secret of at least thirty-two bytes!!")
        .with_age("10m")
}

/// A request of the browser holding `cookie` (none: a new visitor), running `work` on its
/// session and committing; the cookie the browser holds afterwards.
async fn request(
    manager: &SessionManager,
    cookie: Option<&str>,
    work: impl FnOnce(&session_core::Session),
) -> (String, StorageKey) {
    let request = manager.start_request(cookie);
    let session = request.session().await.expect("a session");
    work(&session);
    request.commit().await.expect("commit");
    let cookie = request
        .id_cookie()
        .or_else(|| cookie.map(str::to_owned))
        .expect("an id cookie");
    (cookie, session.handle())
}

/// The raw `tag` column of the row under `key`: `None` without a row, `Some(None)` for NULL.
async fn tag_column(database: &TestDatabase, key: &StorageKey) -> Option<Option<Vec<u8>>> {
    use sqlx::Connection as _;
    let table = &database.table;
    match database.backend {
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&database.url).await.unwrap();
            sqlx::query_scalar(&format!("SELECT tag FROM {table} WHERE id = $1"))
                .bind(key.as_str())
                .fetch_optional(&mut c)
                .await
                .unwrap()
        }
        Backend::MySql => {
            let mut c = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
            sqlx::query_scalar(&format!("SELECT tag FROM {table} WHERE id = ?"))
                .bind(key.as_str())
                .fetch_optional(&mut c)
                .await
                .unwrap()
        }
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&database.url)
                .await
                .unwrap();
            sqlx::query_scalar(&format!("SELECT tag FROM {table} WHERE id = ?"))
                .bind(key.as_str())
                .fetch_optional(&mut c)
                .await
                .unwrap()
        }
    }
}

/// The handles `tag` lists, sorted.
async fn handles(manager: &SessionManager, tag: &str) -> Vec<StorageKey> {
    let mut listed: Vec<StorageKey> = manager
        .tagged_sessions(tag)
        .await
        .expect("a listing")
        .into_iter()
        .map(|s| s.handle)
        .collect();
    listed.sort();
    listed
}

#[test]
fn the_tag_column_follows_login_untag_and_logout() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000_000);
        let manager = database.manager(config(), clock.clone());
        assert!(manager.supports_tagging(), "{backend:?}");
        block(async {
            // A visitor with a cart, then the login: regenerate and tag in one request.
            let (cookie, before) = request(&manager, None, |s| s.put("cart", 3).unwrap()).await;
            assert_eq!(
                tag_column(&database, &before).await,
                Some(None),
                "{backend:?}"
            );
            let (cookie, after) = request(&manager, Some(&cookie), |s| {
                s.regenerate().unwrap();
                s.tag("user-42").unwrap();
            })
            .await;
            assert_ne!(before, after);
            assert_eq!(tag_column(&database, &before).await, None, "{backend:?}");
            assert_eq!(
                tag_column(&database, &after).await,
                Some(Some(b"user-42".to_vec())),
                "{backend:?}"
            );
            assert_eq!(
                handles(&manager, "user-42").await,
                std::slice::from_ref(&after),
                "{backend:?}"
            );
            let listed = manager.tagged_sessions("user-42").await.unwrap();
            assert_eq!(listed[0].get::<u32>("cart"), Some(3), "{backend:?}");

            // A refresh (a quarter of the age later) leaves the column as it is.
            clock.advance(Duration::from_secs(150));
            request(&manager, Some(&cookie), |s| {
                s.get::<u32>("cart").unwrap();
            })
            .await;
            let row = database.driver(&clock).read(&after).await.unwrap().unwrap();
            assert_eq!(row.last_active, 1_150_000, "{backend:?}: refreshed");
            assert_eq!(
                tag_column(&database, &after).await,
                Some(Some(b"user-42".to_vec())),
                "{backend:?}"
            );

            // Untag: the column is cleared, the session no longer listed.
            request(&manager, Some(&cookie), |s| s.untag().unwrap()).await;
            assert_eq!(
                tag_column(&database, &after).await,
                Some(None),
                "{backend:?}"
            );
            assert!(handles(&manager, "user-42").await.is_empty(), "{backend:?}");

            // Tagged again, then logout removes the row.
            request(&manager, Some(&cookie), |s| s.tag("user-42").unwrap()).await;
            assert_eq!(
                handles(&manager, "user-42").await,
                std::slice::from_ref(&after),
                "{backend:?}"
            );
            request(&manager, Some(&cookie), |s| s.flush().unwrap()).await;
            assert_eq!(tag_column(&database, &after).await, None, "{backend:?}");
            assert!(handles(&manager, "user-42").await.is_empty(), "{backend:?}");
        });
    }
}

#[test]
fn a_tag_lists_its_live_sessions_and_only_those() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000_000);
        let manager = database.manager(config(), clock.clone());
        let driver = database.driver(&clock);
        block(async {
            let mut ada = Vec::new();
            for _ in 0..3 {
                ada.push(request(&manager, None, |s| s.tag("ada").unwrap()).await);
            }
            let (_, other) = request(&manager, None, |s| s.tag("ADA").unwrap()).await;
            let (_, spaced) = request(&manager, None, |s| s.tag("ada ").unwrap()).await;
            request(&manager, None, |s| s.put("anonymous", true).unwrap()).await;

            let mut expected: Vec<StorageKey> = ada.iter().map(|(_, k)| k.clone()).collect();
            expected.sort();
            assert_eq!(handles(&manager, "ada").await, expected, "{backend:?}");
            // Tags compare byte for byte: no case folding, no trailing-space padding.
            assert_eq!(handles(&manager, "ADA").await, [other], "{backend:?}");
            assert_eq!(handles(&manager, "ada ").await, [spaced], "{backend:?}");
            assert!(handles(&manager, "ad").await.is_empty(), "{backend:?}");
            assert_eq!(driver.tagged("ada").await.unwrap().len(), 3, "{backend:?}");

            // One of them stays active, the others expire; the driver itself leaves the
            // expired rows out, before the manager's filter.
            clock.advance(Duration::from_secs(500));
            request(&manager, Some(&ada[0].0), |s| s.put("n", 1).unwrap()).await;
            clock.advance(Duration::from_secs(200));
            assert_eq!(
                handles(&manager, "ada").await,
                [ada[0].1.clone()],
                "{backend:?}"
            );
            let raw = driver.tagged("ada").await.unwrap();
            assert_eq!(raw.len(), 1, "{backend:?}");
            assert_eq!(raw[0].0, ada[0].1, "{backend:?}");

            // Log out everywhere.
            assert_eq!(
                manager.destroy_tagged_sessions("ada", None).await.unwrap(),
                Some(1),
                "{backend:?}"
            );
            assert!(handles(&manager, "ada").await.is_empty(), "{backend:?}");
        });
    }
}

#[test]
fn any_tag_of_up_to_max_tag_len_bytes_round_trips() {
    let tags = [
        "\u{0}".to_owned(),
        "a\u{0}b".to_owned(),
        "Zoë 🦀 ユーザー".to_owned(),
        "'; DROP TABLE sessions; --".to_owned(),
        "../../etc/passwd".to_owned(),
        "x".repeat(MAX_TAG_LEN),
        "é".repeat(MAX_TAG_LEN / 2),
    ];
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let manager = database.manager(config(), ManualClock::new(1_000_000));
        block(async {
            for tag in &tags {
                let (_, key) = request(&manager, None, |s| s.tag(tag).unwrap()).await;
                assert_eq!(
                    handles(&manager, tag).await,
                    std::slice::from_ref(&key),
                    "{backend:?} {tag:?}"
                );
                assert_eq!(
                    tag_column(&database, &key).await,
                    Some(Some(tag.as_bytes().to_vec())),
                    "{backend:?} {tag:?}"
                );
            }
            // "a\0b" is not "a", nor "\0" the empty string's prefix of anything.
            assert!(handles(&manager, "a").await.is_empty(), "{backend:?}");
        });
    }
}

#[test]
fn a_tag_longer_than_max_tag_len_is_refused_not_cut() {
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000);
        let driver = database.driver(&clock);
        let long = "x".repeat(MAX_TAG_LEN + 1);
        let data = json!({ "__tag__": { "value": long, "at": 1_000 } });
        let record = Record {
            version: 1,
            ..Record::new(data.as_object().cloned().unwrap(), 1_000, 60_000)
        };
        let key = SessionId::generate().storage_key();
        block(async {
            assert!(
                driver.write(&key, &record, None).await.is_err(),
                "{backend:?}"
            );
            assert!(driver.read(&key).await.unwrap().is_none(), "{backend:?}");
            // A record whose `__tag__` is not a tag of the right shape has none.
            let odd = Record {
                version: 1,
                ..Record::new(
                    json!({ "__tag__": 7 }).as_object().cloned().unwrap(),
                    1_000,
                    60_000,
                )
            };
            let written = driver.write(&key, &odd, None).await.unwrap();
            assert_eq!(written, WriteOutcome::Written, "{backend:?}");
            assert_eq!(tag_column(&database, &key).await, Some(None), "{backend:?}");
        });
    }
}

/// The plan of the listing statement, with enough untagged rows that a scan would cost more
/// than the index.
#[test]
fn the_listing_uses_the_tag_index() {
    use sqlx::Connection as _;
    for backend in BACKENDS {
        let database = TestDatabase::create(backend);
        let clock = ManualClock::new(1_000_000);
        let manager = database.manager(config(), clock);
        block(request(&manager, None, |s| s.tag("ada").unwrap()));
        let table = &database.table;
        let index = format!("{}_tag", table.rsplit('.').next().expect("a table name"));
        let plan: Vec<String> = block(async {
            match backend {
                Backend::Postgres => {
                    let mut c = sqlx::PgConnection::connect(&database.url).await.unwrap();
                    sqlx::query(&format!(
                        "INSERT INTO {table} (id, version, created_at, last_active, expires_at, data) \
                         SELECT 'filler' || n, 1, 0, 0, 9000000000000, '{{}}' \
                         FROM generate_series(1, 5000) AS n"
                    ))
                    .execute(&mut c)
                    .await
                    .unwrap();
                    sqlx::query(&format!("ANALYZE {table}"))
                        .execute(&mut c)
                        .await
                        .unwrap();
                    sqlx::query_scalar(&format!(
                        "EXPLAIN SELECT id, version, created_at, last_active, expires_at, data \
                         FROM {table} WHERE tag = $1 AND expires_at > $2"
                    ))
                    .bind(&b"ada"[..])
                    .bind(1_000_000_i64)
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
                }
                Backend::MySql => {
                    let mut c = sqlx::MySqlConnection::connect(&database.url).await.unwrap();
                    for n in 0..50 {
                        sqlx::query(&format!(
                            "INSERT INTO {table} (id, version, created_at, last_active, expires_at, data) \
                             SELECT CONCAT('filler', seq, '_{n}'), 1, 0, 0, 9000000000000, '{{}}' \
                             FROM seq_1_to_100"
                        ))
                        .execute(&mut c)
                        .await
                        .unwrap();
                    }
                    sqlx::query(&format!("ANALYZE TABLE {table}"))
                        .execute(&mut c)
                        .await
                        .unwrap();
                    let rows = sqlx::query(&format!(
                        "EXPLAIN SELECT id, version, created_at, last_active, expires_at, data \
                         FROM {table} WHERE tag = ? AND expires_at > ?"
                    ))
                    .bind(&b"ada"[..])
                    .bind(1_000_000_i64)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                    use sqlx::Row as _;
                    rows.iter()
                        .map(|r| {
                            r.try_get::<Option<String>, _>("key")
                                .unwrap()
                                .unwrap_or_default()
                        })
                        .collect()
                }
                Backend::Sqlite => {
                    let mut c = sqlx::SqliteConnection::connect(&database.url)
                        .await
                        .unwrap();
                    let rows = sqlx::query(&format!(
                        "EXPLAIN QUERY PLAN SELECT id, version, created_at, last_active, expires_at, data \
                         FROM {table} WHERE tag = ? AND expires_at > ?"
                    ))
                    .bind(&b"ada"[..])
                    .bind(1_000_000_i64)
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                    use sqlx::Row as _;
                    rows.iter().map(|r| r.get::<String, _>("detail")).collect()
                }
            }
        });
        assert!(
            plan.iter().any(|line| line.contains(&index)),
            "{backend:?}: {plan:#?}"
        );
    }
}
