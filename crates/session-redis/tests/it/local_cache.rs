//! The local cache (`local_cache`): reads answered in-process, kept current by Redis's change
//! messages, never hiding a change made elsewhere, a lost update or an outage.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use session_core::{ErrorKind, ManualClock, Refresh, SessionConfig, SessionManager};
use session_testkit::redis_server::RedisServer;
use session_testkit::Browser;

use crate::common::{self, counted, ran};

fn cached(url: &str) -> Value {
    let mut section = common::standalone(url);
    section["local_cache"] = json!(1000);
    section
}

/// `refresh = always`, so that every request shows its refresh: these tests follow the copies'
/// times through the refreshes. (With the default, a read before its refresh is due costs no
/// command at all: see `a_read_before_its_refresh_is_due_costs_no_command`.)
fn manager(section: Value, clock: &ManualClock) -> SessionManager {
    common::manager(
        section,
        SessionConfig::new()
            .with_age(Duration::from_secs(600))
            .with_refresh(Refresh::Always),
        clock.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_before_its_refresh_is_due_costs_no_command() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let manager = common::manager(
        cached(server.url()),
        SessionConfig::new().with_age(Duration::from_secs(600)),
        clock.clone(),
    );
    let mut warm = Browser::new(manager.clone());
    warm.request(|s| s.put("n", 1)).await.expect("warm-up");
    clock.advance(Duration::from_secs(130));
    warm.request(|s| s.get_value("n")).await.expect("warm-up");
    let mut b = Browser::new(manager);
    b.request(|s| s.put("n", 1)).await.expect("write");
    clock.advance(Duration::from_millis(400));
    server.reset_stats();
    for _ in 0..3 {
        assert_eq!(
            b.request(|s| s.get("n")).await.expect("read"),
            Some(json!(1))
        );
    }
    assert_eq!(
        ran(&server),
        BTreeMap::new(),
        "reads answered locally, no refresh due"
    );
    // Once 20% of the idle age has passed: the refresh.
    clock.advance(Duration::from_secs(130));
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );
    assert_eq!(ran(&server), refreshes(1), "the refresh once due");
}

/// A browser on `manager` holding the same cookies as `other`: the same visitor reaching
/// another instance of the application.
fn same_visitor(manager: SessionManager, other: &Browser) -> Browser {
    let mut b = Browser::new(manager);
    for (name, value) in other.cookies() {
        b.set_cookie(name, value);
    }
    b
}

/// Increments `n` through `elsewhere`, whatever that answers (see the caller), then reads `n`
/// through `here` until it is `want`, which the last read must show.
async fn an_increment_elsewhere_is_seen(
    here: &mut Browser,
    elsewhere: &mut Browser,
    want: i64,
    after: &str,
) {
    elsewhere
        .request(|s| s.increment("n"))
        .await
        .expect("increment elsewhere");
    let seen = read_until(here, Some(json!(want))).await;
    assert_eq!(
        seen.last(),
        Some(&Some(json!(want))),
        "after {after}: {seen:?}"
    );
}

/// Reads `n` through `b` until it equals `want`, for at most two seconds (Redis's message
/// travels asynchronously); the reads seen on the way.
async fn read_until(b: &mut Browser, want: Option<Value>) -> Vec<Option<Value>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut seen = Vec::new();
    loop {
        let n = b.request(|s| s.get("n")).await.expect("read");
        seen.push(n.clone());
        if n == want || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What one refresh with the cache on costs Redis, `times` over: the script reads the header,
/// rewrites its times, slides the TTL and reads the key once more (so that Redis goes on
/// reporting changes to it).
fn refreshes(times: u64) -> BTreeMap<String, u64> {
    counted(&[
        ("evalsha", times),
        ("getrange", times),
        ("setrange", times),
        ("pexpire", times),
        ("strlen", times),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_answered_locally_and_a_request_costs_one_command() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let manager = manager(cached(server.url()), &clock);
    assert_eq!(
        manager.driver().name(),
        "redis",
        "the cache is a setting of the redis driver"
    );
    // Warm-up: the connection, and the scripts loaded.
    let mut warm = Browser::new(manager.clone());
    warm.request(|s| s.put("n", 1)).await.expect("warm-up");
    warm.request(|s| s.increment("n")).await.expect("warm-up");
    warm.request(|s| s.get_value("n")).await.expect("warm-up");

    let mut b = Browser::new(manager.clone());
    b.request(|s| s.put("n", 1)).await.expect("write");
    let key = b.storage_key().await.expect("key");
    let store = common::store(&manager);

    // The write left its copy: Redis does not report the driver's own change back to it
    // (`NOLOOP`). A read costs nothing, and a request that only reads costs its refresh.
    clock.advance(Duration::from_millis(400));
    server.reset_stats();
    let read = store.read(&key).await.expect("read").expect("the copy");
    assert_eq!(read.data["n"], json!(1));
    assert_eq!(ran(&server), BTreeMap::new(), "a read of a copy");
    for _ in 0..3 {
        assert_eq!(
            b.request(|s| s.get("n")).await.expect("read"),
            Some(json!(1))
        );
    }
    assert_eq!(ran(&server), refreshes(3), "three reading requests");
    // The copy carries the refreshed times.
    let now = session_core::Clock::now_ms(&clock);
    let read = store.read(&key).await.expect("read").expect("the copy");
    assert_eq!((read.last_active, read.expires_at), (now, now + 600_000));

    // A modifying request whose read is answered locally: only the conditional write (its
    // script reads the header, writes the value with its TTL, and reads the key once more so
    // that Redis goes on reporting changes to it).
    server.reset_stats();
    assert_eq!(b.request(|s| s.increment("n")).await.expect("increment"), 2);
    let modifying = ran(&server);
    assert_eq!(
        modifying,
        counted(&[("evalsha", 1), ("getrange", 1), ("set", 1), ("strlen", 1)]),
        "a modifying request"
    );
    server.reset_stats();
    for _ in 0..3 {
        assert_eq!(
            b.request(|s| s.get("n")).await.expect("read"),
            Some(json!(2))
        );
    }
    assert_eq!(
        ran(&server),
        refreshes(3),
        "three reading requests after the write"
    );

    // A request that never opens the session: its read is local too, its refresh is sent.
    clock.advance(Duration::from_millis(1500));
    server.reset_stats();
    b.untouched_request().await.expect("untouched");
    assert_eq!(ran(&server), refreshes(1), "an untouched request");

    // A copy past its expiry is not served.
    clock.advance(Duration::from_secs(601));
    let gone = b
        .request(|s| Ok((s.is_fresh(), s.get_value("n")?)))
        .await
        .expect("read");
    assert_eq!(gone, (true, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_elsewhere_replace_the_local_copies() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let section = cached(server.url());
    let prefix = section["prefix"].as_str().unwrap_or_default().to_owned();
    let here = manager(section.clone(), &clock);
    let elsewhere = manager(section, &clock);

    let mut a = Browser::new(here.clone());
    a.request(|s| s.put("n", 1)).await.expect("write");
    assert_eq!(
        a.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );

    // Another instance changes the session: this one sees the change.
    let mut b = same_visitor(elsewhere.clone(), &a);
    assert_eq!(b.request(|s| s.increment("n")).await.expect("increment"), 2);
    let seen = read_until(&mut a, Some(json!(2))).await;
    assert_eq!(seen.last(), Some(&Some(json!(2))), "reads: {seen:?}");

    // After each kind of change this instance makes itself (a write, the refresh of a request
    // that only read, the refresh of one that never opened the session), Redis still reports the
    // next change made elsewhere. (The other instance's
    // increment may start from its own copy a moment before the message about this instance's
    // write reaches it, and answer one less; its write then conflicts and replays on the stored
    // value, which is what this instance must come to read.)
    assert_eq!(
        a.request(|s| s.increment("n")).await.expect("write here"),
        3
    );
    an_increment_elsewhere_is_seen(&mut a, &mut b, 4, "a write").await;
    clock.advance(Duration::from_millis(1500));
    assert_eq!(
        a.request(|s| s.get("n")).await.expect("read and refresh"),
        Some(json!(4))
    );
    an_increment_elsewhere_is_seen(&mut a, &mut b, 5, "a read").await;
    clock.advance(Duration::from_millis(1500));
    a.untouched_request().await.expect("untouched request");
    an_increment_elsewhere_is_seen(&mut a, &mut b, 6, "an untouched request").await;

    // A client outside the application deletes the key.
    let key = a.storage_key().await.expect("key");
    server.cli(&["DEL", &format!("{prefix}{{{}}}", key.as_str())]);
    let seen = read_until(&mut a, None).await;
    assert_eq!(seen.last(), Some(&None), "reads: {seen:?}");

    // The database is flushed.
    let mut c = Browser::new(here);
    c.request(|s| s.put("n", 7)).await.expect("write");
    assert_eq!(
        c.request(|s| s.get("n")).await.expect("read"),
        Some(json!(7))
    );
    server.cli(&["FLUSHDB"]);
    let seen = read_until(&mut c, None).await;
    assert_eq!(seen.last(), Some(&None), "reads: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_on_two_instances_lose_no_increment() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let section = cached(server.url());
    let one = manager(section.clone(), &clock);
    let two = manager(section, &clock);

    let mut a = Browser::new(one);
    a.request(|s| s.put("n", 0)).await.expect("write");
    let mut b = same_visitor(two, &a);
    // Alternating instances: each request may start from a copy the other just made stale.
    for _ in 0..25 {
        a.request(|s| s.increment("n"))
            .await
            .expect("increment here");
        b.request(|s| s.increment("n"))
            .await
            .expect("increment elsewhere");
    }
    // Both at once, 100 concurrent increments each.
    let (here, there) = tokio::join!(
        a.increment_concurrently("n", 100),
        b.increment_concurrently("n", 100)
    );
    let failed = here.iter().chain(&there).filter(|r| r.is_err()).count();
    assert_eq!(failed, 0);
    let seen = read_until(&mut a, Some(json!(250))).await;
    assert_eq!(seen.last(), Some(&Some(json!(250))), "reads: {seen:?}");
    let seen = read_until(&mut b, Some(json!(250))).await;
    assert_eq!(seen.last(), Some(&Some(json!(250))), "reads: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_never_answer_for_a_server_that_is_down() {
    let mut server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let mut section = cached(server.url());
    section["connect_timeout"] = json!("1s");
    section["command_timeout"] = json!("1s");
    let mut b = Browser::new(manager(section, &clock));
    b.request(|s| s.put("n", 1)).await.expect("write");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );

    server.stop();
    // The connection's end reaches the driver a moment after the kill; from then on every
    // request fails, none is answered from a copy.
    let deadline = Instant::now() + Duration::from_secs(2);
    let first = loop {
        match b.request(|s| s.get_value("n")).await {
            Err(e) => break e,
            Ok(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(n) => panic!("still answered {n:?} two seconds after the server stopped"),
        }
    };
    assert_eq!(first.kind(), ErrorKind::Backend, "{first}");
    for _ in 0..3 {
        let err = b
            .request(|s| s.get_value("n"))
            .await
            .expect_err("Redis is down");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    }

    // Back (empty: the server persists nothing): the old cookie gives a fresh session.
    server.restart();
    let fresh = b
        .request(|s| Ok(s.is_fresh()))
        .await
        .expect("after restart");
    assert!(fresh);
    b.request(|s| s.put("n", 5)).await.expect("write");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_client_tracking_gets_the_driver_without_the_cache() {
    let server = RedisServer::spawn_with_args(&["--rename-command", "CLIENT", ""]);
    let clock = ManualClock::starting_now();
    let mut b = Browser::new(manager(cached(server.url()), &clock));
    b.request(|s| s.put("n", 1)).await.expect("write");
    server.reset_stats();
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );
    assert_eq!(
        ran(&server).get("get"),
        Some(&1),
        "without tracking every read goes to Redis"
    );
    assert_eq!(b.request(|s| s.increment("n")).await.expect("increment"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_works_over_tls() {
    let server = RedisServer::spawn_tls();
    let ca = server.tls().expect("a TLS server").ca_file.clone();
    let clock = ManualClock::starting_now();
    let mut section = common::tls(server.url(), &ca);
    section["local_cache"] = json!(100);
    let manager = manager(section, &clock);
    // Warm-up: opening the connection drops every copy made while it was being opened, and
    // the refresh script is loaded.
    let mut warm = Browser::new(manager.clone());
    warm.request(|s| s.put("n", 0)).await.expect("warm-up");
    warm.request(|s| s.get_value("n")).await.expect("warm-up");
    let mut b = Browser::new(manager);
    b.request(|s| s.put("n", 1)).await.expect("write");
    server.reset_stats();
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(1))
    );
    assert_eq!(
        ran(&server),
        refreshes(1),
        "a read over TLS answered locally: the request sends only its refresh"
    );
}

/// What a [`Worker`] does with the browser it is handed.
enum Op {
    Put(i64),
    Get,
    Increment,
    /// Increments `n` this many times at once; answers how many failed.
    Concurrently(usize),
}

/// A thread running a current-thread runtime, as an actix-web worker does, serving one request
/// at a time for the browser it is handed. Between requests its runtime does not run (like a
/// worker busy in a blocking handler), so the messages Redis sends to its connection wait.
struct Worker {
    jobs: Option<std::sync::mpsc::Sender<(Browser, Op)>>,
    done: std::sync::mpsc::Receiver<(Browser, Option<Value>)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn spawn() -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<(Browser, Op)>();
        let (reply, done) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            for (mut b, op) in queue {
                let answer = runtime.block_on(async {
                    match op {
                        Op::Put(n) => b.request(|s| s.put("n", n)).await.map(|()| None),
                        Op::Get => b.request(|s| s.get("n")).await,
                        Op::Increment => b.request(|s| s.increment("n")).await.map(Some),
                        Op::Concurrently(count) => {
                            let results = b.increment_concurrently("n", count).await;
                            Ok(Some(json!(results.iter().filter(|r| r.is_err()).count())))
                        }
                    }
                });
                reply
                    .send((b, answer.expect("request")))
                    .expect("test alive");
            }
        });
        Self {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
        }
    }

    /// Serves `op` for `b` on this worker's thread, and takes the browser's cookies back.
    fn serve(&self, b: &mut Browser, op: Op) -> Option<Value> {
        let jobs = self.jobs.as_ref().expect("running");
        jobs.send((b.clone(), op)).expect("worker alive");
        let (served, answer) = self
            .done
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker answers");
        *b = served;
        answer
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let joined = thread.join();
            if !std::thread::panicking() {
                joined.expect("worker");
            }
        }
    }
}

/// Two threads with current-thread runtimes (two actix-web workers) on one manager, each with a
/// connection of its own: a thread answers reads from the copies its own connection keeps
/// current, a session moving between the threads is read from Redis on each move, and a copy
/// whose change messages wait on the other thread's connection is never served.
#[test]
fn each_thread_serves_the_copies_its_own_connection_keeps_current() {
    let server = RedisServer::spawn();
    let clock = ManualClock::starting_now();
    let section = cached(server.url());
    let here = manager(section.clone(), &clock);
    let (one, two) = (Worker::spawn(), Worker::spawn());
    // Warm-up: each thread's connection opened, and the scripts loaded.
    for worker in [&one, &two] {
        let mut warm = Browser::new(here.clone());
        worker.serve(&mut warm, Op::Put(0));
        worker.serve(&mut warm, Op::Increment);
        worker.serve(&mut warm, Op::Get);
    }
    assert_eq!(common::driver_connections(&server), 2, "one per thread");

    let mut b = Browser::new(here);
    one.serve(&mut b, Op::Put(0));
    server.reset_stats();
    for _ in 0..3 {
        assert_eq!(one.serve(&mut b, Op::Get), Some(json!(0)));
    }
    assert_eq!(
        ran(&server),
        refreshes(3),
        "reads on the thread that wrote: only their refreshes"
    );

    // The other thread's connection never read the session: that thread reads it from Redis
    // before its write, and the first thread, whose copy the write replaced, sees the change
    // at once.
    server.reset_stats();
    assert_eq!(two.serve(&mut b, Op::Increment), Some(json!(1)));
    assert_eq!(
        ran(&server),
        counted(&[
            ("evalsha", 1),
            ("get", 1),
            ("getrange", 1),
            ("set", 1),
            ("strlen", 1)
        ]),
        "an increment on the other thread"
    );
    assert_eq!(one.serve(&mut b, Op::Get), Some(json!(1)));

    // The second thread writes, and goes idle with a copy its connection keeps current. Another
    // instance then changes the session: Redis's message about it waits on the idle thread's
    // connection. The first thread does not answer from that copy; it reads the change.
    assert_eq!(two.serve(&mut b, Op::Increment), Some(json!(2)));
    let elsewhere = tokio::runtime::Runtime::new().expect("runtime");
    let mut other = same_visitor(manager(section, &clock), &b);
    let n = elsewhere
        .block_on(other.request(|s| s.increment("n")))
        .expect("increment elsewhere");
    assert_eq!(n, json!(3));
    assert_eq!(one.serve(&mut b, Op::Get), Some(json!(3)));

    // Requests alternating between the threads, and concurrent ones on each, lose nothing.
    for _ in 0..10 {
        one.serve(&mut b, Op::Increment);
        two.serve(&mut b, Op::Increment);
    }
    assert_eq!(one.serve(&mut b, Op::Concurrently(20)), Some(json!(0)));
    assert_eq!(two.serve(&mut b, Op::Concurrently(20)), Some(json!(0)));
    assert_eq!(one.serve(&mut b, Op::Increment), Some(json!(64)));
    assert_eq!(two.serve(&mut b, Op::Increment), Some(json!(65)));
}
