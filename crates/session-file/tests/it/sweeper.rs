//! The sweeper removes exactly the expired sessions (and the debris of crashed writes), never a
//! live one, never a locked one, and never follows a symlink.

use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use session_core::{Clock, Driver, Lifetimes, ManualClock, StorageKey};
use session_file::FileConfig;

use crate::common::{cx, driver_with, files, files_ending, key, n, record, IDLE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_files_exactly_the_expired_go() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("sessions");
    let clock = ManualClock::starting_now();
    let driver = driver_with(
        FileConfig::new(&location).with_fsync(false),
        Lifetimes::new(IDLE, None),
        Arc::new(clock.clone()),
    );
    let t0 = clock.now_ms();
    let old: Vec<StorageKey> = (0..1_000).map(|_| key()).collect();
    for (i, k) in old.iter().enumerate() {
        driver
            .write(&cx(), k, &record(n(i as u64), 1, t0))
            .await
            .expect("write");
    }
    clock.advance(Duration::from_secs(400));
    let t1 = clock.now_ms();
    let fresh: Vec<StorageKey> = (0..1_000).map(|_| key()).collect();
    for (i, k) in fresh.iter().enumerate() {
        driver
            .write(&cx(), k, &record(n(i as u64), 1, t1))
            .await
            .expect("write");
    }
    // A fifth of the old ones were used again (a cheap touch) and must stay.
    for k in old.iter().step_by(5) {
        driver.touch(&cx(), k, t1).await.expect("touch");
    }
    // Debris and foreign files.
    let shard = location.join(&fresh[0].as_str()[..2]);
    let stray_temp = shard.join(format!(".{}.Xy12Zw.tmp", fresh[0]));
    std::fs::write(&stray_temp, b"{\"format\":1,").expect("temp file");
    let orphan = key();
    let orphan_shard = location.join(&orphan.as_str()[..2]);
    std::fs::create_dir_all(&orphan_shard).expect("shard");
    let orphan_lock = orphan_shard.join(format!("{orphan}.lock"));
    std::fs::write(&orphan_lock, b"").expect("lock file");
    let corrupt = key();
    let corrupt_shard = location.join(&corrupt.as_str()[..2]);
    std::fs::create_dir_all(&corrupt_shard).expect("shard");
    let corrupt_path = corrupt_shard.join(format!("{corrupt}.session"));
    std::fs::write(&corrupt_path, b"{ truncated").expect("corrupt");
    File::options()
        .write(true)
        .open(&corrupt_path)
        .and_then(|f| f.set_modified(UNIX_EPOCH + Duration::from_millis(t0)))
        .expect("old");
    let foreign = [shard.join("notes.txt"), location.join("README")];
    for f in &foreign {
        std::fs::write(f, b"keep me").expect("foreign");
    }
    // A symlink named like a session, pointing outside at an expired record.
    let outside = dir.path().join("outside.session");
    std::fs::write(&outside, record(n(0), 1, t0).encode()).expect("outside");
    let link_key = key();
    let link_shard = location.join(&link_key.as_str()[..2]);
    std::fs::create_dir_all(&link_shard).expect("shard");
    let link = link_shard.join(format!("{link_key}.session"));
    std::os::unix::fs::symlink(&outside, &link).expect("symlink");

    clock.advance(Duration::from_secs(300));
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.expired, 800, "{report}");
    assert_eq!(report.unreadable, 1, "{report}");
    assert_eq!(report.temporary, 1, "{report}");
    assert_eq!(report.locks, 1, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(report.checked, 2_001, "{report}");

    for (i, k) in old.iter().enumerate() {
        let live = driver.read(&cx(), k).await.expect("read");
        assert_eq!(live.is_some(), i % 5 == 0, "old session {i}");
        assert_eq!(
            driver.session_path(k).exists(),
            i % 5 == 0,
            "old session {i}"
        );
    }
    for k in &fresh {
        assert!(driver.read(&cx(), k).await.expect("read").is_some());
    }
    assert!(!stray_temp.exists() && !orphan_lock.exists() && !corrupt_path.exists());
    for f in &foreign {
        assert_eq!(std::fs::read(f).expect("kept"), b"keep me");
    }
    assert!(
        link.symlink_metadata().is_ok(),
        "the symlink itself is left alone"
    );
    assert!(outside.exists(), "the symlink's target is never touched");
    // Removed sessions take their lock files with them.
    assert_eq!(files_ending(&location, ".session").len(), 1_200 + 1);
    assert!(files_ending(&location, ".lock").len() <= 1_200);

    let before = files(&location);
    let again = driver.sweep().await.expect("sweep");
    assert_eq!(again.removed(), 0, "{again}");
    assert_eq!(files(&location), before, "a second sweep changes nothing");
}

#[tokio::test]
async fn a_locked_session_is_left_for_the_next_sweep() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver_with(
        FileConfig::new(dir.path()),
        Lifetimes::new(IDLE, None),
        Arc::new(clock.clone()),
    );
    let k = key();
    driver
        .write(&cx(), &k, &record(json!(1), 1, clock.now_ms()))
        .await
        .expect("write");
    clock.advance(IDLE * 2);
    let lock_path = driver.session_path(&k).with_file_name(format!("{k}.lock"));
    let held = File::options()
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    held.lock().expect("lock");
    let report = driver.sweep().await.expect("sweep");
    assert_eq!((report.expired, report.busy), (0, 1), "{report}");
    assert!(driver.session_path(&k).exists());
    drop(held);
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.expired, 1, "{report}");
    assert!(!driver.session_path(&k).exists());
    assert!(!lock_path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_sweeper_runs_until_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver_with(
        FileConfig::new(dir.path()),
        Lifetimes::new(IDLE, None),
        Arc::new(clock.clone()),
    );
    let sweeper = driver.spawn_sweeper(Duration::from_millis(20));
    let k = key();
    driver
        .write(&cx(), &k, &record(json!(1), 1, clock.now_ms()))
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(driver.session_path(&k).exists(), "a live session stays");
    clock.advance(IDLE);
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if !driver.session_path(&k).exists() {
            gone = true;
            break;
        }
    }
    assert!(gone, "the background sweeper removed the expired session");
    assert!(!sweeper.is_finished());
    sweeper.stop();
}
