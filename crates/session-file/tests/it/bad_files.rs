//! Corrupt, truncated, foreign and oversized files read as no session; refreshes are cheap, take
//! the session's lock and follow the injected clock.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use session_core::{ManualClock, Record, SessionStore, SystemClock, WriteOutcome};
use session_file::FileConfig;

use crate::common::{driver, driver_with, key, record, IDLE, IDLE_MS};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

#[tokio::test]
async fn bad_files_read_as_no_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let key = key();
    let now = session_core::Clock::now_ms(&clock);
    let good = record(json!(7), 1, now);
    assert_eq!(
        driver.write(&key, &good, None).await.expect("write"),
        WriteOutcome::Written
    );
    let path = driver.session_path(&key);
    let encoded = good.encode();
    let mut future_format = serde_json::to_value(&good).expect("json");
    future_format["format"] = json!(99);
    let contents: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        encoded[..encoded.len() / 2].to_vec(),
        encoded[..encoded.len() - 1].to_vec(),
        br#"{"user":"someone else's app"}"#.to_vec(),
        serde_json::to_vec(&future_format).expect("json"),
        vec![0xff; 300],
    ];
    for bytes in contents {
        std::fs::write(&path, &bytes).expect("overwrite");
        assert_eq!(driver.read(&key).await.expect("read"), None, "{bytes:?}");
        // A refresh leaves it alone, and a version expected on it finds no session.
        driver
            .refresh(&key, now + 1, now + 1 + IDLE_MS)
            .await
            .expect("refresh");
        assert_eq!(std::fs::read(&path).expect("file"), bytes);
        assert_eq!(
            driver.write(&key, &good, Some(1)).await.expect("write"),
            WriteOutcome::Gone
        );
        assert_eq!(std::fs::read(&path).expect("file"), bytes);
    }
    // A new session may take its place.
    assert_eq!(
        driver.write(&key, &good, None).await.expect("write"),
        WriteOutcome::Written
    );
    assert_eq!(driver.read(&key).await.expect("read"), Some(good.clone()));

    // Oversized (sparse, so cheap) and non-regular files.
    File::create(&path)
        .and_then(|f| f.set_len(17 * 1024 * 1024))
        .expect("large file");
    assert_eq!(driver.read(&key).await.expect("read"), None);
    std::fs::remove_file(&path).expect("remove");
    std::fs::create_dir(&path).expect("a folder in its place");
    assert_eq!(driver.read(&key).await.expect("read"), None);
    std::fs::remove_dir(&path).expect("remove");

    // A symlink to a valid session elsewhere is not followed.
    let elsewhere = dir.path().join("elsewhere.session");
    std::fs::write(&elsewhere, good.encode()).expect("file");
    std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
    assert_eq!(driver.read(&key).await.expect("read"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let driver = driver(dir.path(), Arc::new(SystemClock));
        let key = key();
        runtime().block_on(async {
            let long_lived = Record::new(Default::default(), 0, u64::MAX);
            driver.write(&key, &long_lived, None).await.expect("write");
            std::fs::write(driver.session_path(&key), &bytes).expect("overwrite");
            let read = driver.read(&key).await.expect("never an error");
            prop_assert!(read.is_none() || Record::decode(&bytes).is_some());
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn a_refresh_moves_only_the_file_time_and_never_revives() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A clock far from the wall clock: expiry must follow it, not the file system's time.
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let key = key();
    let first = record(json!(1), 1, 1_000_000);
    driver.write(&key, &first, None).await.expect("write");
    let path = driver.session_path(&key);
    let bytes = std::fs::read(&path).expect("file");

    clock.advance(IDLE / 2);
    let refreshed_at = 1_000_000 + IDLE_MS / 2;
    driver
        .refresh(&key, refreshed_at, refreshed_at + IDLE_MS)
        .await
        .expect("refresh");
    assert_eq!(
        std::fs::read(&path).expect("file"),
        bytes,
        "the refresh rewrote the file"
    );
    let read = driver.read(&key).await.expect("read").expect("live");
    assert_eq!(
        (read.last_active, read.expires_at, read.version),
        (refreshed_at, refreshed_at + IDLE_MS, 1)
    );
    assert_eq!((read.data, read.created_at), (first.data, first.created_at));

    // Used within its idle age, it lives on past the first expiry …
    clock.advance(IDLE * 3 / 4);
    assert!(driver.read(&key).await.expect("read").is_some());
    // … and expires a full idle age after the refresh.
    clock.advance(IDLE / 2);
    assert!(driver.read(&key).await.expect("read").is_none());
    // A late refresh does not bring it back.
    let late = session_core::Clock::now_ms(&clock);
    driver
        .refresh(&key, late, late + IDLE_MS)
        .await
        .expect("refresh");
    assert!(driver.read(&key).await.expect("read").is_none());
    assert_eq!(std::fs::read(&path).expect("file"), bytes);
    // Refreshing a missing session creates nothing, not even a lock file.
    let other = crate::common::key();
    driver
        .refresh(&other, late, late + IDLE_MS)
        .await
        .expect("refresh");
    assert!(!driver.session_path(&other).exists());
    assert!(!driver.session_path(&other).with_extension("lock").exists());
}

#[tokio::test]
async fn a_refresh_that_changes_the_expiry_span_rewrites_the_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(5_000_000);
    let driver = driver_with(
        FileConfig::new(dir.path()).with_fsync(false),
        Arc::new(clock.clone()),
    );
    let key = key();
    let created = 5_000_000;
    // An absolute lifetime of two idle ages, as the core computes it.
    let absolute_end = created + 2 * IDLE_MS;
    let expiry = |at: u64| (at + IDLE_MS).min(absolute_end);
    let written = record(json!(1), 1, created);
    driver.write(&key, &written, None).await.expect("write");
    for _ in 0..4 {
        clock.advance(IDLE / 2 - Duration::from_secs(1));
        let now = session_core::Clock::now_ms(&clock);
        driver
            .refresh(&key, now, expiry(now))
            .await
            .expect("refresh");
        let read = driver.read(&key).await.expect("read").expect("live");
        assert_eq!((read.last_active, read.expires_at), (now, expiry(now)));
        assert_eq!((read.version, read.data.clone()), (1, written.data.clone()));
    }
    // The absolute end held through the refreshes: the record expires there, used or not.
    clock.advance(Duration::from_millis(
        absolute_end - session_core::Clock::now_ms(&clock) - 1,
    ));
    assert!(driver.read(&key).await.expect("read").is_some());
    clock.advance(Duration::from_millis(1));
    assert!(driver.read(&key).await.expect("read").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_waits_for_the_sessions_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let key = key();
    driver
        .write(&key, &record(json!(1), 1, 1_000_000), None)
        .await
        .expect("write");
    // Another process holds the session's lock, in the middle of a write or a destroy.
    let lock_path = driver
        .session_path(&key)
        .with_file_name(format!("{key}.lock"));
    let holder = File::options()
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    holder.lock().expect("lock");

    let refreshing = tokio::spawn({
        let (driver, key) = (driver.clone(), key.clone());
        async move {
            driver
                .refresh(&key, 1_000_500, 1_000_500 + IDLE_MS)
                .await
                .expect("refresh");
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!refreshing.is_finished(), "the refresh went past the lock");
    let read = driver.read(&key).await.expect("read").expect("live");
    assert_eq!(read.last_active, 1_000_000);

    drop(holder);
    refreshing.await.expect("refresh task");
    let read = driver.read(&key).await.expect("read").expect("live");
    assert_eq!(read.last_active, 1_000_500);
}

#[tokio::test]
async fn destroying_an_expired_or_unreadable_session_removes_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let expired = key();
    driver
        .write(&expired, &record(json!(1), 1, 1_000_000), None)
        .await
        .expect("write");
    let unreadable = key();
    driver
        .write(&unreadable, &record(json!(2), 1, 1_000_000), None)
        .await
        .expect("write");
    std::fs::write(driver.session_path(&unreadable), b"{ truncated").expect("corrupt");
    clock.advance(IDLE);
    for key in [&expired, &unreadable] {
        assert_eq!(
            driver.destroy(key, 1).await.expect("destroy"),
            WriteOutcome::Gone
        );
        assert!(!driver.session_path(key).exists());
        assert!(!driver
            .session_path(key)
            .with_file_name(format!("{key}.lock"))
            .exists());
    }
}
