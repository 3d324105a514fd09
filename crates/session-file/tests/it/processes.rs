//! Several OS processes on one folder: no lost update across processes, and writers killed with
//! SIGKILL never leave a half-written session behind.
//!
//! The child processes are this test executable itself, re-run with `--exact` on
//! [`child_process_entry_point`] and an environment variable naming the role; without that
//! variable the entry point returns at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::json;
use session_core::{Record, SessionStore, StorageKey, SystemClock, WriteOutcome};
use session_file::{FileDriver, TEMP_FILE_MIN_AGE};

use crate::common::{driver, files_ending, key, record};

const ROLE: &str = "SESSION_FILE_TEST_CHILD_ROLE";
const DIR: &str = "SESSION_FILE_TEST_CHILD_DIR";
const KEYS: &str = "SESSION_FILE_TEST_CHILD_KEYS";
const COUNT: &str = "SESSION_FILE_TEST_CHILD_COUNT";

const INCREMENTS_PER_PROCESS: u64 = 150;

/// The body of a child process; a no-op unless [`ROLE`] is set.
#[test]
fn child_process_entry_point() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(DIR).expect("folder"));
    let keys: Vec<StorageKey> = std::env::var(KEYS)
        .expect("keys")
        .split(',')
        .map(|k| StorageKey::parse(k).expect("key"))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let driver = driver(&dir, Arc::new(SystemClock));
    runtime.block_on(async {
        match role.as_str() {
            "increment" => {
                let count: u64 = std::env::var(COUNT).expect("count").parse().expect("count");
                for _ in 0..count {
                    increment(&driver, &keys[0]).await;
                }
            }
            "write-forever" => write_forever(&driver, &keys).await,
            other => panic!("unknown role {other}"),
        }
    });
}

/// Adds one to `n` with the atomic update, retrying on conflicts.
async fn increment(driver: &FileDriver, key: &StorageKey) {
    loop {
        let current = driver
            .read(key)
            .await
            .expect("read")
            .expect("the session exists");
        let n = current.data["n"].as_u64().expect("a number");
        let mut next = record(json!(n + 1), current.version + 1, now());
        next.created_at = current.created_at;
        match driver
            .write(key, &next, Some(current.version))
            .await
            .expect("write")
        {
            WriteOutcome::Written => return,
            WriteOutcome::Conflict => continue,
            WriteOutcome::Gone => panic!("the session vanished"),
        }
    }
}

/// Rewrites the sessions with large records until killed.
async fn write_forever(driver: &FileDriver, keys: &[StorageKey]) {
    for i in 0u64.. {
        let key = &keys[(i as usize) % keys.len()];
        // The only writer: the version read is the one to expect.
        let expected = driver.read(key).await.expect("read").map(|r| r.version);
        let mut r = record(json!(i), expected.map_or(1, |v| v + 1), now());
        // Large records keep each write busy long enough for the kill to land inside one.
        r.data.insert(
            "pad".to_owned(),
            json!("x".repeat(64 * 1024 + (i as usize % 4096))),
        );
        assert_eq!(
            driver.write(key, &r, expected).await.expect("write"),
            WriteOutcome::Written
        );
    }
}

fn now() -> u64 {
    session_core::Clock::now_ms(&SystemClock)
}

fn child(role: &str, dir: &Path, keys: &[StorageKey]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("test executable"));
    command
        .args([
            "--exact",
            "processes::child_process_entry_point",
            "--test-threads=1",
        ])
        .env(ROLE, role)
        .env(DIR, dir)
        .env(
            KEYS,
            keys.iter()
                .map(StorageKey::as_str)
                .collect::<Vec<_>>()
                .join(","),
        );
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_incrementing_one_session_lose_no_update() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("sessions");
    let driver = driver(&location, Arc::new(SystemClock));
    let key = key();
    let start = record(json!(0), 1, now());
    assert_eq!(
        driver.write(&key, &start, None).await.expect("write"),
        WriteOutcome::Written
    );
    let children: Vec<_> = (0..2)
        .map(|_| {
            child("increment", &location, std::slice::from_ref(&key))
                .env(COUNT, INCREMENTS_PER_PROCESS.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a child process")
        })
        .collect();
    // This process increments too, at the same time.
    for _ in 0..50 {
        increment(&driver, &key).await;
    }
    for c in children {
        let out = c.wait_with_output().expect("child");
        assert!(
            out.status.success(),
            "child failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let end = driver.read(&key).await.expect("read").expect("session");
    let total = 2 * INCREMENTS_PER_PROCESS + 50;
    assert_eq!(end.data["n"], json!(total), "lost updates");
    assert_eq!(end.version, 1 + total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_killed_mid_write_leave_only_whole_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let location = dir.path().join("sessions");
    let driver = driver(&location, Arc::new(SystemClock));
    let keys: Vec<StorageKey> = (0..4).map(|_| key()).collect();
    let mut temp_seen = 0;
    for round in 0..12u64 {
        let mut writer = child("write-forever", &location, &keys)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a writer");
        // Wait until the writer is writing, then let it run for a varying time.
        let deadline = Instant::now() + Duration::from_secs(20);
        while files_ending(&location, ".session").is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20 + 13 * round));
        writer.kill().expect("SIGKILL");
        writer.wait().expect("reaped");

        for path in files_ending(&location, ".session") {
            let bytes = std::fs::read(&path).expect("readable");
            assert!(
                Record::decode(&bytes).is_some(),
                "round {round}: {} does not parse ({} bytes)",
                path.display(),
                bytes.len()
            );
        }
        temp_seen = temp_seen.max(files_ending(&location, ".tmp").len());
    }
    for key in &keys {
        assert!(
            driver.read(key).await.expect("read").is_some(),
            "every session written survives"
        );
    }
    let temps = files_ending(&location, ".tmp");
    // The sweeper leaves temporary files alone until they are `TEMP_FILE_MIN_AGE` old: date
    // the debris of the killed writers back by that much, as if the sweep ran later.
    let dated = now() - u64::try_from(TEMP_FILE_MIN_AGE.as_millis()).expect("fits");
    for path in &temps {
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(UNIX_EPOCH + Duration::from_millis(dated)))
            .expect("set the modification time");
    }
    let temps = temps.len();
    let report = driver.sweep().await.expect("sweep");
    assert_eq!(report.temporary, temps, "{report}");
    assert_eq!(report.expired, 0, "{report}");
    assert!(files_ending(&location, ".tmp").is_empty());
    // Temporary files never pile up: at most one per killed writer remains between sweeps.
    assert!(temp_seen <= 12, "{temp_seen} temporary files");
    for key in &keys {
        assert!(driver.read(key).await.expect("read").is_some());
    }
    eprintln!(
        "killed 12 writers; up to {temp_seen} temporary files left before the sweep: {report}"
    );
}
