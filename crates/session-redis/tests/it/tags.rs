//! Tags (sessions per user): the index kept per tag, what a listing returns and removes, the
//! bound on an index nobody lists, and Redis Cluster, where the index and the sessions are in
//! different slots.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use session_core::{
    Clock, ManualClock, Record, SessionConfig, SessionId, SessionManager, StorageKey, WriteOutcome,
    TAG_KEY,
};
use session_redis::RedisDriver;
use session_testkit::redis_server::{RedisCluster, RedisServer};
use session_testkit::Browser;

use crate::common;

/// A new session's index entry stays this long after its key went (its write may be in
/// flight), plus a second.
const PENDING: Duration = Duration::from_secs(5 * 60 + 1);

/// The key prefix of a `redis` section.
fn prefix_of(section: &Value) -> String {
    section["prefix"].as_str().expect("a prefix").to_owned()
}

/// The index key of `tag` under `prefix`, as the driver names it (building a driver opens no
/// connection).
fn index_key(prefix: &str, tag: &str) -> String {
    RedisDriver::builder()
        .with_prefix(prefix)
        .build()
        .expect("valid configuration")
        .tag_key(tag)
}

/// A session's Redis key.
fn session_key(prefix: &str, key: &StorageKey) -> String {
    format!("{prefix}{{{}}}", key.as_str())
}

/// The members of a sorted set, as `redis-cli` answers `ZRANGE` (`-c` first for a cluster).
fn members(cli: impl Fn(&[&str]) -> String, index: &str) -> BTreeSet<String> {
    cli(&["ZRANGE", index, "0", "-1"])
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn names(keys: &[&StorageKey]) -> BTreeSet<String> {
    keys.iter().map(|k| k.as_str().to_owned()).collect()
}

/// The handles `manager` lists for `tag`.
async fn listed(manager: &SessionManager, tag: &str) -> BTreeSet<String> {
    manager
        .tagged_sessions(tag)
        .await
        .expect("listing")
        .into_iter()
        .map(|s| s.handle.as_str().to_owned())
        .collect()
}

/// A login: an anonymous request storing `agent`, then one that regenerates and tags. The
/// storage keys after and before.
async fn log_in(b: &mut Browser, tag: &str, agent: &str) -> (StorageKey, StorageKey) {
    let before = b
        .request(|s| {
            s.put("agent", agent)?;
            Ok(s.handle())
        })
        .await
        .expect("anonymous request");
    let after = b
        .request(|s| {
            s.regenerate()?;
            s.tag(tag)?;
            Ok(s.handle())
        })
        .await
        .expect("login");
    (after, before)
}

/// A manager with a ten-minute idle age.
fn manager(section: Value, clock: &ManualClock) -> SessionManager {
    common::manager(
        section,
        SessionConfig::new().with_age(Duration::from_secs(600)),
        clock.clone(),
    )
}

/// A record tagged `tag` (or untagged) at `version`, created and active at `now`, living an
/// hour.
fn record(tag: Option<&str>, version: u64, now: u64) -> Record {
    let mut record = Record::new(Default::default(), now, now + 3_600_000);
    record.version = version;
    record.data.insert("n".into(), json!(version));
    if let Some(tag) = tag {
        record
            .data
            .insert(TAG_KEY.into(), json!({ "value": tag, "at": now }));
    }
    record
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_sessions_of_a_tag_are_listed_and_indexed_under_a_digest() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let ada = "ada@example.com";
    let bob = "bob {the builder}\nof ünïcode";

    let (phone, phone_before) = log_in(&mut Browser::new(manager.clone()), ada, "phone").await;
    let (laptop, _) = log_in(&mut Browser::new(manager.clone()), ada, "laptop").await;
    let (bobs, _) = log_in(&mut Browser::new(manager.clone()), bob, "bob").await;
    let mut anonymous = Browser::new(manager.clone());
    anonymous
        .request(|s| s.put("cart", 3))
        .await
        .expect("an untagged session");

    assert_eq!(listed(&manager, ada).await, names(&[&phone, &laptop]));
    assert_eq!(listed(&manager, bob).await, names(&[&bobs]));
    assert!(listed(&manager, "carol").await.is_empty());
    let sessions = manager.tagged_sessions(ada).await.expect("listing");
    let phone_session = sessions
        .iter()
        .find(|s| s.handle == phone)
        .expect("the phone");
    assert_eq!(
        phone_session.get::<String>("agent").as_deref(),
        Some("phone")
    );

    // One sorted set per tag, holding the storage keys of its sessions, and nothing else: the
    // key before the login was never tagged, the untagged session is in no index.
    let cli = |args: &[&str]| server.cli(args);
    let ada_index = index_key(&prefix, ada);
    let bob_index = index_key(&prefix, bob);
    assert_eq!(members(cli, &ada_index), names(&[&phone, &laptop]));
    assert_eq!(members(cli, &bob_index), names(&[&bobs]));
    assert!(!members(cli, &ada_index).contains(phone_before.as_str()));
    assert_eq!(server.cli(&["TYPE", &ada_index]), "zset");
    assert_eq!(
        server.cli(&["TTL", &ada_index]),
        "-1",
        "no TTL: a refresh can keep a session alive past any"
    );

    // Key names: the sessions' and the two indexes', no tag in any of them.
    let keys: BTreeSet<String> = server
        .cli(&["KEYS", &format!("{prefix}*")])
        .lines()
        .map(str::to_owned)
        .collect();
    let indexes: BTreeSet<String> = keys
        .iter()
        .filter(|k| k.starts_with(&format!("{prefix}tag:")))
        .cloned()
        .collect();
    assert_eq!(indexes, [ada_index.clone(), bob_index.clone()].into());
    for key in &keys {
        for raw in ["ada", "example", "bob", "builder", "ünïcode"] {
            assert!(!key.contains(raw), "{key} shows the tag");
        }
    }
    for index in [&ada_index, &bob_index] {
        let digest = &index[prefix.len() + "tag:".len()..];
        assert_eq!(digest.len(), 43, "{index}");
        assert!(digest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
    assert_eq!(keys.len(), 2 + 4, "two indexes and four sessions: {keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_are_not_listed_and_leave_the_index() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let tag = "ada";
    let index = index_key(&prefix, tag);
    let cli = |args: &[&str]| server.cli(args);

    // One session that will expire: created 500 s before the others (idle age 600 s).
    let mut expiring = Browser::new(manager.clone());
    let (expired, _) = log_in(&mut expiring, tag, "expiring").await;
    clock.advance(Duration::from_secs(500));
    let mut devices = Vec::new();
    for agent in ["logged out", "untagged", "retagged", "destroyed", "kept"] {
        let mut b = Browser::new(manager.clone());
        let (key, _) = log_in(&mut b, tag, agent).await;
        devices.push((b, key));
    }
    let all: Vec<&StorageKey> = std::iter::once(&expired)
        .chain(devices.iter().map(|(_, k)| k))
        .collect();
    assert_eq!(listed(&manager, tag).await, names(&all));

    let [(logged_out, logged_out_key), (untagged, untagged_key), (retagged, retagged_key), (_, destroyed_key), (kept, kept_key)] =
        &mut devices[..]
    else {
        unreachable!("five devices");
    };
    logged_out.request(|s| s.flush()).await.expect("logout");
    untagged.request(|s| s.untag()).await.expect("untag");
    retagged
        .request(|s| s.tag("ada-elsewhere"))
        .await
        .expect("retag");
    assert!(manager
        .destroy_tagged_session(tag, destroyed_key)
        .await
        .expect("destroy"));
    clock.advance(Duration::from_secs(200));
    kept.request(|s| s.increment("views"))
        .await
        .expect("a request of the kept session");
    // The first session's idle age has passed by the application's clock; Redis, whose clock
    // did not move, drops the key at its TTL: done here by hand.
    let expired_key = session_key(&prefix, &expired);
    assert_eq!(server.cli(&["EXISTS", &expired_key]), "1");
    server.cli(&["PEXPIRE", &expired_key, "1"]);
    std::thread::sleep(Duration::from_millis(20));

    for attempt in ["first", "second"] {
        assert_eq!(
            listed(&manager, tag).await,
            names(&[kept_key]),
            "{attempt} listing"
        );
    }
    assert_eq!(
        listed(&manager, "ada-elsewhere").await,
        names(&[retagged_key])
    );
    // Gone from the index: the untagged and the retagged records (stored with another tag, at
    // a version past their entry's), and the expired one (no key, written more than 5 minutes
    // ago). The logged-out and the destroyed ones were new sessions 200 s ago: their entries
    // stay until 5 minutes have passed, as their writes could still be on their way.
    assert_eq!(
        members(cli, &index),
        names(&[kept_key, logged_out_key, destroyed_key])
    );
    assert!(!members(cli, &index).contains(untagged_key.as_str()));
    clock.advance(PENDING);
    kept.request(|s| s.increment("views"))
        .await
        .expect("a request of the kept session");
    assert_eq!(listed(&manager, tag).await, names(&[kept_key]));
    assert_eq!(members(cli, &index), names(&[kept_key]));

    // The last one ends: the index empties and Redis removes it.
    kept.request(|s| s.flush()).await.expect("logout");
    clock.advance(PENDING);
    assert!(listed(&manager, tag).await.is_empty());
    assert_eq!(server.cli(&["EXISTS", &index]), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_listed_under_its_new_key_only() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let index = index_key(&prefix, "ada");
    let cli = |args: &[&str]| server.cli(args);

    let mut b = Browser::new(manager.clone());
    let (first, before) = log_in(&mut b, "ada", "phone").await;
    assert_ne!(first, before);
    assert_eq!(listed(&manager, "ada").await, names(&[&first]));
    assert_eq!(members(cli, &index), names(&[&first]));
    assert_eq!(server.cli(&["EXISTS", &session_key(&prefix, &before)]), "0");
    // A new session's entry: minus the time it was written.
    let score: i64 = server
        .cli(&["ZSCORE", &index, first.as_str()])
        .parse()
        .expect("a score");
    assert_eq!(score, -i64::try_from(clock.now_ms()).expect("a time"));
    assert_eq!(
        b.request(|s| s.get::<String>("agent")).await.expect("read"),
        Some("phone".to_owned())
    );

    // Logging in again (a new id, the same tag): listed under the newest key alone.
    let second = b
        .request(|s| {
            s.regenerate()?;
            s.tag("ada")?;
            Ok(s.handle())
        })
        .await
        .expect("second login");
    assert_ne!(second, first);
    assert_eq!(listed(&manager, "ada").await, names(&[&second]));
    assert_eq!(b.storage_key().await.expect("key"), second);
    clock.advance(PENDING);
    b.request(|s| s.put("n", 1)).await.expect("a write");
    assert_eq!(listed(&manager, "ada").await, names(&[&second]));
    assert_eq!(members(cli, &index), names(&[&second]));
}

/// The rules by which a listing keeps an index entry whose write may still be on its way,
/// with the writes' index updates done by hand at the moment they would be made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_whose_write_may_be_in_flight_is_kept() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let store = common::store(&manager);
    let index = index_key(&prefix, "ada");
    let cli = |args: &[&str]| server.cli(args);
    let now = clock.now_ms();

    // An untagged record at version 1 that a request is tagging: its index update (version 2)
    // is made, its write is not yet. A listing in between keeps the entry.
    let tagging = SessionId::generate().storage_key();
    let untagged = record(None, 1, now);
    assert_eq!(
        store.write(&tagging, &untagged, None).await.expect("write"),
        WriteOutcome::Written
    );
    server.cli(&["ZADD", &index, "2", tagging.as_str()]);
    assert!(listed(&manager, "ada").await.is_empty());
    assert_eq!(members(cli, &index), names(&[&tagging]));
    assert_eq!(
        store
            .write(&tagging, &record(Some("ada"), 2, now), Some(1))
            .await
            .expect("write"),
        WriteOutcome::Written
    );
    assert_eq!(listed(&manager, "ada").await, names(&[&tagging]));

    // The same record with an entry at its own version: stale (the write that made it is done).
    let stale = SessionId::generate().storage_key();
    store.write(&stale, &untagged, None).await.expect("write");
    server.cli(&["ZADD", &index, "1", stale.as_str()]);
    assert!(members(cli, &index).contains(stale.as_str()));
    listed(&manager, "ada").await;
    assert!(!members(cli, &index).contains(stale.as_str()));

    // A new session indexed, its record not written yet: kept while young.
    let creating = SessionId::generate().storage_key();
    let written_at = -i64::try_from(now).expect("a time");
    server.cli(&["ZADD", &index, &written_at.to_string(), creating.as_str()]);
    clock.advance(Duration::from_secs(60));
    listed(&manager, "ada").await;
    assert!(members(cli, &index).contains(creating.as_str()));
    // The write arrives: listed.
    let created = record(Some("ada"), 1, clock.now_ms());
    assert_eq!(
        store.write(&creating, &created, None).await.expect("write"),
        WriteOutcome::Written
    );
    assert_eq!(listed(&manager, "ada").await, names(&[&tagging, &creating]));

    // One that never arrives goes once 5 minutes old.
    let abandoned = SessionId::generate().storage_key();
    let written_at = -i64::try_from(clock.now_ms()).expect("a time");
    server.cli(&["ZADD", &index, &written_at.to_string(), abandoned.as_str()]);
    clock.advance(Duration::from_secs(299));
    listed(&manager, "ada").await;
    assert!(members(cli, &index).contains(abandoned.as_str()));
    clock.advance(Duration::from_secs(2));
    listed(&manager, "ada").await;
    assert!(!members(cli, &index).contains(abandoned.as_str()));

    // A member that is no storage key, or whose key holds another application's value.
    server.cli(&["ZADD", &index, "1", "not-a-storage-key"]);
    let foreign = SessionId::generate().storage_key();
    server.cli(&["SET", &session_key(&prefix, &foreign), "someone else's"]);
    server.cli(&["ZADD", &index, "1", foreign.as_str()]);
    listed(&manager, "ada").await;
    assert!(!members(cli, &index).contains("not-a-storage-key"));
    assert!(members(cli, &index).contains(foreign.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_of_a_tag_with_many_entries_removes_the_stale_ones() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let store = common::store(&manager);
    let index = index_key(&prefix, "ada");
    let card = || -> usize { server.cli(&["ZCARD", &index]).parse().expect("a count") };

    // Sessions of the tag created and ended, and never listed.
    let create_and_end = |n: usize| {
        let store = store.clone();
        let clock = clock.clone();
        async move {
            for _ in 0..n {
                let key = SessionId::generate().storage_key();
                let record = record(Some("ada"), 1, clock.now_ms());
                assert_eq!(
                    store.write(&key, &record, None).await.expect("write"),
                    WriteOutcome::Written
                );
                assert_eq!(
                    store.destroy(&key, 1).await.expect("destroy"),
                    WriteOutcome::Written
                );
            }
        }
    };
    let create = || async {
        let key = SessionId::generate().storage_key();
        let record = record(Some("ada"), 1, clock.now_ms());
        assert_eq!(
            store.write(&key, &record, None).await.expect("write"),
            WriteOutcome::Written
        );
        key
    };
    create_and_end(40).await;
    assert_eq!(
        card(),
        40,
        "entries of sessions ended less than 5 minutes ago stay"
    );
    // Above 32 entries a new session checks them, but these ended less than 5 minutes ago.
    let first = create().await;
    assert_eq!(card(), 41);
    clock.advance(PENDING + Duration::from_secs(1));
    let second = create().await;
    assert_eq!(
        members(|args| server.cli(args), &index),
        names(&[&first, &second]),
        "the 40 ended sessions were removed by the new session's write alone"
    );

    // More entries than one check reads (64): each new session checks a window of them.
    create_and_end(150).await;
    clock.advance(PENDING + Duration::from_secs(1));
    assert_eq!(card(), 152);
    let mut live = vec![first, second];
    live.push(create().await);
    assert!(card() <= 153 - 61, "{} entries after one check", card());
    // Each new session checks a window at a random rank while the index holds more than 32;
    // once it holds at most 64, a check reads every entry. How many new sessions that takes
    // depends on where the windows fall, and while the index holds 32 or fewer no check runs:
    // a new session then only adds one. So the bound is on the new sessions, not the checks.
    let mut created = 1;
    while card() > live.len() {
        live.push(create().await);
        created += 1;
        assert!(
            created <= 64,
            "{} entries after {created} new sessions",
            card()
        );
    }
    assert_eq!(
        members(|args| server.cli(args), &index),
        names(&live.iter().collect::<Vec<_>>())
    );
    assert_eq!(listed(&manager, "ada").await.len(), live.len());
}

/// With the local cache on, the listing still reads the records from Redis: a session
/// destroyed or untagged by another instance is never listed from a copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_reads_redis_and_not_the_local_cache() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let mut section = common::standalone(server.url());
    section["local_cache"] = json!(1000);
    let cached = manager(section.clone(), &clock);
    section["local_cache"] = json!(0);
    let elsewhere = manager(section, &clock);

    let mut phone = Browser::new(cached.clone());
    let (phone_key, _) = log_in(&mut phone, "ada", "phone").await;
    let mut laptop = Browser::new(cached.clone());
    let (laptop_key, _) = log_in(&mut laptop, "ada", "laptop").await;
    // Both read on the cached instance: copies held.
    for b in [&mut phone, &mut laptop] {
        b.request(|s| s.get::<String>("agent")).await.expect("read");
    }
    assert_eq!(
        listed(&cached, "ada").await,
        names(&[&phone_key, &laptop_key])
    );

    assert!(elsewhere
        .destroy_tagged_session("ada", &phone_key)
        .await
        .expect("destroy"));
    let mut laptop_elsewhere = Browser::new(elsewhere.clone());
    for (name, value) in laptop.cookies() {
        laptop_elsewhere.set_cookie(name, value);
    }
    laptop_elsewhere
        .request(|s| s.untag())
        .await
        .expect("untag elsewhere");
    server.reset_stats();
    assert!(listed(&cached, "ada").await.is_empty());
    let stats = common::ran(&server);
    assert_eq!(stats.get("mget"), Some(&1), "read from Redis: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_the_index_and_its_sessions_are_in_different_slots() {
    let cluster = RedisCluster::start();
    let clock = ManualClock::starting_now();
    let section = common::cluster(&cluster.urls());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let node = &cluster.nodes()[0];
    let cli = |args: &[&str]| {
        let mut with_c = vec!["-c"];
        with_c.extend_from_slice(args);
        node.cli(&with_c)
    };
    let slot = |key: &str| -> u64 {
        node.cli(&["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("a slot")
    };
    let tag = "ada@example.com";
    let index = index_key(&prefix, tag);

    let mut devices = Vec::new();
    for agent in 0..12 {
        let mut b = Browser::new(manager.clone());
        let (key, _) = log_in(&mut b, tag, &format!("device {agent}")).await;
        devices.push((b, key));
    }
    let keys: Vec<&StorageKey> = devices.iter().map(|(_, k)| k).collect();
    assert_eq!(listed(&manager, tag).await, names(&keys));
    assert_eq!(members(cli, &index), names(&keys));
    // The listing's `MGET` is split by slot: one command per session's slot, sent at once.
    for node in cluster.nodes() {
        node.reset_stats();
    }
    assert_eq!(listed(&manager, tag).await.len(), keys.len());
    let mut listing = std::collections::BTreeMap::new();
    for node in cluster.nodes() {
        for (name, calls) in common::ran(node) {
            *listing.entry(name).or_insert(0) += calls;
        }
    }
    println!(
        "a listing of {} sessions on a cluster: {listing:?}",
        keys.len()
    );
    assert_eq!(listing.get("evalsha"), Some(&1), "{listing:?}");
    let mgets = listing.get("mget").copied().unwrap_or(0);
    assert!((1..=keys.len() as u64).contains(&mgets), "{listing:?}");
    let index_slot = slot(&index);
    let session_slots: BTreeSet<u64> = keys
        .iter()
        .map(|k| slot(&session_key(&prefix, k)))
        .collect();
    assert!(!session_slots.contains(&index_slot));
    // The sessions are spread over the masters, the index is on one of them.
    let holding = cluster
        .nodes()
        .iter()
        .filter(|n| n.cli(&["DBSIZE"]) != "0")
        .count();
    assert!(holding >= 2, "only {holding} of 3 masters hold keys");

    // Updates, an untag, a logout and a destroy by handle, across nodes. An update that keeps
    // the tag does not touch the index, on whichever node.
    devices[0]
        .0
        .request(|s| s.increment("views"))
        .await
        .expect("warm-up update");
    for node in cluster.nodes() {
        node.reset_stats();
    }
    devices[0]
        .0
        .request(|s| s.increment("views"))
        .await
        .expect("update");
    let mut update = std::collections::BTreeMap::new();
    for node in cluster.nodes() {
        for (name, calls) in common::ran(node) {
            *update.entry(name).or_insert(0) += calls;
        }
    }
    assert_eq!(
        update,
        common::counted(&[("get", 1), ("evalsha", 1), ("getrange", 1), ("set", 1)]),
        "a tagged update on a cluster"
    );
    devices[1].0.request(|s| s.untag()).await.expect("untag");
    devices[2].0.request(|s| s.flush()).await.expect("logout");
    let destroyed = devices[3].1.clone();
    assert!(manager
        .destroy_tagged_session(tag, &destroyed)
        .await
        .expect("destroy"));
    let left: Vec<StorageKey> = devices[..]
        .iter()
        .enumerate()
        .filter(|(i, _)| !(1..=3).contains(i))
        .map(|(_, (_, key))| key.clone())
        .collect();
    let left_keys: Vec<&StorageKey> = left.iter().collect();
    assert_eq!(listed(&manager, tag).await, names(&left_keys));
    clock.advance(PENDING);
    for (b, key) in devices.iter_mut() {
        if left.contains(key) {
            b.request(|s| s.put("seen", true)).await.expect("a request");
        }
    }
    assert_eq!(listed(&manager, tag).await, names(&left_keys));
    assert_eq!(
        members(cli, &index),
        names(&left_keys),
        "the ended ones were removed"
    );

    // Log out everywhere.
    assert_eq!(
        manager
            .destroy_tagged_sessions(tag, None)
            .await
            .expect("log out everywhere"),
        Some(left.len())
    );
    assert!(listed(&manager, tag).await.is_empty());
    for (b, key) in devices.iter_mut() {
        if left.contains(key) {
            let fresh = b.request(|s| Ok(s.is_fresh())).await.expect("a request");
            assert!(fresh, "logged out");
        }
    }
}

/// An index key holding something else (another application's value under the prefix) fails
/// the tagged write before anything is stored, and the listing: never a session stored without
/// its index entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_key_of_another_type_fails_the_write_before_the_record() {
    let server = RedisServer::start();
    let clock = ManualClock::starting_now();
    let section = common::standalone(server.url());
    let prefix = prefix_of(&section);
    let manager = manager(section, &clock);
    let store = common::store(&manager);
    let index = index_key(&prefix, "ada");
    server.cli(&["SET", &index, "someone else's"]);

    let key = SessionId::generate().storage_key();
    let tagged = record(Some("ada"), 1, clock.now_ms());
    assert!(store.write(&key, &tagged, None).await.is_err());
    assert_eq!(server.cli(&["EXISTS", &session_key(&prefix, &key)]), "0");
    // An untagged session gives itself the tag: refused too, and left as it was.
    let untagged = record(None, 1, clock.now_ms());
    assert_eq!(
        store.write(&key, &untagged, None).await.expect("write"),
        WriteOutcome::Written
    );
    assert!(store
        .write(&key, &record(Some("ada"), 2, clock.now_ms()), Some(1))
        .await
        .is_err());
    let stored = store.read(&key).await.expect("read").expect("a record");
    assert_eq!((stored.version, stored.tag()), (1, None));
    assert!(manager.tagged_sessions("ada").await.is_err());
    assert_eq!(server.cli(&["GET", &index]), "someone else's");
}
