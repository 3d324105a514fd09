//! Round trips per request, counted by the server (`INFO commandstats`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use session_core::{
    Clock, Expected, ManualClock, Record, SessionConfig, SessionId, SessionManager, StorageKey,
    WriteOutcome,
};
use session_testkit::redis_server::RedisServer;
use session_testkit::Browser;

use crate::common::{self, counted, one, ran, HARNESS};

/// Commands the driver's scripts run inside Redis; `INFO commandstats` counts them too, but they
/// are not round trips. On the script path the driver itself sends only `EVALSHA`, `EVAL` and
/// `DEL`; the plain `GET` of a recently marked session is counted apart
/// (`a_session_marked_within_a_second_is_read_without_a_script`).
const INSIDE_SCRIPTS: &[&str] = &["type", "getrange", "set", "setrange", "pexpire", "unlink"];

/// The commands clients sent since the last reset, by name.
fn sent(server: &RedisServer) -> BTreeMap<String, u64> {
    server
        .commandstats()
        .into_iter()
        .filter(|(name, _)| {
            !INSIDE_SCRIPTS.contains(&name.as_str()) && !HARNESS.contains(&name.as_str())
        })
        .collect()
}

/// A manager on `server` with an idle age of 600 s and an absolute age of 900 s, on `clock`, and
/// the key prefix of its sessions.
fn capped(server: &RedisServer, clock: &ManualClock) -> (SessionManager, String) {
    let section = common::standalone(server.url());
    let prefix = section["prefix"].as_str().unwrap_or_default().to_owned();
    let manager = common::manager(
        section,
        SessionConfig::new()
            .with_age(Duration::from_secs(600))
            .with_absolute_age(Duration::from_secs(900)),
        clock.clone(),
    );
    (manager, prefix)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_request_costs_the_documented_commands() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let manager = common::manager(
        common::standalone(server.url()),
        SessionConfig::new().with_age(Duration::from_secs(600)),
        clock.clone(),
    );
    let mut b = Browser::new(manager);

    // Warm-up, not counted: the first request opens the pooled connection (handshake
    // commands), and the first use of each script after a server start costs one extra `EVAL`
    // (the server answers `NOSCRIPT` to the `EVALSHA`).
    let mut warm = Browser::new(b.manager().clone());
    warm.request(|s| s.put("n", 1))
        .await
        .expect("warm-up write");
    clock.advance(Duration::from_secs(2));
    warm.request(|s| s.increment("n"))
        .await
        .expect("warm-up update");
    clock.advance(Duration::from_secs(2));
    warm.request(|s| s.get("n")).await.expect("warm-up read");
    clock.advance(Duration::from_secs(2));
    warm.untouched_request().await.expect("warm-up touch");
    warm.request(|s| s.clear()).await.expect("warm-up logout");
    b.request(|s| s.put("n", 1)).await.expect("first request");

    // Each counted request comes more than a second after the previous one: the activity mark
    // is then due for a refresh, and every call goes through its script.
    let later = || clock.advance(Duration::from_secs(2));
    later();
    server.reset_stats();
    let n = b.request(|s| s.get("n")).await.expect("read-only request");
    assert_eq!(n, Some(json!(1)));
    let read_only = sent(&server);
    println!("read-only request: {read_only:?}");
    assert_eq!(read_only, one("evalsha", 1), "a read-only request");

    later();
    server.reset_stats();
    b.request(|s| s.increment("n"))
        .await
        .expect("modifying request");
    let modifying = sent(&server);
    println!("modifying request: {modifying:?}");
    assert_eq!(modifying, one("evalsha", 2), "a modifying request");

    later();
    server.reset_stats();
    b.untouched_request().await.expect("untouched request");
    let untouched = sent(&server);
    println!("untouched request: {untouched:?}");
    assert_eq!(untouched, one("evalsha", 1), "an untouched request");

    later();
    server.reset_stats();
    b.readonly_request(|s| s.get("n"))
        .await
        .expect("readonly request");
    assert_eq!(sent(&server), one("evalsha", 1), "a readonly request");

    // Logging out: the read and one conditional delete.
    later();
    server.reset_stats();
    b.request(|s| s.clear()).await.expect("logout");
    assert_eq!(sent(&server), one("evalsha", 2), "emptying a session");

    // A new visitor whose handler stores nothing costs nothing.
    let mut visitor = Browser::new(b.manager().clone());
    server.reset_stats();
    visitor.untouched_request().await.expect("new visitor");
    assert_eq!(sent(&server), BTreeMap::new(), "a new visitor");

    // A new session is one plain `SET … NX PX`, no script.
    let mut visitor = Browser::new(b.manager().clone());
    server.reset_stats();
    visitor
        .request(|s| s.put("n", 1))
        .await
        .expect("new session");
    assert_eq!(ran(&server), one("set", 1), "a new session");

    // Logging in (within a second of the write, so the read is a plain `GET`): the read, the
    // new id's `SET … NX PX`, the old id's conditional delete.
    server.reset_stats();
    visitor
        .request(|s| {
            s.regenerate()?;
            s.increment("n")
        })
        .await
        .expect("login");
    assert_eq!(
        ran(&server),
        counted(&[
            ("evalsha", 1),
            ("get", 1),
            ("getrange", 1),
            ("set", 1),
            ("unlink", 1),
        ]),
        "a login: the read, the new session's SET, the old one's conditional delete"
    );

    // The touch really slid the idle expiry: 3 × 0.6 idle ages later the session is alive.
    let mut b = Browser::new(b.manager().clone());
    b.request(|s| s.put("n", 5)).await.expect("new session");
    for _ in 0..3 {
        clock.advance(Duration::from_secs(360));
        b.untouched_request().await.expect("untouched request");
    }
    clock.advance(Duration::from_secs(360));
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ttl_follows_the_idle_age_and_the_absolute_cap() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, prefix) = capped(&server, &clock);
    let mut b = Browser::new(manager);
    b.request(|s| s.put("n", 1)).await.expect("write");
    let key = b.storage_key().await.expect("key");
    let redis_key = format!("{prefix}{{{}}}", key.as_str());
    let ttl = |server: &RedisServer| -> i64 {
        server.cli(&["PTTL", &redis_key]).parse().expect("a number")
    };
    let first = ttl(&server);
    assert!(
        (590_000..=600_000).contains(&first),
        "TTL after a write: {first}"
    );
    // Half an idle age later a read slides it, but only up to the absolute cap (900 s from
    // creation = 500 s from now).
    clock.advance(Duration::from_secs(400));
    b.request(|s| s.get("n")).await.expect("read");
    let capped = ttl(&server);
    assert!(
        (490_000..=500_000).contains(&capped),
        "TTL capped: {capped}"
    );
    assert_eq!(server.cli(&["TYPE", &redis_key]), "string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_marked_within_a_second_is_read_without_a_script() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let manager = common::manager(
        common::standalone(server.url()),
        SessionConfig::new().with_age(Duration::from_secs(600)),
        clock.clone(),
    );
    let mut warm = Browser::new(manager.clone());
    warm.request(|s| s.put("n", 1)).await.expect("warm-up");
    let mut b = Browser::new(manager);
    b.request(|s| s.put("n", 1)).await.expect("write");

    // The write marked the session active now: a read is one plain GET, no script.
    clock.advance(Duration::from_millis(400));
    server.reset_stats();
    let n = b.request(|s| s.get("n")).await.expect("read");
    assert_eq!(n, Some(json!(1)));
    assert_eq!(ran(&server), one("get", 1), "a read within a second");

    // A touch would change nothing: no command at all.
    server.reset_stats();
    b.untouched_request().await.expect("untouched");
    assert_eq!(ran(&server), BTreeMap::new(), "a touch within a second");

    // A modifying request: the plain read, then the conditional write (GETRANGE of the header
    // and one SET with the TTL inside the script).
    server.reset_stats();
    b.request(|s| s.increment("n")).await.expect("increment");
    let modifying = ran(&server);
    assert_eq!(modifying.get("evalsha"), Some(&1), "{modifying:?}");
    assert_eq!(modifying.get("get"), Some(&1), "{modifying:?}");
    assert_eq!(modifying.get("getrange"), Some(&1), "{modifying:?}");
    assert_eq!(modifying.get("set"), Some(&1), "{modifying:?}");
    assert_eq!(
        modifying.get("pexpire"),
        None,
        "the TTL is set with the value: {modifying:?}"
    );

    // More than a second after the last mark the script runs again and moves the mark.
    clock.advance(Duration::from_millis(1500));
    server.reset_stats();
    b.request(|s| s.get("n")).await.expect("read");
    let due = ran(&server);
    assert_eq!(due.get("evalsha"), Some(&1), "{due:?}");
    assert_eq!(due.get("setrange"), Some(&1), "the mark moved: {due:?}");
    server.reset_stats();
    b.request(|s| s.get("n")).await.expect("read");
    assert_eq!(ran(&server), one("get", 1), "right after the refresh");

    // Expiry is still checked on the plain path: a session past its idle age is no session,
    // even if this process saw it a moment ago (the clock jumped).
    b.request(|s| s.put("m", 1)).await.expect("write");
    clock.advance(Duration::from_secs(601));
    let gone = b
        .request(|s| Ok((s.is_fresh(), s.get("n")?)))
        .await
        .expect("read");
    assert_eq!(gone, (true, None));
}

/// Past its idle or absolute lifetime by the application's clock, a session still in Redis (its
/// TTL runs on Redis's clock) is treated as absent by every script: not read, not refreshed, not
/// written back, not deleted as if it were current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_lifetime_is_never_refreshed_written_or_deleted() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, prefix) = capped(&server, &clock);
    // One session past its absolute age (kept active), one only past its idle age.
    let mut old = Browser::new(manager.clone());
    old.request(|s| s.put("n", 1)).await.expect("write");
    let old_key = old.storage_key().await.expect("key");
    clock.advance(Duration::from_secs(300));
    let mut idle = Browser::new(manager.clone());
    idle.request(|s| s.put("n", 1)).await.expect("write");
    let keys = [idle.storage_key().await.expect("key"), old_key];
    clock.advance(Duration::from_secs(200));
    old.request(|s| s.get("n"))
        .await
        .expect("read moving the mark");
    // 950 s after the first was created (absolute age 900 s), 650 s after the second was last
    // active (idle age 600 s).
    clock.advance(Duration::from_secs(450));
    let driver = manager.driver();
    let cx = idle.context();
    for key in &keys {
        let redis_key = format!("{prefix}{{{}}}", key.as_str());
        let stored = server.cli(&["GET", &redis_key]);
        assert!(stored.starts_with("s1:"), "{stored}");
        let ttl = |server: &RedisServer| -> i64 {
            server.cli(&["PTTL", &redis_key]).parse().expect("a number")
        };
        let before = ttl(&server);
        let version: u64 = stored[3..23].parse().expect("the version");

        assert_eq!(driver.read(&cx, key).await.expect("read"), None);
        driver.touch(&cx, key, clock.now_ms()).await.expect("touch");
        let record = Record::new(Default::default(), clock.now_ms());
        assert_eq!(
            driver
                .write_if(&cx, key, &record, Expected::Version(version))
                .await
                .expect("write"),
            WriteOutcome::Gone
        );
        assert_eq!(
            driver.destroy_if(&cx, key, version).await.expect("delete"),
            WriteOutcome::Gone
        );
        assert_eq!(server.cli(&["GET", &redis_key]), stored, "left as it was");
        assert!(ttl(&server) <= before, "the TTL was not slid");
    }
}

/// A new session is written with `SET … NX PX`; when the key exists, the conditional write's
/// script decides, so the outcome is what the script alone would give: a session past its
/// lifetime by the application's clock (still in Redis) counts as absent and is replaced, a live
/// one or a value of another kind is a conflict and stays as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_is_created_without_a_script_unless_its_key_exists() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, prefix) = capped(&server, &clock);
    let driver = manager.driver();
    let mut b = Browser::new(manager.clone());
    let cx = b.context();
    let redis_key = |key: &StorageKey| format!("{prefix}{{{}}}", key.as_str());
    // Writes a record holding `n` under `key`, expecting no record there.
    let create = async |key: &StorageKey, n: i64| {
        let mut data = serde_json::Map::new();
        data.insert("n".to_owned(), json!(n));
        let mut record = Record::new(data, clock.now_ms());
        record.version = 1;
        driver
            .write_if(&cx, key, &record, Expected::Absent)
            .await
            .expect("write_if")
    };

    // Not there: one SET, and the value is stored with its TTL.
    let key = SessionId::generate().storage_key();
    server.reset_stats();
    assert_eq!(create(&key, 1).await, WriteOutcome::Written);
    assert_eq!(ran(&server), one("set", 1), "a create of a new key");
    let stored = server.cli(&["GET", &redis_key(&key)]);
    assert!(stored.starts_with("s1:"), "{stored}");
    let ttl: i64 = server
        .cli(&["PTTL", &redis_key(&key)])
        .parse()
        .expect("a number");
    assert!((590_000..=600_000).contains(&ttl), "TTL {ttl}");

    // Live: a conflict, and the stored value is left alone.
    server.reset_stats();
    assert_eq!(create(&key, 2).await, WriteOutcome::Conflict);
    let stats = ran(&server);
    assert_eq!(
        stats.get("evalsha"),
        Some(&1),
        "the script decided: {stats:?}"
    );
    assert_eq!(server.cli(&["GET", &redis_key(&key)]), stored);

    // Another kind of value: a conflict, untouched.
    let foreign = SessionId::generate().storage_key();
    server.cli(&["RPUSH", &redis_key(&foreign), "x"]);
    assert_eq!(create(&foreign, 3).await, WriteOutcome::Conflict);
    assert_eq!(server.cli(&["TYPE", &redis_key(&foreign)]), "list");

    // Past its idle age by the application's clock but still in Redis: replaced, as the
    // script alone would.
    clock.advance(Duration::from_secs(601));
    assert_eq!(driver.read(&cx, &key).await.expect("read"), None);
    assert_eq!(create(&key, 4).await, WriteOutcome::Written);
    let fresh = driver
        .read(&cx, &key)
        .await
        .expect("read")
        .expect("the new record");
    assert_eq!(fresh.data["n"], json!(4));
    b.request(|s| s.put("m", 1))
        .await
        .expect("the browser's session still works");
}
