//! The tag index on disk: entries made before the record, listings that never miss a live
//! tagged session and clean up after themselves, the sweeper's pruning, and hostile tags.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use session_core::{
    Clock, ManualClock, Record, Session, SessionConfig, SessionManager, SessionStore, StorageKey,
    TaggedStore, WriteOutcome, MAX_TAG_LEN,
};
use session_file::{FileConfig, FileDriver};

use crate::common::{driver, driver_with, files, key, IDLE_MS};

fn manager(driver: &FileDriver, clock: &ManualClock) -> SessionManager {
    SessionManager::builder(
        SessionConfig::new()
            .with_key("a secret of at least thirty-two bytes!!")
            .with_age("10m"),
    )
    .driver(driver.clone())
    .with_clock(Arc::new(clock.clone()))
    .build()
    .expect("a manager")
}

/// A request of the browser holding `cookie` (none: a new visitor), running `work` on its
/// session and committing; the cookie the browser holds afterwards and the session's handle.
async fn request(
    manager: &SessionManager,
    cookie: Option<&str>,
    work: impl FnOnce(&Session),
) -> (String, StorageKey) {
    let request = manager.start_request(cookie);
    let session = request.session().await.expect("a session");
    work(&session);
    request.commit().await.expect("commit");
    let cookie = request
        .id_cookie()
        .or_else(|| cookie.map(str::to_owned))
        .expect("an id cookie");
    (cookie, session.handle())
}

/// The handles `tag` lists, sorted.
async fn handles(manager: &SessionManager, tag: &str) -> Vec<StorageKey> {
    let mut listed: Vec<StorageKey> = manager
        .tagged_sessions(tag)
        .await
        .expect("a listing")
        .into_iter()
        .map(|s| s.handle)
        .collect();
    listed.sort();
    listed
}

/// The names in the index folder of `tag`, sorted (none when the folder is missing).
fn entries(driver: &FileDriver, tag: &str) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(driver.tag_path(tag)) {
        Ok(list) => list
            .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    names.sort();
    names
}

fn names(keys: &[&StorageKey]) -> Vec<String> {
    let mut names: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    names.sort();
    names
}

/// A record tagged `tag` (or untagged), version 1, active at `now`.
fn tagged_record(tag: Option<&str>, now: u64) -> Record {
    let mut data = Map::new();
    data.insert("n".to_owned(), json!(1));
    if let Some(tag) = tag {
        data.insert(
            session_core::TAG_KEY.to_owned(),
            json!({ "value": tag, "at": now }),
        );
    }
    Record {
        version: 1,
        ..Record::new(data, now, now + IDLE_MS)
    }
}

#[tokio::test]
async fn login_tags_the_new_id_and_logout_removes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let manager = manager(&driver, &clock);
    assert!(manager.supports_tagging());

    let (cookie, before) = request(&manager, None, |s| s.put("cart", 3).unwrap()).await;
    assert!(!dir.path().join("tags").exists(), "no index without a tag");
    // Login: regenerate and tag in one request.
    let (cookie, after) = request(&manager, Some(&cookie), |s| {
        s.regenerate().unwrap();
        s.tag("user-42").unwrap();
    })
    .await;
    assert_ne!(before, after);
    assert!(!driver.session_path(&before).exists());
    assert_eq!(
        handles(&manager, "user-42").await,
        std::slice::from_ref(&after)
    );
    assert_eq!(entries(&driver, "user-42"), names(&[&after]));
    let listed = manager.tagged_sessions("user-42").await.unwrap();
    assert_eq!(listed[0].get::<u32>("cart"), Some(3));
    assert_eq!(listed[0].tagged_at, 1_000_000);

    // A second device of the same user.
    let (_, phone) = request(&manager, None, |s| s.tag("user-42").unwrap()).await;
    assert_eq!(entries(&driver, "user-42"), names(&[&after, &phone]));

    // Logout: the record goes, and its entry with it.
    request(&manager, Some(&cookie), |s| s.flush().unwrap()).await;
    assert!(!driver.session_path(&after).exists());
    assert_eq!(entries(&driver, "user-42"), names(&[&phone]));
    assert_eq!(
        handles(&manager, "user-42").await,
        std::slice::from_ref(&phone)
    );

    // Log out everywhere.
    assert_eq!(
        manager
            .destroy_tagged_sessions("user-42", None)
            .await
            .unwrap(),
        Some(1)
    );
    assert!(handles(&manager, "user-42").await.is_empty());
    assert!(entries(&driver, "user-42").is_empty());
}

#[tokio::test]
async fn untagging_and_retagging_move_the_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let manager = manager(&driver, &clock);

    let (cookie, key) = request(&manager, None, |s| {
        s.put("theme", "dark").unwrap();
        s.tag("ada").unwrap();
    })
    .await;
    assert_eq!(entries(&driver, "ada"), names(&[&key]));
    request(&manager, Some(&cookie), |s| s.tag("grace").unwrap()).await;
    assert!(entries(&driver, "ada").is_empty());
    assert_eq!(entries(&driver, "grace"), names(&[&key]));
    assert!(handles(&manager, "ada").await.is_empty());
    assert_eq!(handles(&manager, "grace").await, std::slice::from_ref(&key));

    request(&manager, Some(&cookie), |s| s.untag().unwrap()).await;
    assert!(entries(&driver, "grace").is_empty());
    assert!(handles(&manager, "grace").await.is_empty());
    assert!(
        driver.read(&key).await.unwrap().is_some(),
        "the session stays"
    );
}

#[tokio::test]
async fn a_listing_skips_and_removes_stale_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let now = clock.now_ms();
    let tag_dir = driver.tag_path("ada");

    let live = key();
    driver
        .write(&live, &tagged_record(Some("ada"), now), None)
        .await
        .unwrap();
    // Entries a crash or a copy could leave: a session that is gone, one untagged, one of
    // another tag, one expired.
    let gone = key();
    let untagged = key();
    let other = key();
    let expired = key();
    driver
        .write(&untagged, &tagged_record(None, now), None)
        .await
        .unwrap();
    driver
        .write(&other, &tagged_record(Some("grace"), now), None)
        .await
        .unwrap();
    let mut old = tagged_record(Some("ada"), now);
    old.expires_at = now + 1_000;
    driver.write(&expired, &old, None).await.unwrap();
    for k in [&gone, &untagged, &other] {
        std::fs::write(tag_dir.join(k.as_str()), b"").unwrap();
    }
    // Names that are not storage keys are left alone.
    std::fs::write(tag_dir.join("README"), b"notes").unwrap();
    std::fs::create_dir(tag_dir.join("AAAAAAAAAAAAAAAAAAAAAA.d")).unwrap();

    clock.advance(Duration::from_secs(2));
    let listed = driver.tagged("ada").await.unwrap();
    assert_eq!(listed.iter().map(|(k, _)| k).collect::<Vec<_>>(), [&live]);
    let mut left = entries(&driver, "ada");
    left.retain(|n| n.len() == 22);
    assert_eq!(left, names(&[&live]));
    assert!(tag_dir.join("README").exists());
    assert!(tag_dir.join("AAAAAAAAAAAAAAAAAAAAAA.d").exists());
    // The other tag's own entry is untouched, and no lock file is left for the session that
    // is gone.
    assert_eq!(entries(&driver, "grace"), names(&[&other]));
    assert!(!driver.session_path(&gone).with_extension("lock").exists());
    // The expired record itself stays for the sweeper.
    assert!(driver.session_path(&expired).exists());
}

#[tokio::test]
async fn an_expired_session_is_not_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let manager = manager(&driver, &clock);
    let (cookie, kept) = request(&manager, None, |s| s.tag("ada").unwrap()).await;
    let (_, left) = request(&manager, None, |s| s.tag("ada").unwrap()).await;
    clock.advance(Duration::from_secs(500));
    request(&manager, Some(&cookie), |s| s.put("n", 1).unwrap()).await;
    clock.advance(Duration::from_secs(200));
    assert_eq!(handles(&manager, "ada").await, std::slice::from_ref(&kept));
    assert_eq!(entries(&driver, "ada"), names(&[&kept]));
    assert!(driver.session_path(&left).exists(), "left for the sweeper");
}

#[tokio::test]
async fn the_sweeper_prunes_the_index_and_restores_lost_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let now = clock.now_ms();

    // Sessions of three tags, all expiring; one of "ada" stays live.
    let mut expiring = Vec::new();
    for tag in ["ada", "grace", "ada", "linus"] {
        let k = key();
        let mut record = tagged_record(Some(tag), now);
        record.expires_at = now + 1_000;
        driver.write(&k, &record, None).await.unwrap();
        expiring.push(k);
    }
    let live = key();
    driver
        .write(&live, &tagged_record(Some("ada"), now), None)
        .await
        .unwrap();
    // A stale entry nobody lists: its session is gone.
    let gone = key();
    std::fs::write(driver.tag_path("linus").join(gone.as_str()), b"").unwrap();

    clock.advance(Duration::from_secs(2));
    let report = driver.sweep().await.unwrap();
    assert_eq!(report.expired, 4, "{report}");
    assert_eq!(report.tags, 5, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(entries(&driver, "ada"), names(&[&live]));
    // The folders of tags left without sessions go.
    assert!(!driver.tag_path("grace").exists());
    assert!(!driver.tag_path("linus").exists());

    // An entry lost (a crash with fsync off) is added back by the next sweep.
    std::fs::remove_file(driver.tag_path("ada").join(live.as_str())).unwrap();
    let report = driver.sweep().await.unwrap();
    assert_eq!(report.removed(), 0, "{report}");
    assert_eq!(entries(&driver, "ada"), names(&[&live]));

    // Nothing else to do: the sweep is idempotent.
    let report = driver.sweep().await.unwrap();
    assert_eq!((report.removed(), report.errors), (0, 0), "{report}");
}

#[tokio::test]
async fn the_sweeper_leaves_entries_of_busy_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let gone = key();
    std::fs::create_dir_all(driver.tag_path("ada")).unwrap();
    std::fs::write(driver.tag_path("ada").join(gone.as_str()), b"").unwrap();
    // Another process holds the session's lock, as a writer that is about to write it does.
    let lock_path = driver.session_path(&gone).with_extension("lock");
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let report = driver.sweep().await.unwrap();
    // Busy twice: the lock file's own check, and the entry's.
    assert_eq!((report.tags, report.busy), (0, 2), "{report}");
    assert!(driver.tag_path("ada").join(gone.as_str()).exists());
    assert!(driver.tagged("ada").await.unwrap().is_empty());
    assert!(driver.tag_path("ada").join(gone.as_str()).exists());
    drop(held);
    let report = driver.sweep().await.unwrap();
    assert_eq!(report.tags, 1, "{report}");
    assert!(!driver.tag_path("ada").exists());
}

/// Every path under `root`: the session files in their shards, or the index's
/// `tags/<h2>/<h64>/<key>`.
fn assert_layout(root: &Path) {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    for path in files(root) {
        let parts: Vec<String> = path
            .strip_prefix(root)
            .expect("inside the root")
            .components()
            .map(|c| match c {
                Component::Normal(p) => p.to_str().expect("UTF-8").to_owned(),
                other => panic!("{other:?} in {path:?}"),
            })
            .collect();
        match parts.as_slice() {
            [shard, file] if shard.len() == 2 => {
                assert!(
                    file.ends_with(".session") || file.ends_with(".lock"),
                    "{path:?}"
                );
            }
            [tags, shard, digest, entry] if tags == "tags" => {
                assert!(hex(shard, 2) && hex(digest, 64), "{path:?}");
                assert!(digest.starts_with(shard.as_str()), "{path:?}");
                assert!(StorageKey::parse(entry).is_some(), "{path:?}");
            }
            _ => panic!("unexpected {path:?}"),
        }
    }
}

#[tokio::test]
async fn a_hostile_tag_never_reaches_a_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("sessions");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(&root, Arc::new(clock.clone()));
    let manager = manager(&driver, &clock);
    let tags = [
        "../../etc".to_owned(),
        "../../../../../../tmp/x".to_owned(),
        "/etc/passwd".to_owned(),
        "..".to_owned(),
        ".".to_owned(),
        "tags".to_owned(),
        "\u{0}".to_owned(),
        "a\u{0}/b".to_owned(),
        "Zoë 🦀 ユーザー".to_owned(),
        "%2e%2e%2f".to_owned(),
        "x".repeat(MAX_TAG_LEN),
        "/".repeat(MAX_TAG_LEN),
    ];
    for tag in &tags {
        let (_, key) = request(&manager, None, |s| s.tag(tag).unwrap()).await;
        assert_eq!(
            handles(&manager, tag).await,
            std::slice::from_ref(&key),
            "{tag:?}"
        );
    }
    for tag in &tags {
        let folder = driver.tag_path(tag);
        assert!(folder.starts_with(root.join("tags")), "{tag:?}");
        assert_eq!(entries(&driver, tag).len(), 1, "{tag:?}");
    }
    assert_layout(&root);
    // Nothing beside the folder.
    let beside: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(beside, std::slice::from_ref(&root));
    // A prefix of a tag is another tag.
    assert!(handles(&manager, "a").await.is_empty());
    assert!(handles(&manager, &"x".repeat(MAX_TAG_LEN - 1))
        .await
        .is_empty());
}

#[tokio::test]
async fn a_corrupt_record_reads_as_no_session_and_the_listing_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let manager = manager(&driver, &clock);
    let (_, broken) = request(&manager, None, |s| s.tag("ada").unwrap()).await;
    let (_, fine) = request(&manager, None, |s| s.tag("ada").unwrap()).await;
    let path = driver.session_path(&broken);
    let whole = std::fs::read(&path).unwrap();
    for contents in [
        Vec::new(),
        whole[..whole.len() / 2].to_vec(),
        b"garbage".to_vec(),
        vec![0xff; 64],
    ] {
        std::fs::write(&path, &contents).unwrap();
        assert_eq!(driver.read(&broken).await.unwrap(), None);
        assert_eq!(handles(&manager, "ada").await, std::slice::from_ref(&fine));
        // Kept, as the sweeper keeps the file for a day (a newer release's format).
        assert_eq!(entries(&driver, "ada"), names(&[&broken, &fine]));
        let report = driver.sweep().await.unwrap();
        assert_eq!((report.tags, report.errors), (0, 0), "{report}");
    }
    // A folder in place of the record: not a session either.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_eq!(handles(&manager, "ada").await, std::slice::from_ref(&fine));
}

/// A record written through the store with a tag longer than `Session::tag` allows is still
/// indexed under its digest.
#[tokio::test]
async fn any_tag_a_record_carries_is_indexed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver(dir.path(), Arc::new(clock.clone()));
    let long = "y".repeat(10_000);
    let k = key();
    let written = driver
        .write(&k, &tagged_record(Some(&long), clock.now_ms()), None)
        .await
        .unwrap();
    assert_eq!(written, WriteOutcome::Written);
    let listed = driver.tagged(&long).await.unwrap();
    assert_eq!(listed.len(), 1);
    // A `__tag__` of another shape is no tag.
    let odd = key();
    let mut record = tagged_record(None, clock.now_ms());
    record
        .data
        .insert(session_core::TAG_KEY.to_owned(), Value::from(7));
    driver.write(&odd, &record, None).await.unwrap();
    assert_layout(dir.path());
}

/// Writers tag new sessions and destroy them again (leaving the tag's folder empty) while
/// sweeps remove empty folders and stale entries: every session is listed from the moment its
/// write returns until it is destroyed.
#[test]
fn no_live_tagged_session_is_missed_while_sweeps_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let driver = driver_with(
        FileConfig::new(dir.path()).with_fsync(false),
        Arc::new(session_core::SystemClock),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sweeper = {
            let (driver, stop) = (driver.clone(), stop.clone());
            tokio::spawn(async move {
                let mut sweeps = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let report = driver.sweep().await.unwrap();
                    assert_eq!(report.errors, 0, "{report}");
                    sweeps += 1;
                }
                sweeps
            })
        };
        let mut writers = Vec::new();
        for w in 0..3 {
            let driver = driver.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..150 {
                    let k = key();
                    let now = session_core::SystemClock.now_ms();
                    let record = tagged_record(Some("shared"), now);
                    assert_eq!(
                        driver.write(&k, &record, None).await.unwrap(),
                        WriteOutcome::Written
                    );
                    let listed = driver.tagged("shared").await.unwrap();
                    assert!(
                        listed.iter().any(|(l, _)| *l == k),
                        "writer {w}, session {i} missed"
                    );
                    assert_eq!(driver.destroy(&k, 1).await.unwrap(), WriteOutcome::Written);
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(sweeper.await.unwrap() > 0);
    });
    let report = driver.sweep_blocking().unwrap();
    assert_eq!(report.errors, 0, "{report}");
    assert!(!driver.tag_path("shared").exists());
}

/// The index is made durable before the record: with `fsync` on, the tag's folders and entry
/// are written the same way (a smoke test that the synced path works).
#[tokio::test]
async fn with_fsync_the_index_is_written_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(1_000_000);
    let driver = driver_with(
        FileConfig::new(dir.path()).with_fsync(true),
        Arc::new(clock.clone()),
    );
    let k = key();
    driver
        .write(&k, &tagged_record(Some("ada"), clock.now_ms()), None)
        .await
        .unwrap();
    assert_eq!(entries(&driver, "ada"), names(&[&k]));
}
