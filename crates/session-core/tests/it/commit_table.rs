//! The commit table of semantics §2, row by row, observed through the driver calls.

use serde_json::json;
use std::time::Duration;

use std::sync::Arc;

use session_core::{Refresh, SessionConfig, SessionId, SessionManager, SessionStore};
use session_testkit::Browser;

use crate::common::{recording, recording_with, Call, SECRET};

#[tokio::test]
async fn readonly_requests_call_nothing_and_set_no_cookie() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("n", 1)).await.expect("seed");
    let key = b.storage_key().await.expect("key");
    driver.take();
    let request = b.begin();
    request.reader().await.expect("initiate");
    request.commit().await.expect("commit");
    assert_eq!(driver.take(), vec![Call::Read(key)]);
    assert!(request.context().response_cookies().is_empty());
}

#[tokio::test]
async fn a_lazy_request_with_a_valid_cookie_refreshes_only_when_due() {
    let (mut b, driver, clock) = recording(true);
    let key = b
        .request(|s| {
            s.put("n", 1)?;
            Ok(s.session_id().storage_key())
        })
        .await
        .expect("seed");
    driver.take();
    // Within the first 20% of the idle age (2 h): nothing to refresh, no cookie.
    clock.advance(Duration::from_secs(23 * 60));
    let s = b.begin();
    s.commit().await.expect("commit");
    assert_eq!(driver.take(), vec![]);
    assert!(s.context().response_cookies().is_empty(), "no cookie");
    // Past it: one refresh, no read, and the cookie with a new Max-Age.
    clock.advance(Duration::from_secs(2 * 60));
    let s = b.begin();
    s.commit().await.expect("commit");
    assert_eq!(driver.take(), vec![Call::Refresh(key)]);
    assert_eq!(
        s.context().response_cookies().len(),
        1,
        "the id cookie is refreshed"
    );
    b.absorb(s.context());
    // The new cookie starts the count again.
    let s = b.begin();
    s.commit().await.expect("commit");
    assert_eq!(driver.take(), vec![]);
}

#[tokio::test]
async fn with_refresh_always_every_request_refreshes() {
    let (mut b, driver, _) =
        recording_with(true, SessionConfig::new().with_refresh(Refresh::Always));
    let key = b
        .request(|s| {
            s.put("n", 1)?;
            Ok(s.session_id().storage_key())
        })
        .await
        .expect("seed");
    driver.take();
    let s = b.begin();
    s.commit().await.expect("commit");
    assert_eq!(driver.take(), vec![Call::Refresh(key.clone())]);
    assert_eq!(s.context().response_cookies().len(), 1);
    b.request(|s| s.get_value("n")).await.expect("read");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Refresh(key)]
    );
}

#[tokio::test]
async fn with_an_absolute_lifetime_a_lazy_request_reads_before_it_refreshes() {
    // The creation time bounds the new expiry, and only the record has it.
    let (mut b, driver, clock) = recording_with(true, SessionConfig::new().with_absolute_age("1h"));
    let key = b
        .request(|s| {
            s.put("n", 1)?;
            Ok(s.session_id().storage_key())
        })
        .await
        .expect("seed");
    driver.take();
    clock.advance(Duration::from_secs(25 * 60));
    let s = b.begin();
    s.commit().await.expect("commit");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Refresh(key)]
    );
    assert_eq!(
        s.context().response_cookies().len(),
        1,
        "the id cookie is refreshed"
    );
}

#[tokio::test]
async fn a_lazy_request_of_a_new_visitor_calls_nothing_but_gets_an_id() {
    let (mut b, driver, _) = recording(true);
    b.untouched_request().await.expect("request");
    assert!(driver.take().is_empty());
    assert!(b.cookies().contains_key("id"));
}

#[tokio::test]
async fn an_empty_store_costs_no_storage_and_is_destroyed_when_emptied() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.get_value("x"))
        .await
        .expect("empty request");
    assert!(
        driver.take().iter().all(|c| matches!(c, Call::Read(_))),
        "nothing is written for a visitor without data"
    );
    b.request(|s| s.put("x", 1)).await.expect("write");
    let key = b.storage_key().await.expect("key");
    driver.take();
    b.request(|s| s.forget("x")).await.expect("forget");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Destroy(key, 1)]
    );
}

#[tokio::test]
async fn an_unmodified_request_refreshes_when_due_and_a_modified_one_writes_at_the_read_version() {
    let (mut b, driver, clock) = recording(true);
    b.request(|s| s.put("n", 1)).await.expect("seed");
    let key = b.storage_key().await.expect("key");
    driver.take();
    b.request(|s| s.get_value("n")).await.expect("read");
    assert_eq!(driver.take(), vec![Call::Read(key.clone())]);
    // Writing the same value again is not a modification.
    b.request(|s| s.put("n", 1)).await.expect("same value");
    assert_eq!(driver.take(), vec![Call::Read(key.clone())]);
    // Once 20% of the idle age has passed, a read refreshes.
    clock.advance(Duration::from_secs(25 * 60));
    b.request(|s| s.get_value("n")).await.expect("read");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Refresh(key.clone())]
    );
    b.request(|s| s.put("n", 2)).await.expect("write");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Write(key, Some(1))]
    );
}

#[tokio::test]
async fn a_regenerated_session_is_written_under_the_new_id_before_the_old_is_destroyed() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("cart", 3)).await.expect("seed");
    let old = b.storage_key().await.expect("key");
    driver.take();
    let new = b
        .request(|s| {
            s.regenerate()?;
            Ok(s.session_id().storage_key())
        })
        .await
        .expect("regenerate");
    assert_ne!(old, new);
    assert_eq!(
        driver.take(),
        vec![
            Call::Read(old.clone()),
            Call::Write(new, None),
            Call::Destroy(old, 1)
        ]
    );
    assert_eq!(
        b.request(|s| s.get("cart")).await.expect("read"),
        Some(json!(3))
    );
}

#[tokio::test]
async fn a_last_writer_wins_store_gets_the_same_calls() {
    let (mut b, driver, _) = recording(false);
    b.request(|s| s.put("n", 1)).await.expect("seed");
    let key = b.storage_key().await.expect("key");
    assert!(driver.take().contains(&Call::Write(key.clone(), None)));
    b.request(|s| s.increment("n")).await.expect("increment");
    assert_eq!(
        driver.take(),
        vec![Call::Read(key.clone()), Call::Write(key, Some(1))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_writer_wins_driver_loses_concurrent_increments_which_is_why_the_atomic_update_exists(
) {
    // The same 50 concurrent increments, from two processes (two managers on one driver): exact
    // with the atomic update, lossy without it. This shows the conformance case can fail.
    // (Within one process the group commit orders them whatever the driver.)
    for atomic in [true, false] {
        let (mut b, driver, clock) = recording(atomic);
        b.request(|s| s.put("n", 0)).await.expect("seed");
        let other = SessionManager::builder(SessionConfig::new().with_key(SECRET))
            .with_clock(Arc::new(clock.clone()))
            .driver(driver.clone())
            .build()
            .expect("valid configuration");
        let mut b2 = Browser::new(other);
        for (name, value) in b.cookies() {
            b2.set_cookie(name, value);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let b = if i % 2 == 0 { b.clone() } else { b2.clone() };
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let s = b.begin().session().await?;
                s.increment("n")?;
                barrier.wait().await;
                s.commit().await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("commit");
        }
        let n = b.request(|s| s.get::<i64>("n")).await.expect("read");
        if atomic {
            assert_eq!(n, Some(50));
        } else {
            assert!(
                n < Some(50),
                "last writer wins should have lost updates, got {n:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_of_one_session_are_grouped_into_fewer_writes_without_conflicts() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("n", 0)).await.expect("seed");
    driver.take();
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let b = b.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let s = b.begin().session().await?;
            s.increment("n")?;
            s.put(&format!("seen.r{i}"), true)?;
            barrier.wait().await;
            s.commit().await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("commit");
    }
    let calls = driver.take();
    let reads = calls.iter().filter(|c| matches!(c, Call::Read(_))).count();
    let writes = calls
        .iter()
        .filter(|c| matches!(c, Call::Write(..)))
        .count();
    assert!(
        (1..50).contains(&writes),
        "50 commits written in fewer writes, got {writes}: {calls:?}"
    );
    // One read per request, and at most one more per write: a commit whose read predates a
    // group that ended before it joined conflicts once and reads again.
    assert!(
        (50..=50 + writes).contains(&reads),
        "{reads} reads for {writes} writes: {calls:?}"
    );
    // Every change is there: 50 increments, 50 keys.
    let all = b.request(|s| Ok(s.all())).await.expect("read");
    assert_eq!(all["n"], json!(50));
    assert_eq!(all["seen"].as_object().map(|o| o.len()), Some(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_grouped_with_concurrent_commits_is_not_undone_by_the_commits_after_it() {
    for _ in 0..20 {
        let (mut b, _, _) = recording(true);
        b.request(|s| s.put("user", 7)).await.expect("login");
        let old = b.cookies()["id"].clone();
        let barrier = Arc::new(tokio::sync::Barrier::new(9));
        let mut tasks = Vec::new();
        for i in 0..9 {
            let b = b.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let s = b.begin().session().await?;
                if i == 4 {
                    s.flush()?;
                } else {
                    s.increment("n")?;
                }
                barrier.wait().await;
                s.commit().await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("commit");
        }
        // The logged-out cookie opens nothing, whatever order the commits took.
        let mut replay = b.clone();
        replay.set_cookie("id", &old);
        let (fresh, user) = replay
            .request(|s| Ok((s.is_fresh(), s.get::<u64>("user")?)))
            .await
            .expect("replay");
        assert!(
            fresh && user.is_none(),
            "the session came back after the logout"
        );
    }
}

#[tokio::test]
async fn an_empty_id_serves_its_visitor_until_the_first_write_moves_the_data_to_a_new_id() {
    let (mut b, driver, _) = recording(true);
    b.untouched_request().await.expect("first visit");
    let first = b.cookies()["id"].clone();
    let (adopted, fresh) = b
        .request(|s| Ok((s.session_id(), s.is_fresh())))
        .await
        .expect("a reading request");
    assert!(!fresh, "the id of the first visit is adopted");
    assert!(first.starts_with(adopted.expose()));
    assert!(
        driver.take().is_empty(),
        "an id that never stored anything is not read"
    );
    assert_eq!(b.cookies()["id"], first, "the same cookie comes back");
    b.request(|s| s.put("x", 1)).await.expect("the first write");
    let cookie = b.cookies()["id"].clone();
    let id = SessionId::parse(&cookie[..43]).expect("an id");
    assert_ne!(id, adopted, "the data is stored under a new id");
    assert_eq!(driver.take(), vec![Call::Write(id.storage_key(), None)]);
    assert_eq!(
        b.request(|s| s.get("x")).await.expect("read"),
        Some(serde_json::json!(1))
    );
}

#[tokio::test]
async fn a_well_signed_id_without_a_record_is_replaced_not_adopted() {
    let (mut b, driver, _) = recording(true);
    let id = b
        .request(|s| {
            s.put("x", 1)?;
            Ok(s.session_id())
        })
        .await
        .expect("a session");
    let replay = b.clone();
    b.request(|s| s.clear()).await.expect("logout");
    driver.take();
    let mut replay = replay;
    let (fresh, again) = replay
        .request(|s| Ok((s.is_fresh(), s.session_id())))
        .await
        .expect("the old cookie again");
    assert!(fresh, "strict mode: a new id for an id whose session ended");
    assert_ne!(again, id);
}

#[tokio::test]
async fn a_driver_error_surfaces_as_a_backend_error_and_a_timeout_is_bounded() {
    use async_trait::async_trait;
    use session_core::{
        DriverError, ErrorKind, Record, SessionConfig, SessionManager, StorageKey, WriteOutcome,
    };
    use std::time::{Duration, Instant};

    /// A backend that never answers reads, like a Redis behind a dropped network link, and
    /// refuses everything else.
    #[derive(Debug)]
    struct Unreachable;
    fn refused() -> DriverError {
        DriverError::unavailable("unreachable", "connection refused")
    }
    #[async_trait]
    impl SessionStore for Unreachable {
        async fn read(&self, _: &StorageKey) -> Result<Option<Record>, DriverError> {
            std::future::pending().await
        }
        async fn write(
            &self,
            _: &StorageKey,
            _: &Record,
            _: Option<u64>,
        ) -> Result<WriteOutcome, DriverError> {
            Err(refused())
        }
        async fn destroy(&self, _: &StorageKey, _: u64) -> Result<WriteOutcome, DriverError> {
            Err(refused())
        }
        async fn refresh(&self, _: &StorageKey, _: u64, _: u64) -> Result<(), DriverError> {
            Err(refused())
        }
    }
    let manager = SessionManager::builder(
        SessionConfig::new()
            .with_key(crate::common::SECRET)
            .with_driver_timeout("200ms"),
    )
    .driver(Unreachable)
    .build()
    .expect("valid");
    let mut b = session_testkit::Browser::new(manager.clone());
    // The cookie of a session stored before the outage.
    let signed = manager.keys().id_signer("id").sign(&SessionId::generate());
    b.set_cookie("id", &signed);
    b.untouched_request()
        .await
        .expect("a lazy request survives a failing read");
    b.set_cookie("id", &signed);
    let s = b.begin();
    let started = Instant::now();
    let err = s
        .initiate(session_core::Access::ReadWrite)
        .await
        .expect_err("read hangs");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(
        err.to_string().contains("did not answer within 200ms"),
        "{err}"
    );
    let fresh = manager
        .start_request(std::iter::empty())
        .session()
        .await
        .expect("no cookie, no read");
    fresh.put("x", 1).expect("put");
    let err = fresh.commit().await.expect_err("write fails");
    assert_eq!(err.kind(), ErrorKind::Backend);
    assert!(
        std::error::Error::source(&err).is_some(),
        "the source is kept"
    );
}

#[tokio::test]
async fn regenerating_during_a_concurrent_logout_does_not_bring_the_session_back() {
    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("user", 1)).await.expect("login");
    let slow = b.begin().session().await.expect("slow request reads");
    let mut logout = b.clone();
    logout.request(|s| s.clear()).await.expect("logout");
    slow.regenerate().expect("regenerate");
    let new_key = slow.session_id().storage_key();
    slow.commit().await.expect("commit");
    let stored = driver.read(&new_key).await.expect("read");
    assert!(
        stored.is_none(),
        "the logged-out data came back under the new id"
    );
    b.absorb(slow.context());
    let all = b.request(|s| Ok(s.all())).await.expect("next request");
    assert!(all.is_empty(), "{all:?}");
}

#[tokio::test]
async fn regenerating_replays_on_changes_made_meanwhile_to_the_old_record() {
    let (mut b, _, _) = recording(true);
    b.request(|s| s.put("cart", 1)).await.expect("seed");
    let login = b.begin().session().await.expect("login reads");
    let mut other = b.clone();
    other
        .request(|s| s.increment("cart"))
        .await
        .expect("concurrent add to cart");
    login.regenerate().expect("regenerate");
    login.put("user", 7).expect("put");
    login.commit().await.expect("commit");
    b.absorb(login.context());
    let all = b.request(|s| Ok(s.all())).await.expect("after login");
    assert_eq!(
        serde_json::Value::Object(all),
        json!({"cart": 2, "user": 7})
    );
}

/// Found by the `sealed_cookie` fuzz target: a stored record at version `u64::MAX` made the next
/// write overflow (a panic in debug builds).
#[tokio::test]
async fn a_record_at_the_largest_version_is_written_again() {
    use session_core::Record;

    let (mut b, driver, _) = recording(true);
    b.request(|s| s.put("n", 1)).await.expect("first write");
    let key = b.storage_key().await.expect("key");
    let mut record = driver.read(&key).await.expect("read").expect("stored");
    record.version = u64::MAX;
    driver.write(&key, &record, Some(1)).await.expect("write");
    for expected in [2, 3] {
        let n = b.request(|s| s.increment("n")).await.expect("increment");
        assert_eq!(n, serde_json::json!(expected));
    }
    let stored: Record = driver.read(&key).await.expect("read").expect("stored");
    assert_eq!(stored.version, 1, "u64::MAX, then 0, then 1");
}
