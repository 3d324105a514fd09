//! Corrupt, truncated, foreign and oversized files read as no session; touches are cheap and
//! expiry follows the injected clock.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use session_core::{Driver, Expected, Lifetimes, ManualClock, SystemClock, WriteOutcome};
use session_file::FileConfig;

use crate::common::{cx, driver, driver_with, key, record, IDLE};

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
    driver.write(&cx(), &key, &good).await.expect("write");
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
        assert_eq!(
            driver.read(&cx(), &key).await.expect("read"),
            None,
            "{bytes:?}"
        );
        // A touch leaves it alone, and a new session may take its place.
        driver.touch(&cx(), &key, now + 1).await.expect("touch");
        assert_eq!(std::fs::read(&path).expect("file"), bytes);
    }
    assert_eq!(
        driver
            .write_if(&cx(), &key, &good, Expected::Absent)
            .await
            .expect("write_if"),
        WriteOutcome::Written
    );
    assert_eq!(
        driver.read(&cx(), &key).await.expect("read"),
        Some(good.clone())
    );

    // Oversized (sparse, so cheap) and non-regular files.
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(17 * 1024 * 1024))
        .expect("large file");
    assert_eq!(driver.read(&cx(), &key).await.expect("read"), None);
    std::fs::remove_file(&path).expect("remove");
    std::fs::create_dir(&path).expect("a folder in its place");
    assert_eq!(driver.read(&cx(), &key).await.expect("read"), None);
    std::fs::remove_dir(&path).expect("remove");

    // A symlink to a valid session elsewhere is not followed.
    let elsewhere = dir.path().join("elsewhere.session");
    std::fs::write(&elsewhere, good.encode()).expect("file");
    std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
    assert_eq!(driver.read(&cx(), &key).await.expect("read"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let driver = driver(dir.path(), Arc::new(SystemClock));
        let key = key();
        runtime().block_on(async {
            driver.write(&cx(), &key, &record(json!(1), 1, 0)).await.expect("write");
            std::fs::write(driver.session_path(&key), &bytes).expect("overwrite");
            let read = driver.read(&cx(), &key).await.expect("never an error");
            prop_assert!(read.is_none() || session_core::Record::decode(&bytes).is_some());
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn touch_moves_only_the_file_time_and_never_revives() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A clock far from the wall clock: expiry must follow it, not the file system's time.
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let key = key();
    let first = record(json!(1), 1, 1_000_000);
    driver.write(&cx(), &key, &first).await.expect("write");
    let path = driver.session_path(&key);
    let bytes = std::fs::read(&path).expect("file");

    clock.advance(IDLE / 2);
    let touched_at = 1_000_000 + (IDLE / 2).as_millis() as u64;
    driver.touch(&cx(), &key, touched_at).await.expect("touch");
    assert_eq!(
        std::fs::read(&path).expect("file"),
        bytes,
        "touch rewrote the file"
    );
    let read = driver.read(&cx(), &key).await.expect("read").expect("live");
    assert_eq!(read.last_active, touched_at);
    assert_eq!(read.version, 1);

    // Used within its idle age, it lives on past the first idle deadline …
    clock.advance(IDLE * 3 / 4);
    assert!(driver.read(&cx(), &key).await.expect("read").is_some());
    // … and expires a full idle age after the touch.
    clock.advance(IDLE / 2);
    assert!(driver.read(&cx(), &key).await.expect("read").is_none());
    // A late touch does not bring it back.
    let late = session_core::Clock::now_ms(&clock);
    driver.touch(&cx(), &key, late).await.expect("touch");
    assert!(driver.read(&cx(), &key).await.expect("read").is_none());
    // Touching a missing session creates nothing.
    let other = crate::common::key();
    driver.touch(&cx(), &other, late).await.expect("touch");
    assert!(!driver.session_path(&other).exists());
}

#[tokio::test]
async fn absolute_lifetime_is_checked_on_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(5_000_000);
    let driver = driver_with(
        FileConfig::new(dir.path()).with_fsync(false),
        Lifetimes::new(IDLE, Some(IDLE * 2)),
        Arc::new(clock.clone()),
    );
    let key = key();
    driver
        .write(&cx(), &key, &record(json!(1), 1, 5_000_000))
        .await
        .expect("write");
    for _ in 0..4 {
        clock.advance(IDLE / 2 - Duration::from_secs(1));
        let now = session_core::Clock::now_ms(&clock);
        driver.touch(&cx(), &key, now).await.expect("touch");
    }
    assert!(driver.read(&cx(), &key).await.expect("read").is_some());
    clock.advance(Duration::from_secs(10));
    assert!(driver.read(&cx(), &key).await.expect("read").is_none());
}
