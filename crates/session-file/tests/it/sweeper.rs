//! The sweeper removes exactly the expired sessions (and the debris of crashed writes), never a
//! live one, never a locked one, and never follows a symlink.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use session_core::{Clock, ManualClock, SessionStore, StorageKey};
use session_file::{FileConfig, FileDriver, TEMP_FILE_MIN_AGE, UNREADABLE_FILE_MIN_AGE};

use crate::common::{driver, driver_with, files, files_ending, key, n, record, IDLE, IDLE_MS};

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).expect("fits")
}

/// Sets a file's modification time, as the clock of a crashed writer would have left it.
fn set_mtime(path: &Path, at_ms: u64) {
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(UNIX_EPOCH + Duration::from_millis(at_ms)))
        .expect("set the modification time");
}

/// The path of a temporary file of `key` as a writer creates it (`.<key>.<random>.tmp` in the
/// session's shard), holding the first half of a record, as a writer killed mid-write leaves it.
fn crashed_temp_file(driver: &FileDriver, key: &StorageKey, random: &str) -> PathBuf {
    let shard = driver.session_path(key).parent().expect("shard").to_owned();
    std::fs::create_dir_all(&shard).expect("shard");
    let path = shard.join(format!(".{key}.{random}.tmp"));
    let whole = record(json!("a value"), 2, 0).encode();
    std::fs::write(&path, &whole[..whole.len() / 2]).expect("temp file");
    path
}

fn lock_path(driver: &FileDriver, key: &StorageKey) -> PathBuf {
    driver
        .session_path(key)
        .with_file_name(format!("{key}.lock"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_files_exactly_the_expired_go() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("sessions");
    let clock = ManualClock::starting_now();
    let driver = driver_with(
        FileConfig::new(&location).with_fsync(false),
        Arc::new(clock.clone()),
    );
    let t0 = clock.now_ms();
    let old: Vec<StorageKey> = (0..1_000).map(|_| key()).collect();
    for (i, k) in old.iter().enumerate() {
        driver
            .write(k, &record(n(i as u64), 1, t0), None)
            .await
            .expect("write");
    }
    clock.advance(Duration::from_secs(400));
    let t1 = clock.now_ms();
    let fresh: Vec<StorageKey> = (0..1_000).map(|_| key()).collect();
    for (i, k) in fresh.iter().enumerate() {
        driver
            .write(k, &record(n(i as u64), 1, t1), None)
            .await
            .expect("write");
    }
    // A fifth of the old ones were used again (a refresh) and must stay.
    for k in old.iter().step_by(5) {
        driver.refresh(k, t1, t1 + IDLE_MS).await.expect("refresh");
    }
    // Debris and foreign files.
    let shard = location.join(&fresh[0].as_str()[..2]);
    let stray_temp = shard.join(format!(".{}.Xy12Zw.tmp", fresh[0]));
    std::fs::write(&stray_temp, b"{\"format\":1,").expect("temp file");
    set_mtime(&stray_temp, t0 - ms(TEMP_FILE_MIN_AGE));
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
    set_mtime(&corrupt_path, t0 - ms(UNREADABLE_FILE_MIN_AGE));
    // An unreadable file younger than the minimum age stays.
    let young_corrupt = key();
    let young_corrupt_shard = location.join(&young_corrupt.as_str()[..2]);
    std::fs::create_dir_all(&young_corrupt_shard).expect("shard");
    let young_corrupt_path = young_corrupt_shard.join(format!("{young_corrupt}.session"));
    std::fs::write(&young_corrupt_path, b"{\"format\":2}").expect("corrupt");
    set_mtime(&young_corrupt_path, t0);
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
    assert_eq!(report.checked, 2_002, "{report}");

    for (i, k) in old.iter().enumerate() {
        let live = driver.read(k).await.expect("read");
        assert_eq!(live.is_some(), i % 5 == 0, "old session {i}");
        assert_eq!(
            driver.session_path(k).exists(),
            i % 5 == 0,
            "old session {i}"
        );
    }
    for k in &fresh {
        assert!(driver.read(k).await.expect("read").is_some());
    }
    assert!(!stray_temp.exists() && !orphan_lock.exists() && !corrupt_path.exists());
    assert!(young_corrupt_path.exists(), "a young unreadable file stays");
    for f in &foreign {
        assert_eq!(std::fs::read(f).expect("kept"), b"keep me");
    }
    assert!(
        link.symlink_metadata().is_ok(),
        "the symlink itself is left alone"
    );
    assert!(outside.exists(), "the symlink's target is never touched");
    // Removed sessions take their lock files with them.
    assert_eq!(files_ending(&location, ".session").len(), 1_200 + 2);
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
    let driver = driver_with(FileConfig::new(dir.path()), Arc::new(clock.clone()));
    let k = key();
    driver
        .write(&k, &record(json!(1), 1, clock.now_ms()), None)
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
    let driver = driver_with(FileConfig::new(dir.path()), Arc::new(clock.clone()));
    let sweeper = driver.spawn_sweeper(Duration::from_millis(20));
    let k = key();
    driver
        .write(&k, &record(json!(1), 1, clock.now_ms()), None)
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

#[tokio::test]
async fn temporary_files_of_crashed_writes_go_once_old_enough() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let now = clock.now_ms();

    // A session that was being rewritten when its process died: the old record, its lock file
    // and the half-written temporary file of the new one.
    let rewritten = key();
    driver
        .write(&rewritten, &record(json!("old"), 1, now), None)
        .await
        .expect("write");
    let old_temp = crashed_temp_file(&driver, &rewritten, "aB3dE9");
    set_mtime(&old_temp, now - ms(TEMP_FILE_MIN_AGE) - 1_000);
    // A new session whose first write was interrupted: only the lock and temporary files.
    let never_written = key();
    let orphan_temp = crashed_temp_file(&driver, &never_written, "Zz0yY1");
    std::fs::write(lock_path(&driver, &never_written), b"").expect("lock file");
    set_mtime(&orphan_temp, now - ms(TEMP_FILE_MIN_AGE));
    // A temporary file younger than the minimum age stays, even with its lock free.
    let young_key = key();
    let young_temp = crashed_temp_file(&driver, &young_key, "Qq7wW8");
    set_mtime(&young_temp, now - ms(TEMP_FILE_MIN_AGE) + 1_000);
    // A file just written, with the operating system's time.
    let fresh_key = key();
    let fresh_temp = crashed_temp_file(&driver, &fresh_key, "Ff5gG6");

    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.temporary, 2, "{report}");
    assert_eq!(
        (
            report.expired,
            report.unreadable,
            report.busy,
            report.errors
        ),
        (0, 0, 0, 0),
        "{report}"
    );
    assert!(!old_temp.exists(), "an old temporary file is removed");
    assert!(
        !orphan_temp.exists(),
        "an old orphan temporary file is removed"
    );
    assert!(
        young_temp.exists(),
        "a temporary file under the minimum age stays"
    );
    assert!(fresh_temp.exists(), "a fresh temporary file stays");
    // The interrupted rewrite did not touch the session; its lock goes with it, not before.
    assert_eq!(
        driver
            .read(&rewritten)
            .await
            .expect("read")
            .map(|r| r.data["n"].clone()),
        Some(json!("old"))
    );
    assert!(lock_path(&driver, &rewritten).exists());
    // The interrupted first write left nothing that is still needed.
    assert!(!lock_path(&driver, &never_written).exists());
    assert!(!driver.session_path(&never_written).exists());
    // The sweep's own lock files for the young ones are not left behind.
    assert!(!lock_path(&driver, &young_key).exists());
    assert!(!lock_path(&driver, &fresh_key).exists());

    // Once the clock has moved past the minimum age, the next sweep takes the rest (and the
    // session, expired by then).
    clock.advance(TEMP_FILE_MIN_AGE + Duration::from_secs(60));
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.temporary, 2, "{report}");
    assert_eq!(report.expired, 1, "{report}");
    assert!(!young_temp.exists() && !fresh_temp.exists());
    assert_eq!(
        files(dir.path()),
        Vec::<PathBuf>::new(),
        "no temporary, lock or session file is left"
    );
}

#[tokio::test]
async fn an_old_temporary_file_of_a_write_in_progress_is_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let k = key();
    driver
        .write(&k, &record(json!(1), 1, clock.now_ms()), None)
        .await
        .expect("write");
    // A writer in another process holds the session's lock while it writes; its temporary file
    // looks old because a write dates it to the session's activity time.
    let temp = crashed_temp_file(&driver, &k, "wR1t3s");
    set_mtime(&temp, clock.now_ms() - 2 * ms(TEMP_FILE_MIN_AGE));
    let writer = File::options()
        .write(true)
        .open(lock_path(&driver, &k))
        .expect("lock file");
    writer.lock().expect("lock");

    let report = driver.sweep().await.expect("sweep");
    assert_eq!((report.temporary, report.busy), (0, 1), "{report}");
    assert!(
        temp.exists(),
        "the write in progress keeps its temporary file"
    );

    drop(writer);
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.temporary, 1, "{report}");
    assert!(!temp.exists());
    assert!(driver.read(&k).await.expect("read").is_some());
}

#[tokio::test]
async fn a_probe_file_left_by_a_crashed_start_up_goes_once_old_enough() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let now = clock.now_ms();
    let old_probe = dir.path().join(".probe.aB3dE9");
    let fresh_probe = dir.path().join(".probe.Zz0yY1");
    let not_a_probe = dir.path().join(".probe.notes");
    for path in [&old_probe, &fresh_probe, &not_a_probe] {
        std::fs::write(path, b"").expect("file");
    }
    set_mtime(&old_probe, now - ms(TEMP_FILE_MIN_AGE));
    set_mtime(&not_a_probe, now - 2 * ms(TEMP_FILE_MIN_AGE));

    let report = driver.sweep().await.expect("sweep");
    assert_eq!((report.temporary, report.errors), (1, 0), "{report}");
    assert!(!old_probe.exists());
    assert!(
        fresh_probe.exists(),
        "a probe of a start-up under way stays"
    );
    assert!(
        not_a_probe.exists(),
        "a name the driver does not create stays"
    );
}

#[tokio::test]
async fn lock_files_go_only_when_no_session_needs_them_and_nobody_holds_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::starting_now();
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let live = key();
    driver
        .write(&live, &record(json!(1), 1, clock.now_ms()), None)
        .await
        .expect("write");
    let orphan = key();
    let held = key();
    for k in [&orphan, &held] {
        let path = lock_path(&driver, k);
        std::fs::create_dir_all(path.parent().expect("shard")).expect("shard");
        std::fs::write(&path, b"").expect("lock file");
    }
    // Another process holds the lock of a session it is about to create.
    let holder = File::options()
        .write(true)
        .open(lock_path(&driver, &held))
        .expect("lock file");
    holder.lock().expect("lock");

    let report = driver.sweep().await.expect("sweep");
    assert_eq!((report.locks, report.busy), (1, 1), "{report}");
    assert!(
        lock_path(&driver, &live).exists(),
        "a live session keeps its lock file"
    );
    assert!(
        !lock_path(&driver, &orphan).exists(),
        "an orphan lock file goes"
    );
    assert!(lock_path(&driver, &held).exists(), "a held lock file stays");
    // The holder still holds the lock at the path: nobody else can take it.
    let other = File::options()
        .write(true)
        .open(lock_path(&driver, &held))
        .expect("lock file");
    assert!(other.try_lock().is_err(), "mutual exclusion holds");

    drop((holder, other));
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.locks, 1, "{report}");
    assert!(!lock_path(&driver, &held).exists());
}
