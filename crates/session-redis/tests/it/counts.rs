//! Round trips per request, counted by the server (`INFO commandstats`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use session_core::{
    Clock, ManualClock, Record, SessionConfig, SessionId, SessionManager, StorageKey, WriteOutcome,
};
use session_testkit::redis_server::RedisServer;
use session_testkit::Browser;

use crate::common::{self, counted, one, ran, HARNESS};

/// Commands the driver's scripts run inside Redis; `INFO commandstats` counts them too, but they
/// are not round trips. The driver itself sends `GET`, `EVALSHA`, `EVAL`, `MGET` (a tag's
/// listing) and, for a new session, `SET … NX PX` (counted with [`ran`] where it matters).
const INSIDE_SCRIPTS: &[&str] = &[
    "getrange", "set", "setrange", "pexpire", "unlink", "zscore", "zadd", "zcard", "zrange", "zrem",
];

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

/// A record holding `{"n": n}` at `version`, created and active at `now`, expiring at
/// `expires_at`.
fn record(n: i64, version: u64, now: u64, expires_at: u64) -> Record {
    let mut data = serde_json::Map::new();
    data.insert("n".to_owned(), json!(n));
    Record {
        version,
        ..Record::new(data, now, expires_at)
    }
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
    warm.request(|s| s.increment("n"))
        .await
        .expect("warm-up update");
    // The refresh script runs only once a refresh is due: 20% of the 10-minute idle age.
    let due = || clock.advance(Duration::from_secs(130));
    due();
    warm.request(|s| s.get_value("n"))
        .await
        .expect("warm-up read");
    due();
    warm.untouched_request().await.expect("warm-up refresh");
    warm.request(|s| s.clear()).await.expect("warm-up logout");
    b.request(|s| s.put("n", 1)).await.expect("first request");

    let later = || clock.advance(Duration::from_secs(2));
    later();
    server.reset_stats();
    let n = b.request(|s| s.get("n")).await.expect("read-only request");
    assert_eq!(n, Some(json!(1)));
    assert_eq!(
        sent(&server),
        one("get", 1),
        "a read-only request before its refresh is due: the read alone"
    );

    due();
    server.reset_stats();
    let n = b.request(|s| s.get("n")).await.expect("read-only request");
    assert_eq!(n, Some(json!(1)));
    let read_only = ran(&server);
    println!("read-only request: {read_only:?}");
    assert_eq!(
        read_only,
        counted(&[
            ("get", 1),
            ("evalsha", 1),
            ("getrange", 1),
            ("setrange", 1),
            ("pexpire", 1),
        ]),
        "a read-only request once its refresh is due: the read, and the refresh rewriting the \
         header's times"
    );

    later();
    server.reset_stats();
    b.request(|s| s.increment("n"))
        .await
        .expect("modifying request");
    let modifying = ran(&server);
    println!("modifying request: {modifying:?}");
    assert_eq!(
        modifying,
        counted(&[("get", 1), ("evalsha", 1), ("getrange", 1), ("set", 1)]),
        "a modifying request: the read, and the conditional write (the TTL set with the value)"
    );

    later();
    server.reset_stats();
    b.untouched_request().await.expect("untouched request");
    assert_eq!(
        sent(&server),
        BTreeMap::new(),
        "an untouched request before its refresh is due: nothing"
    );
    due();
    server.reset_stats();
    b.untouched_request().await.expect("untouched request");
    let untouched = sent(&server);
    println!("untouched request: {untouched:?}");
    assert_eq!(
        untouched,
        counted(&[("evalsha", 1)]),
        "an untouched request once due: the refresh alone (no absolute lifetime, so no read)"
    );

    later();
    server.reset_stats();
    b.readonly_request(|s| s.get_value("n"))
        .await
        .expect("readonly request");
    assert_eq!(sent(&server), one("get", 1), "a readonly request");

    // Logging out: the read and one conditional delete.
    later();
    server.reset_stats();
    b.request(|s| s.clear()).await.expect("logout");
    assert_eq!(
        sent(&server),
        counted(&[("get", 1), ("evalsha", 1)]),
        "emptying a session"
    );

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

    // Logging in: the read, the new id's `SET … NX PX`, the old id's conditional delete.
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

    // The refreshes really slid the idle expiry: 3 × 0.6 idle ages later the session is alive.
    // (Each untouched request is due: 0.6 of the idle age passed since the last refresh.)
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
async fn with_an_absolute_age_an_untouched_request_reads_before_it_refreshes() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, _) = capped(&server, &clock);
    let mut b = Browser::new(manager);
    // Warm-up, not counted: the connection's handshake and each script's first `EVAL`.
    b.request(|s| s.put("n", 1)).await.expect("write");
    // A refresh is due once 20% of the idle age has passed.
    let due = || clock.advance(Duration::from_secs(130));
    due();
    b.untouched_request().await.expect("warm-up refresh");
    due();
    server.reset_stats();
    b.untouched_request().await.expect("untouched request");
    assert_eq!(
        sent(&server),
        counted(&[("get", 1), ("evalsha", 1)]),
        "the read gives the creation time that bounds the new expiry, then the refresh"
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
    b.request(|s| s.get_value("n")).await.expect("read");
    let capped = ttl(&server);
    assert!(
        (490_000..=500_000).contains(&capped),
        "TTL capped: {capped}"
    );
    assert_eq!(server.cli(&["TYPE", &redis_key]), "string");
}

/// A refresh rewrites the header's activity mark and expiry in place (the data is left as
/// written) and slides the TTL; a read takes the times from the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_rewrites_the_header_and_reads_take_its_times() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, prefix) = capped(&server, &clock);
    let store = common::store(&manager);
    let key = SessionId::generate().storage_key();
    let redis_key = format!("{prefix}{{{}}}", key.as_str());
    let start = clock.now_ms();
    let written = record(1, 3, start, start + 600_000);
    assert_eq!(
        store.write(&key, &written, None).await.expect("write"),
        WriteOutcome::Written
    );
    let before = server.cli(&["GET", &redis_key]);
    assert_eq!(
        before,
        format!(
            "s3{:012x}{start:012x}{:012x}{start:012x}",
            3,
            start + 600_000
        ) + &serde_json::to_string(&written.data).expect("JSON"),
        "each number once, in the header, then the data"
    );

    // Warm-up: the refresh script loaded (on a key that holds nothing).
    let other = SessionId::generate().storage_key();
    store
        .refresh(&other, start, start + 1_000)
        .await
        .expect("warm-up");

    clock.advance(Duration::from_secs(100));
    let now = clock.now_ms();
    server.reset_stats();
    store
        .refresh(&key, now, now + 300_000)
        .await
        .expect("refresh");
    assert_eq!(
        ran(&server),
        counted(&[
            ("evalsha", 1),
            ("getrange", 1),
            ("setrange", 1),
            ("pexpire", 1)
        ])
    );
    let after = server.cli(&["GET", &redis_key]);
    assert_eq!(
        after,
        format!("s3{:012x}{now:012x}{:012x}", 3, now + 300_000) + &before[38..],
        "only the header's times changed"
    );
    let ttl: i64 = server.cli(&["PTTL", &redis_key]).parse().expect("a number");
    assert!((290_000..=300_000).contains(&ttl), "TTL {ttl}");
    let read = store.read(&key).await.expect("read").expect("live");
    assert_eq!(
        read,
        Record {
            last_active: now,
            expires_at: now + 300_000,
            ..written.clone()
        }
    );

    // A refresh whose expiry has already come sends nothing and changes nothing.
    server.reset_stats();
    store.refresh(&key, now, now).await.expect("refresh");
    assert_eq!(ran(&server), BTreeMap::new());
    assert_eq!(server.cli(&["GET", &redis_key]), after);

    // Past the expiry by the application's clock, Redis still holds the key: the read checks
    // the header itself.
    clock.advance(Duration::from_secs(300));
    assert_eq!(store.read(&key).await.expect("read"), None);
    assert_eq!(server.cli(&["EXISTS", &redis_key]), "1");
}

/// Past its expiry by the application's clock, a session still in Redis (its TTL runs on Redis's
/// clock) is treated as absent by every call: not read, not refreshed, not written back, not
/// deleted as if it were current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_its_expiry_is_never_refreshed_written_or_deleted() {
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
    old.request(|s| s.get_value("n"))
        .await
        .expect("read refreshing the expiry");
    // 950 s after the first was created (absolute age 900 s), 650 s after the second was last
    // active (idle age 600 s).
    clock.advance(Duration::from_secs(450));
    let store = common::store(&manager);
    let now = clock.now_ms();
    for key in &keys {
        let redis_key = format!("{prefix}{{{}}}", key.as_str());
        let stored = server.cli(&["GET", &redis_key]);
        assert!(stored.starts_with("s3"), "{stored}");
        let ttl = |server: &RedisServer| -> i64 {
            server.cli(&["PTTL", &redis_key]).parse().expect("a number")
        };
        let before = ttl(&server);
        let version = u64::from_str_radix(&stored[2..14], 16).expect("the version");

        assert_eq!(store.read(key).await.expect("read"), None);
        store
            .refresh(key, now, now + 600_000)
            .await
            .expect("refresh");
        let next = record(2, version + 1, now, now + 600_000);
        assert_eq!(
            store.write(key, &next, Some(version)).await.expect("write"),
            WriteOutcome::Gone
        );
        assert_eq!(
            store.destroy(key, version).await.expect("delete"),
            WriteOutcome::Gone
        );
        assert_eq!(server.cli(&["GET", &redis_key]), stored, "left as it was");
        assert!(ttl(&server) <= before, "the TTL was not slid");
    }
}

/// A new session is written with `SET … NX PX`; when the key exists, the conditional write's
/// script decides, so the outcome is what the script alone would give: a session past its
/// expiry by the application's clock (still in Redis) counts as absent and is replaced, a live
/// one or a value of another kind is a conflict and stays as it is. A record written already
/// expired is not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_is_created_without_a_script_unless_its_key_exists() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let (manager, prefix) = capped(&server, &clock);
    let store = common::store(&manager);
    let redis_key = |key: &StorageKey| format!("{prefix}{{{}}}", key.as_str());
    // Writes a record holding `n` under `key`, expecting no record there.
    let create = async |key: &StorageKey, n: i64| {
        let now = clock.now_ms();
        store
            .write(key, &record(n, 1, now, now + 600_000), None)
            .await
            .expect("write")
    };

    // Not there: one SET, and the value is stored with its TTL.
    let key = SessionId::generate().storage_key();
    server.reset_stats();
    assert_eq!(create(&key, 1).await, WriteOutcome::Written);
    assert_eq!(ran(&server), one("set", 1), "a create of a new key");
    let stored = server.cli(&["GET", &redis_key(&key)]);
    assert!(stored.starts_with("s3"), "{stored}");
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

    // Past its expiry by the application's clock but still in Redis: replaced, as the script
    // alone would.
    clock.advance(Duration::from_secs(601));
    assert_eq!(store.read(&key).await.expect("read"), None);
    assert_eq!(create(&key, 4).await, WriteOutcome::Written);
    let fresh = store
        .read(&key)
        .await
        .expect("read")
        .expect("the new record");
    assert_eq!(fresh.data["n"], json!(4));

    // Already expired as given: nothing is stored (no SET, no PX of zero), and an expired
    // record left in Redis is removed.
    let now = clock.now_ms();
    let late = SessionId::generate().storage_key();
    server.reset_stats();
    assert_eq!(
        store
            .write(&late, &record(5, 1, now - 1_000, now), None)
            .await
            .expect("write"),
        WriteOutcome::Written
    );
    let stats = ran(&server);
    assert_eq!(stats.get("set"), None, "{stats:?}");
    assert_eq!(server.cli(&["EXISTS", &redis_key(&late)]), "0");
    assert_eq!(store.read(&late).await.expect("read"), None);
    assert_eq!(
        store
            .write(&key, &record(6, 2, now, now), Some(1))
            .await
            .expect("write"),
        WriteOutcome::Written,
        "a live record replaced by an expired one"
    );
    assert_eq!(server.cli(&["EXISTS", &redis_key(&key)]), "0");
}

/// One request's commands, as [`ran`] counts them (those inside scripts included).
type Ran = BTreeMap<String, u64>;

/// Runs the same requests on an untagged or a tagged session and counts each: a new session,
/// reads, an update, an untouched request, a readonly one, a login (regenerate, and tag), a
/// logout; for the tagged one also tagging without a new id, and a listing.
async fn request_costs(
    server: &RedisServer,
    manager: &SessionManager,
    clock: &ManualClock,
    tagged: bool,
) -> Vec<(&'static str, Ran)> {
    let tag = |s: &session_core::Session| if tagged { s.tag("ada") } else { Ok(()) };
    let due = || clock.advance(Duration::from_secs(130));
    let later = || clock.advance(Duration::from_secs(2));
    let mut costs = Vec::new();
    let mut measure = |what: &'static str| {
        costs.push((what, ran(server)));
    };

    let mut b = Browser::new(manager.clone());
    server.reset_stats();
    b.request(|s| {
        s.put("n", 1)?;
        tag(s)
    })
    .await
    .expect("new session");
    measure("new session");
    later();
    server.reset_stats();
    b.request(|s| s.get_value("n")).await.expect("read");
    measure("read, no refresh due");
    due();
    server.reset_stats();
    b.request(|s| s.get_value("n")).await.expect("read");
    measure("read, refresh due");
    later();
    server.reset_stats();
    b.request(|s| s.increment("n")).await.expect("update");
    measure("update");
    due();
    server.reset_stats();
    b.untouched_request().await.expect("untouched");
    measure("untouched, refresh due");
    later();
    server.reset_stats();
    b.readonly_request(|s| s.get_value("n"))
        .await
        .expect("readonly");
    measure("readonly");

    let mut visitor = Browser::new(manager.clone());
    visitor
        .request(|s| s.put("n", 1))
        .await
        .expect("an anonymous session");
    later();
    server.reset_stats();
    visitor
        .request(|s| {
            s.regenerate()?;
            tag(s)
        })
        .await
        .expect("login");
    measure("login (regenerate, and tag)");

    later();
    server.reset_stats();
    b.request(|s| s.clear()).await.expect("logout");
    measure("logout");

    if tagged {
        let mut other = Browser::new(manager.clone());
        other
            .request(|s| s.put("n", 1))
            .await
            .expect("an anonymous session");
        later();
        server.reset_stats();
        other.request(tag).await.expect("tag");
        measure("tag without a new id");
        later();
        server.reset_stats();
        let listed = manager.tagged_sessions("ada").await.expect("listing");
        assert_eq!(listed.len(), 2);
        measure("list 2 sessions");
        other.request(|s| s.untag()).await.expect("untag");
        server.reset_stats();
        let listed = manager.tagged_sessions("ada").await.expect("listing");
        assert_eq!(listed.len(), 1);
        measure("list 1 session, removing 1 stale entry");
    }
    costs
}

/// A tagged session costs what an untagged one does on every request but those that store a
/// new session (one `EVALSHA` more: the index update before the record) and the one that
/// tags an existing session without a new id (two more). Printed for the release notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tagged_session_costs_an_index_update_on_new_sessions_only() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let manager = common::manager(
        common::standalone(server.url()),
        SessionConfig::new().with_age(Duration::from_secs(600)),
        clock.clone(),
    );
    // Warm-up, not counted: the connection's handshake and each script's first `EVAL`, the
    // cleanup's script included (an untagged session leaves its entry stale).
    for tagged in [false, true] {
        request_costs(&server, &manager, &clock, tagged).await;
    }
    // Every session of "ada" ends; the listing removes them from the index, so that the one
    // counted below has nothing stale to remove.
    clock.advance(Duration::from_secs(3600));
    assert!(manager
        .tagged_sessions("ada")
        .await
        .expect("listing")
        .is_empty());

    let untagged = request_costs(&server, &manager, &clock, false).await;
    let tagged = request_costs(&server, &manager, &clock, true).await;
    for (what, cost) in untagged.iter().chain(&tagged) {
        println!("{what}: {cost:?}");
    }
    let untagged: BTreeMap<&str, Ran> = untagged.into_iter().collect();
    let tagged: BTreeMap<&str, Ran> = tagged.into_iter().collect();

    let index_update = [("evalsha", 1), ("zscore", 1), ("zadd", 1), ("zcard", 1)];
    let with = |base: &Ran, more: &[(&str, u64)]| -> Ran {
        let mut out = base.clone();
        for &(name, n) in more {
            *out.entry(name.to_owned()).or_default() += n;
        }
        out
    };
    let expected_untagged = [
        ("new session", counted(&[("set", 1)])),
        ("read, no refresh due", one("get", 1)),
        (
            "read, refresh due",
            counted(&[
                ("get", 1),
                ("evalsha", 1),
                ("getrange", 1),
                ("setrange", 1),
                ("pexpire", 1),
            ]),
        ),
        (
            "update",
            counted(&[("get", 1), ("evalsha", 1), ("getrange", 1), ("set", 1)]),
        ),
        (
            "untouched, refresh due",
            counted(&[
                ("evalsha", 1),
                ("getrange", 1),
                ("setrange", 1),
                ("pexpire", 1),
            ]),
        ),
        ("readonly", one("get", 1)),
        (
            "login (regenerate, and tag)",
            counted(&[
                ("get", 1),
                ("set", 1),
                ("evalsha", 1),
                ("getrange", 1),
                ("unlink", 1),
            ]),
        ),
        (
            "logout",
            counted(&[("get", 1), ("evalsha", 1), ("getrange", 1), ("unlink", 1)]),
        ),
    ];
    for (what, expected) in &expected_untagged {
        assert_eq!(&untagged[what], expected, "untagged: {what}");
        let extra: &[(&str, u64)] = match *what {
            "new session" | "login (regenerate, and tag)" => &index_update,
            _ => &[],
        };
        assert_eq!(tagged[what], with(expected, extra), "tagged: {what}");
    }
    // Tagging a session that keeps its id: the write's script finds the record untagged and
    // writes nothing, the index is updated, then the plain conditional write.
    assert_eq!(
        tagged["tag without a new id"],
        with(
            &untagged["update"],
            &[
                ("evalsha", 2),
                ("getrange", 1),
                ("zscore", 1),
                ("zadd", 1),
                ("zcard", 1)
            ]
        )
    );
    // A listing: the index, the records in one `MGET`; nothing stale to remove here (the
    // logged-out session's entry stays 5 minutes: a new session's write could be in flight).
    assert_eq!(
        tagged["list 2 sessions"],
        counted(&[("evalsha", 1), ("zrange", 1), ("mget", 1)])
    );
    // With a stale entry (a session untagged since): the cleanup's script after.
    assert_eq!(
        tagged["list 1 session, removing 1 stale entry"],
        counted(&[
            ("evalsha", 2),
            ("zrange", 1),
            ("mget", 1),
            ("zscore", 1),
            ("zrem", 1)
        ])
    );
}
