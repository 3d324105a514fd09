//! Failures, corrupt data and concurrency.

use std::time::{Duration, Instant};

use serde_json::json;
use session_core::{ErrorKind, SessionId};
use session_testkit::redis_server::RedisServer;
use session_testkit::Browser;

use crate::common;

/// A section with one-second timeouts.
fn fast_failing(url: &str) -> serde_json::Value {
    let mut section = common::standalone(url);
    section["connect_timeout"] = json!("1s");
    section["command_timeout"] = json!("1s");
    section["pool_wait_timeout"] = json!("1s");
    section
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_fails_fast_and_a_restarted_one_serves_the_same_driver() {
    let mut server = RedisServer::spawn();
    let mut b = Browser::new(common::simple_manager(fast_failing(server.url())));
    b.request(|s| s.put("n", 1)).await.expect("before the kill");

    server.stop();
    for round in 0..3 {
        let started = Instant::now();
        let err = b
            .request(|s| s.get_value("n"))
            .await
            .expect_err("Redis is down");
        let took = started.elapsed();
        println!("request {round} with Redis down failed after {took:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
        assert!(took < Duration::from_secs(3), "took {took:?}");
    }

    server.restart();
    // The same driver instance works again; the restarted server persisted nothing, so the old
    // cookie gives a fresh session.
    let started = Instant::now();
    let fresh = b
        .request(|s| Ok(s.is_fresh()))
        .await
        .expect("after the restart");
    println!(
        "first request after the restart took {:?}",
        started.elapsed()
    );
    assert!(fresh);
    b.request(|s| s.put("n", 2))
        .await
        .expect("write after restart");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_requests_is_invisible_to_reads() {
    let mut server = RedisServer::spawn();
    let mut b = Browser::new(common::simple_manager(fast_failing(server.url())));
    b.request(|s| s.put("n", 1)).await.expect("before");
    // The pooled connection is now dead without the driver having noticed.
    server.restart();
    let fresh = b
        .request(|s| Ok(s.is_fresh()))
        .await
        .expect("the dead pooled connection is replaced");
    assert!(fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_does_not_prevent_start_up_and_fails_fast() {
    let mut server = RedisServer::spawn();
    let url = server.url().to_owned();
    server.stop();
    let mut b = Browser::new(common::simple_manager(fast_failing(&url)));
    let started = Instant::now();
    let err = b.request(|s| s.put("n", 1)).await.expect_err("down");
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(started.elapsed() < Duration::from_secs(3));
    server.restart();
    b.request(|s| s.put("n", 1)).await.expect("up again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_script_cache_is_reloaded() {
    let server = RedisServer::spawn();
    let mut b = Browser::new(common::simple_manager(common::standalone(server.url())));
    b.request(|s| s.put("n", 1)).await.expect("write");
    for _ in 0..3 {
        assert_eq!(server.cli(&["SCRIPT", "FLUSH"]), "OK");
        server.reset_stats();
        b.request(|s| s.increment("n"))
            .await
            .expect("after SCRIPT FLUSH");
        let stats = server.commandstats();
        // The conditional write's script answered NOSCRIPT once and was sent again in full
        // (the read is a plain GET).
        let evals = stats.get("eval").copied().unwrap_or(0);
        assert!(evals >= 1, "{stats:?}");
        assert_eq!(
            stats.get("evalsha").copied().unwrap_or(0),
            evals,
            "{stats:?}"
        );
    }
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_do_not_decode_read_as_no_session() {
    let server = RedisServer::spawn();
    let section = common::standalone(server.url());
    let prefix = section["prefix"].as_str().unwrap_or_default().to_owned();
    let mut b = Browser::new(common::simple_manager(section));
    // Far in the future, so that only the value's shape decides.
    let late = format!("{:012x}", 99_999_999_999_999u64);
    let header = |version: &str| format!("s3{version}{late}{late}{late}");
    let data = r#"{"secret":"s3"}"#;
    let two = format!("{:012x}", 2);
    let late20 = format!("{:020}", 99_999_999_999_999u64);
    let envelope = format!(
        r#"{{"format":1,"data":{data},"version":2,"created_at":{late},"last_active":{late},"expires_at":{late}}}"#,
        late = 99_999_999_999_999u64
    );
    let garbage: Vec<Vec<String>> = [
        vec!["SET", "{key}", "not a session"],
        vec!["SET", "{key}", "s3000000000001"],
        // An early development layout: a hash with a field each.
        vec!["HSET", "{key}", "v", "1", "c", "1", "a", "1", "d", "{}"],
        vec!["RPUSH", "{key}", "a list"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(str::to_owned).collect())
    .chain([
        // The `s2:` development layout: a decimal header, then the JSON envelope.
        vec![
            "SET".into(),
            "{key}".into(),
            format!("s2:{:020}:{late20}:{late20}:{envelope}", 2),
        ],
        // A good header, data that is not JSON.
        vec![
            "SET".into(),
            "{key}".into(),
            format!("{}{{broken json", header(&two)),
        ],
        // A good header, data that is not an object.
        vec![
            "SET".into(),
            "{key}".into(),
            format!("{}[1,2]", header(&two)),
        ],
        // A header with a letter out of the hex digits, and one in upper case.
        vec![
            "SET".into(),
            "{key}".into(),
            format!("{}{data}", header("00000000000x")),
        ],
        vec![
            "SET".into(),
            "{key}".into(),
            format!("{}{data}", header("00000000000A")),
        ],
    ])
    .collect();
    for command in &garbage {
        b.clear_cookies();
        b.request(|s| s.put("secret", "s3")).await.expect("write");
        let key = b.storage_key().await.expect("key");
        let redis_key = format!("{prefix}{{{}}}", key.as_str());
        server.cli(&["DEL", &redis_key]);
        let args: Vec<String> = command
            .iter()
            .map(|a| a.replace("{key}", &redis_key))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        server.cli(&args);
        let (fresh, secret) = b
            .request(|s| Ok((s.is_fresh(), s.get_value("secret")?)))
            .await
            .expect("a corrupt value is no error");
        assert!(fresh && secret.is_none(), "{command:?} opened a session");
        let read = common::store(b.manager()).read(&key).await.expect("read");
        assert!(read.is_none(), "{command:?} decoded");
    }
    // The same record under its own header opens: each case above fails for its one fault.
    b.clear_cookies();
    b.request(|s| s.put("other", 1)).await.expect("write");
    let key = b.storage_key().await.expect("key");
    let redis_key = format!("{prefix}{{{}}}", key.as_str());
    server.cli(&["SET", &redis_key, &format!("{}{data}", header(&two))]);
    let read = common::store(b.manager())
        .read(&key)
        .await
        .expect("read")
        .expect("a well-formed value opens");
    assert_eq!((read.version, &read.data["secret"]), (2, &json!("s3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_through_a_small_pool_are_all_counted() {
    let server = RedisServer::spawn();
    let mut section = common::standalone(server.url());
    section["pool_size"] = json!(4);
    let mut b = Browser::new(common::simple_manager(section));
    b.request(|s| s.put("n", 0)).await.expect("start");
    server.reset_stats();
    for result in b.increment_concurrently("n", 200).await {
        result.expect("increment");
    }
    let stats = server.commandstats();
    let clients = server.cli(&["INFO", "clients"]);
    println!("200 increments: {stats:?}; {clients}");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(200))
    );
    // One process: the group commit writes the increments queued behind each write together,
    // so far fewer conditional writes (scripts) than increments, and no conflict storm.
    let scripts =
        stats.get("evalsha").copied().unwrap_or(0) + stats.get("eval").copied().unwrap_or(0);
    assert!((1..200).contains(&scripts), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_share_one_connection_and_a_killed_one_is_replaced_by_one() {
    let server = RedisServer::spawn();
    let mut b = Browser::new(common::simple_manager(common::standalone(server.url())));
    b.request(|s| s.put("n", 0)).await.expect("start");
    for _ in 0..20 {
        b.request(|s| s.increment("n")).await.expect("increment");
    }
    for result in b.increment_concurrently("n", 50).await {
        result.expect("concurrent increment");
    }
    assert_eq!(
        common::driver_connections(&server),
        1,
        "sequential and concurrent requests share one connection"
    );

    // Redis drops the connection (as on a fail-over or a client timeout): the next request's
    // read meets the closed connection, is repeated on a fresh one, and that one is shared.
    let killed = server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    assert_eq!(killed, "1", "the driver's connection was killed");
    b.request(|s| s.increment("n"))
        .await
        .expect("after the kill");
    for _ in 0..5 {
        b.request(|s| s.increment("n")).await.expect("increment");
    }
    assert_eq!(common::driver_connections(&server), 1);
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("read"),
        Some(json!(76))
    );
}

/// Two threads each running a current-thread runtime on one manager, as two actix-web workers
/// do: each thread gets a connection of its own, a session served by both threads in turn
/// keeps every increment, and killed connections are replaced, one each. Between phases each
/// thread blocks (as a worker does in a blocking handler) while the test looks at Redis: with
/// one connection for both, whose I/O runs on the thread that opened it, the other thread's
/// requests would wait for the blocked one and time out.
#[test]
fn on_current_thread_runtimes_each_thread_has_a_connection_of_its_own() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    const PATIENCE: Duration = Duration::from_secs(30);
    let current_thread = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let server = RedisServer::spawn();
    let manager = common::simple_manager(common::standalone(server.url()));
    let shared = {
        let mut b = Browser::new(manager.clone());
        current_thread()
            .block_on(b.request(|s| s.put("n", 0)))
            .expect("start");
        Arc::new(Mutex::new(b))
    };
    let (done, phase_ended) = mpsc::channel::<()>();
    let mut go = Vec::new();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (manager, shared, done) = (manager.clone(), shared.clone(), done.clone());
            let (go_on, wait) = mpsc::channel::<()>();
            go.push(go_on);
            std::thread::spawn(move || {
                // Reports the phase done and blocks the thread until the test lets it go on.
                let pause = || {
                    done.send(()).expect("test alive");
                    wait.recv_timeout(PATIENCE)
                        .expect("the test lets the thread go on");
                };
                current_thread().block_on(async {
                    let mut own = Browser::new(manager);
                    own.request(|s| s.put("n", 0)).await.expect("start");
                    for _ in 0..10 {
                        own.request(|s| s.increment("n")).await.expect("increment");
                    }
                    for result in own.increment_concurrently("n", 20).await {
                        result.expect("concurrent increment");
                    }
                    // The session both threads serve, one request at a time.
                    for _ in 0..5 {
                        let mut b = shared.lock().expect("lock").clone();
                        b.request(|s| s.increment("n")).await.expect("shared");
                        *shared.lock().expect("lock") = b;
                    }
                    pause();
                    for _ in 0..5 {
                        own.request(|s| s.increment("n"))
                            .await
                            .expect("after the kill");
                    }
                    let n = own.request(|s| s.get("n")).await.expect("read");
                    pause();
                    n
                })
            })
        })
        .collect();
    let both_done = || {
        for _ in 0..2 {
            phase_ended
                .recv_timeout(PATIENCE)
                .expect("each thread finishes its phase");
        }
    };
    let go_on = || {
        for g in &go {
            g.send(()).expect("thread alive");
        }
    };
    both_done();
    // The main thread's runtime, which started the shared session, has ended, and its
    // connection with it.
    assert_eq!(
        common::driver_connections(&server),
        2,
        "one connection per thread"
    );
    assert_eq!(server.cli(&["CLIENT", "KILL", "TYPE", "normal"]), "2");
    go_on();
    both_done();
    assert_eq!(
        common::driver_connections(&server),
        2,
        "each replaced by one"
    );
    go_on();
    for worker in workers {
        assert_eq!(worker.join().expect("worker"), Some(json!(35)));
    }
    let mut b = shared.lock().expect("lock").clone();
    assert_eq!(
        current_thread()
            .block_on(b.request(|s| s.get("n")))
            .expect("read"),
        Some(json!(10)),
        "the shared session served by both threads kept every increment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_three_connections_sessions_are_spread_and_killed_ones_are_replaced() {
    let server = RedisServer::spawn();
    let mut section = common::standalone(server.url());
    section["pool_size"] = json!(3);
    section["connections"] = json!(3);
    let manager = common::simple_manager(section);
    // Forty sessions: each of the three connections serves some of them (the chance that one
    // serves none is below one in a million).
    let mut browsers: Vec<Browser> = (0..40).map(|_| Browser::new(manager.clone())).collect();
    for b in &mut browsers {
        b.request(|s| s.put("n", 0)).await.expect("start");
        b.request(|s| s.increment("n")).await.expect("increment");
    }
    assert_eq!(common::driver_connections(&server), 3);
    // As many shared connections as the pool holds, all killed: each is still replaced (the
    // broken object goes back to the pool before its replacement is checked out), and no
    // request fails, since each session's request reads first on its own connection.
    let killed = server.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    assert_eq!(killed, "3");
    for b in &mut browsers {
        b.request(|s| s.increment("n"))
            .await
            .expect("after the kill");
    }
    assert_eq!(common::driver_connections(&server), 3);
    for b in &mut browsers {
        assert_eq!(
            b.request(|s| s.get("n")).await.expect("read"),
            Some(json!(2))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_destroyed_under_a_slow_request_stays_destroyed() {
    let server = RedisServer::spawn();
    let section = common::standalone(server.url());
    let prefix = section["prefix"].as_str().unwrap_or_default().to_owned();
    let mut b = Browser::new(common::simple_manager(section));
    b.request(|s| s.put("user", 7)).await.expect("login");
    let slow = b.begin().session().await.expect("slow read");
    let key = slow.session_id().storage_key();
    let mut logout = b.clone();
    logout.request(|s| s.clear()).await.expect("logout");
    slow.put("cart", 3).expect("put");
    slow.commit().await.expect("slow commit");
    let redis_key = format!("{prefix}{{{}}}", key.as_str());
    assert_eq!(server.cli(&["EXISTS", &redis_key]), "0", "resurrected");
    // The driver's conditional write refuses too, directly.
    let store = common::store(b.manager());
    let record = session_core::Record {
        version: 2,
        ..session_core::Record::new(Default::default(), 1, u64::MAX)
    };
    let outcome = store.write(&key, &record, Some(1)).await.expect("write");
    assert_eq!(outcome, session_core::WriteOutcome::Gone);
    assert_eq!(server.cli(&["EXISTS", &redis_key]), "0");
    // An unrelated key never existed either.
    let other = SessionId::generate().storage_key();
    assert!(store.read(&other).await.expect("read").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_times_out_and_recovers() {
    let mut server = RedisServer::spawn();
    let mut b = Browser::new(common::simple_manager(fast_failing(server.url())));
    b.request(|s| s.put("n", 1)).await.expect("before");
    server.freeze();
    let started = Instant::now();
    let err = b.request(|s| s.get_value("n")).await.expect_err("frozen");
    let took = started.elapsed();
    println!("request to a frozen server failed after {took:?}: {err}");
    server.thaw();
    assert_eq!(err.kind(), ErrorKind::Backend, "{err}");
    assert!(
        matches!(
            err,
            session_core::Error::Driver(session_core::DriverError::Timeout { .. })
        ),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(
        b.request(|s| s.get("n")).await.expect("thawed"),
        Some(json!(1))
    );
}
