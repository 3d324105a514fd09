//! The blocking half of the driver: paths, the per-session lock, reads, atomic writes and
//! removals. Everything here runs on tokio's blocking pool (or in a cron job), never on an async
//! worker thread.

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use session_core::{Record, StorageKey, WriteOutcome};

/// The extension of a session's data file.
pub(crate) const DATA_EXT: &str = ".session";
/// The extension of a session's lock file.
pub(crate) const LOCK_EXT: &str = ".lock";
/// The extension of a temporary file (the name is `.<key>.<random>.tmp`).
pub(crate) const TEMP_EXT: &str = ".tmp";
/// The start of the name of the probe file written in the root at start-up (the name is
/// `.probe.<random>`).
pub(crate) const PROBE_PREFIX: &str = ".probe.";
/// How many random characters follow [`PROBE_PREFIX`].
pub(crate) const PROBE_RANDOM_CHARS: usize = 6;
/// How many characters of the key name the shard folder: 64² = 4,096 folders, so a million
/// sessions make about 250 files per folder.
pub(crate) const SHARD_CHARS: usize = 2;
/// The largest data file the driver writes or reads. Anything bigger in the folder is not ours.
pub(crate) const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// How many in-process queues the writers of this process are spread over (by key).
const STRIPES: usize = 64;
/// How often a lock is retried when its file was removed under us by the previous holder.
const LOCK_ATTEMPTS: usize = 64;

/// The folder layout and the operations on it.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    fsync: bool,
    /// Writers of one process queue here before taking the file lock. The file lock alone
    /// would be correct, but every release wakes all of its waiters; with many concurrent
    /// requests on one session that herd of threads costs more than the writes.
    stripes: Vec<Mutex<()>>,
}

/// Both locks of a session: the in-process queue, then the file lock. Dropping it releases the
/// file lock first.
#[derive(Debug)]
pub(crate) struct Locked<'a> {
    lock: KeyLock,
    _queue: MutexGuard<'a, ()>,
}

/// What is under a data path.
pub(crate) enum Found {
    /// Nothing.
    Missing,
    /// Something that is not a session record the driver wrote; `mtime_ms` is its modification
    /// time when it is a regular file.
    Bad {
        reason: &'static str,
        mtime_ms: Option<u64>,
    },
    /// A record, with its times already slid when a cheap refresh moved the file's modification
    /// time past the stored `last_active` (see [`slide`]), and the file it came from.
    Record(Record, Stored),
}

/// What is under a key's data path, read by the holder of its lock.
pub(crate) struct Loaded {
    /// The live record.
    pub(crate) live: Option<Record>,
    /// Whether there is no data file at all.
    pub(crate) missing: bool,
    /// The tag of the record in the file, live or expired: whose index entry goes with it.
    pub(crate) tag: Option<String>,
}

/// The data file a record was read from, kept open so that a refresh can set its time.
#[derive(Debug)]
pub(crate) struct Stored {
    file: File,
    /// The record's `last_active` and `expires_at` as written in the file, before [`slide`].
    written: (u64, u64),
}

/// An exclusive, cross-process lock on one session: `flock` on `<key>.lock`.
///
/// The lock file can be removed by whoever holds the lock; [`KeyLock::acquire`] therefore checks,
/// once it holds the lock, that the file it locked is still the one at the path, and starts over
/// otherwise. Without that check a waiter could lock a removed file while a newcomer locks its
/// replacement, and both would think they hold the lock.
#[derive(Debug)]
pub(crate) struct KeyLock {
    path: PathBuf,
    _file: File,
}

impl Store {
    pub(crate) fn new(root: PathBuf, fsync: bool) -> Self {
        Self {
            root,
            fsync,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn fsync(&self) -> bool {
        self.fsync
    }

    /// The shard folder of a key. A [`StorageKey`] holds exactly 22 characters of
    /// `[A-Za-z0-9_-]`, so neither the shard nor the file names below can hold `/`, `.` or `..`:
    /// every path stays inside the root.
    pub(crate) fn shard_dir(&self, key: &StorageKey) -> PathBuf {
        self.root.join(&key.as_str()[..SHARD_CHARS])
    }

    pub(crate) fn data_path(&self, key: &StorageKey) -> PathBuf {
        self.shard_dir(key).join(format!("{key}{DATA_EXT}"))
    }

    pub(crate) fn lock_path(&self, key: &StorageKey) -> PathBuf {
        self.shard_dir(key).join(format!("{key}{LOCK_EXT}"))
    }

    /// Locks a session, waiting for other writers. With `create_shard`, a missing shard folder
    /// is created; without it, a missing shard means there is nothing to lock (`None`).
    fn lock(&self, key: &StorageKey, create_shard: bool) -> io::Result<Option<Locked<'_>>> {
        let stripe = key.as_str().bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % STRIPES;
        let queue = self.stripes[stripe]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let path = self.lock_path(key);
        let lock = match KeyLock::acquire(&path, true, true) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && create_shard => {
                create_private_dir(&self.shard_dir(key))?;
                KeyLock::acquire(&path, true, true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            other => other,
        }?;
        Ok(lock.map(|lock| Locked {
            lock,
            _queue: queue,
        }))
    }

    /// Locks a session only if nobody holds it (the sweeper never waits). Without `create`, a
    /// missing lock file is a `NotFound` error.
    pub(crate) fn try_lock(&self, key: &StorageKey, create: bool) -> io::Result<Option<KeyLock>> {
        KeyLock::acquire(&self.lock_path(key), false, create)
    }

    /// Reads what is under a data path. Never follows a symlink: anything but a regular file is
    /// [`Found::Bad`].
    pub(crate) fn inspect(&self, path: &Path) -> io::Result<Found> {
        // A writer may rename a new file over the path between the `lstat` and the `open`; the
        // inode comparison notices, and the read starts over.
        for _ in 0..8 {
            let before = match fs::symlink_metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
                Err(e) => return Err(e),
            };
            if !before.file_type().is_file() {
                return Ok(Found::Bad {
                    reason: "not a regular file",
                    mtime_ms: None,
                });
            }
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
                Err(e) => return Err(e),
            };
            let meta = file.metadata()?;
            if !same_file(&before, &meta) {
                continue;
            }
            let mtime_ms = mtime_ms(&meta);
            if meta.len() > MAX_FILE_BYTES {
                return Ok(Found::Bad {
                    reason: "larger than the size limit",
                    mtime_ms: Some(mtime_ms),
                });
            }
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            (&file).take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
            return Ok(match Record::decode(&bytes) {
                Some(record) => {
                    let written = (record.last_active, record.expires_at);
                    Found::Record(slide(record, mtime_ms), Stored { file, written })
                }
                None => Found::Bad {
                    reason: "not a session record (corrupt, truncated or foreign)",
                    mtime_ms: Some(mtime_ms),
                },
            });
        }
        Err(io::Error::other(
            "the session file kept being replaced while it was read",
        ))
    }

    /// The live record under `key` (missing, unreadable and expired files are `None`), and
    /// whether the data file is missing altogether.
    fn load(&self, key: &StorageKey, now_ms: u64) -> io::Result<(Option<Record>, bool)> {
        Ok(match self.inspect(&self.data_path(key))? {
            Found::Missing => (None, true),
            Found::Bad { reason, .. } => {
                warn_unreadable(key, reason);
                (None, false)
            }
            Found::Record(record, _) if record.is_expired_at(now_ms) => (None, false),
            Found::Record(record, _) => (Some(record), false),
        })
    }

    pub(crate) fn read(&self, key: &StorageKey, now_ms: u64) -> io::Result<Option<Record>> {
        self.load(key, now_ms).map(|(record, _)| record)
    }

    /// [`Store::load`], plus the tag of an expired record.
    fn load_locked(&self, key: &StorageKey, now_ms: u64) -> io::Result<Loaded> {
        let mut loaded = Loaded {
            live: None,
            missing: false,
            tag: None,
        };
        match self.inspect(&self.data_path(key))? {
            Found::Missing => loaded.missing = true,
            Found::Bad { reason, .. } => warn_unreadable(key, reason),
            Found::Record(record, _) => {
                loaded.tag = record.tag().map(str::to_owned);
                if !record.is_expired_at(now_ms) {
                    loaded.live = Some(record);
                }
            }
        }
        Ok(loaded)
    }

    /// Stores `record` if the live record's version is `expected` (`None`: if there is no live
    /// record; an expired or unreadable file counts as none and is replaced).
    pub(crate) fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
        now_ms: u64,
    ) -> io::Result<WriteOutcome> {
        let bytes = encode_checked(record)?;
        // A stale expectation usually shows without the lock: answer it at once, so that
        // concurrent requests that lost the race do not queue for the lock only to be told so.
        // Only `Written` needs the lock, and it is decided again under it.
        let (current, _) = self.load(key, now_ms)?;
        let outcome = compare(expected, current.map(|r| r.version));
        if outcome != WriteOutcome::Written {
            return Ok(outcome);
        }
        let Some(locked) = self.lock(key, true)? else {
            return Err(io::Error::other("the shard folder vanished"));
        };
        let loaded = self.load_locked(key, now_ms)?;
        let outcome = compare(expected, loaded.live.map(|r| r.version));
        if outcome == WriteOutcome::Written {
            // The index entry comes first: a crash between the two leaves an entry without its
            // record, which a listing or the sweeper removes, never a tagged record that its
            // tag's listing would miss.
            if let Some(tag) = record.tag() {
                self.add_tag_entry(tag, key)?;
            }
            self.replace(key, &bytes, record.last_active)?;
            if let Some(old) = loaded.tag.filter(|old| Some(old.as_str()) != record.tag()) {
                self.drop_tag_entry(&old, key);
            }
        } else if loaded.missing {
            // Nothing was written and no data file exists: the lock file would be an orphan.
            locked.remove()?;
        }
        Ok(outcome)
    }

    /// Removes the record if the live record's version is `version`.
    pub(crate) fn destroy(
        &self,
        key: &StorageKey,
        version: u64,
        now_ms: u64,
    ) -> io::Result<WriteOutcome> {
        let Some(locked) = self.lock(key, false)? else {
            return Ok(WriteOutcome::Gone);
        };
        let loaded = self.load_locked(key, now_ms)?;
        let outcome = compare(Some(version), loaded.live.map(|r| r.version));
        if outcome == WriteOutcome::Written || (outcome == WriteOutcome::Gone && !loaded.missing) {
            // The record goes, and so does an expired or unreadable file in its place: nobody
            // can use it any more. Its tag's index entry follows it.
            remove_if_present(&self.data_path(key))?;
            self.sync_dir(key)?;
            if let Some(tag) = &loaded.tag {
                self.drop_tag_entry(tag, key);
            }
        }
        if outcome != WriteOutcome::Conflict {
            locked.remove()?;
        }
        Ok(outcome)
    }

    /// Sets the times of a live record, under its lock; a missing, unreadable or expired file is
    /// left as it is.
    ///
    /// When the new times keep the record's expiry span (`expires_at - last_active`, the idle
    /// age while no absolute lifetime cuts it short), only the file's modification time moves:
    /// reads slide both times by as much (see [`slide`]). Otherwise, or when the file system
    /// does not keep the time to the millisecond, the record is rewritten like any write.
    pub(crate) fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
        now_ms: u64,
    ) -> io::Result<()> {
        // Without a live record there is nothing to do, and no lock file to create for it. A
        // record created after this look is a write's, with times of its own.
        if self.read(key, now_ms)?.is_none() {
            return Ok(());
        }
        let Some(_locked) = self.lock(key, false)? else {
            return Ok(());
        };
        // Under the lock, nothing replaces or removes the file until the refresh is done; the
        // record is checked again, since a destroy or an expiry may have come first.
        let (current, stored) = match self.inspect(&self.data_path(key))? {
            Found::Record(record, stored) if !record.is_expired_at(now_ms) => (record, stored),
            Found::Bad { reason, .. } => {
                warn_unreadable(key, reason);
                return Ok(());
            }
            _ => return Ok(()),
        };
        if (current.last_active, current.expires_at) == (last_active, expires_at)
            || stored.refresh_by_time(last_active, expires_at)?
        {
            return Ok(());
        }
        let mut record = current;
        (record.last_active, record.expires_at) = (last_active, expires_at);
        let bytes = encode_checked(&record)?;
        self.replace(key, &bytes, last_active)
    }

    /// Replaces the data file atomically: a temporary file in the same folder, written, timed,
    /// flushed to disk, then renamed over the old one. The caller holds the key's lock.
    fn replace(&self, key: &StorageKey, bytes: &[u8], last_active: u64) -> io::Result<()> {
        let mut temp = tempfile::Builder::new()
            .prefix(&format!(".{key}."))
            .suffix(TEMP_EXT)
            .tempfile_in(self.shard_dir(key))?;
        temp.write_all(bytes)?;
        // The modification time carries the activity time, so that a cheap refresh can move it
        // later (see `slide`); it is set after the last write because writing moves it.
        temp.as_file().set_modified(ms_to_time(last_active))?;
        if self.fsync {
            temp.as_file().sync_all()?;
        }
        temp.persist(self.data_path(key)).map_err(|e| e.error)?;
        self.sync_dir(key)
    }

    /// Makes a rename or a removal in the key's shard durable.
    fn sync_dir(&self, key: &StorageKey) -> io::Result<()> {
        if self.fsync {
            sync_dir(&self.shard_dir(key))?;
        }
        Ok(())
    }
}

impl Stored {
    /// The cheap refresh: moves the file's modification time to `last_active` when that alone
    /// makes the file read back with both new times (see [`slide`]). `false` when it cannot.
    fn refresh_by_time(&self, last_active: u64, expires_at: u64) -> io::Result<bool> {
        let (written_active, written_expires) = self.written;
        let keeps_span = written_expires >= written_active
            && expires_at.checked_sub(last_active) == Some(written_expires - written_active);
        if !keeps_span || last_active < written_active {
            return Ok(false);
        }
        self.file.set_modified(ms_to_time(last_active))?;
        // A file system that keeps coarser times (whole seconds) reads back an earlier time,
        // which would cut the session short: the caller rewrites the record instead.
        Ok(mtime_ms(&self.file.metadata()?) == last_active)
    }
}

impl Locked<'_> {
    /// See [`KeyLock::remove`].
    fn remove(self) -> io::Result<()> {
        self.lock.remove()
    }
}

impl KeyLock {
    /// Opens (with `create`, creating it if needed) and locks a lock file. `Ok(None)` when
    /// `wait` is false and another holder has it.
    pub(crate) fn acquire(path: &Path, wait: bool, create: bool) -> io::Result<Option<Self>> {
        for _ in 0..LOCK_ATTEMPTS {
            let file = open_lock_file(path, create)?;
            if wait {
                file.lock()?;
            } else {
                match file.try_lock() {
                    Ok(()) => {}
                    Err(TryLockError::WouldBlock) => return Ok(None),
                    Err(TryLockError::Error(e)) => return Err(e),
                }
            }
            if still_linked(&file, path)? {
                return Ok(Some(Self {
                    path: path.to_owned(),
                    _file: file,
                }));
            }
        }
        Err(io::Error::other(
            "the lock file kept being removed while it was locked",
        ))
    }

    /// Removes the lock file while still holding the lock, then releases it. Waiters notice
    /// (see [`KeyLock::acquire`]) and start over with a new file.
    pub(crate) fn remove(self) -> io::Result<()> {
        if cfg!(unix) {
            remove_if_present(&self.path)?;
        }
        Ok(())
    }
}

/// The outcome of a conditional write expecting `expected` (`None`: no live record) given the
/// live record's version `current` (`None`: no live record).
fn compare(expected: Option<u64>, current: Option<u64>) -> WriteOutcome {
    match (expected, current) {
        (expected, current) if expected == current => WriteOutcome::Written,
        (Some(_), None) => WriteOutcome::Gone,
        _ => WriteOutcome::Conflict,
    }
}

/// Applies a cheap refresh to a record read from a file last modified at `mtime_ms`.
///
/// A write dates its file to the record's `last_active`; a cheap refresh (see
/// [`Store::refresh`]) moves only that date, and only when the new times keep the record's
/// expiry span. So a file dated after its record's `last_active` stands for the record with both
/// times moved forward by the difference. A file dated at or before it (as written, or by a
/// file system that keeps coarser times) holds the record exactly.
fn slide(mut record: Record, mtime_ms: u64) -> Record {
    if mtime_ms > record.last_active && record.expires_at >= record.last_active {
        let delta = mtime_ms - record.last_active;
        record.last_active = mtime_ms;
        record.expires_at = record.expires_at.saturating_add(delta);
    }
    record
}

pub(crate) fn warn_unreadable(key: &StorageKey, reason: &'static str) {
    tracing::warn!(
        target: "session",
        driver = "file",
        key = key.short(),
        reason,
        "ignoring an unreadable session file; the request gets a fresh session"
    );
}

/// The record's bytes, refused when larger than the driver would read back.
fn encode_checked(record: &Record) -> io::Result<Vec<u8>> {
    let bytes = record.encode();
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            TooLarge(bytes.len()),
        ));
    }
    Ok(bytes)
}

/// The error inside an `InvalidInput` io error for a record over [`MAX_FILE_BYTES`].
#[derive(Debug)]
pub(crate) struct TooLarge(pub(crate) usize);

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the session is {} bytes, more than the file driver's limit of {MAX_FILE_BYTES}",
            self.0
        )
    }
}

impl std::error::Error for TooLarge {}

pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub(crate) fn mtime_ms(meta: &Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms_to_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Creates a folder readable by its owner only; an existing one is fine.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    create_private_dir_new(path).map(drop)
}

/// [`create_private_dir`], telling whether the folder is new.
pub(crate) fn create_private_dir_new(path: &Path) -> io::Result<bool> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

fn open_lock_file(path: &Path, create: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(create)
        .truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Whether the locked `file` is still the one at `path`. A path that is not a regular file
/// (a planted symlink) is an error rather than a retry.
fn still_linked(file: &File, path: &Path) -> io::Result<bool> {
    let at_path = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if !at_path.file_type().is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(same_file(&at_path, &file.metadata()?))
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

// Without inode numbers the comparison cannot be made; lock files are then never removed (see
// `KeyLock::remove`), so the file at the path is always the one locked.
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}

#[cfg(unix)]
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

// Folders cannot be opened for syncing on every platform; the rename itself is atomic anyway.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use session_core::SessionId;

    #[test]
    fn every_path_stays_inside_the_root() {
        let store = Store::new(PathBuf::from("/srv/sessions"), true);
        for _ in 0..1_000 {
            let key = SessionId::generate().storage_key();
            for path in [
                store.data_path(&key),
                store.lock_path(&key),
                store.shard_dir(&key),
            ] {
                let rest = path.strip_prefix("/srv/sessions").expect("inside the root");
                let parts: Vec<_> = rest.components().collect();
                assert!(parts.len() <= 2, "{path:?}");
                for part in parts {
                    assert!(matches!(part, std::path::Component::Normal(_)), "{path:?}");
                }
            }
            assert_eq!(
                store.data_path(&key).parent(),
                Some(store.shard_dir(&key).as_path())
            );
        }
    }

    #[test]
    fn compare_follows_the_contract() {
        use WriteOutcome::*;
        assert_eq!(compare(None, None), Written);
        assert_eq!(compare(None, Some(1)), Conflict);
        assert_eq!(compare(Some(1), None), Gone);
        assert_eq!(compare(Some(1), Some(1)), Written);
        assert_eq!(compare(Some(1), Some(2)), Conflict);
    }

    #[test]
    fn a_later_file_time_slides_both_times_and_nothing_else() {
        let record = Record {
            version: 3,
            ..Record::new(Default::default(), 1_000, 61_000)
        };
        // As written, or dated earlier by a file system that keeps coarser times.
        assert_eq!(slide(record.clone(), 1_000), record);
        assert_eq!(slide(record.clone(), 0), record);
        // A cheap refresh 500 ms later.
        let slid = slide(record.clone(), 1_500);
        assert_eq!((slid.last_active, slid.expires_at), (1_500, 61_500));
        assert_eq!(
            (slid.version, slid.created_at, slid.data),
            (3, 1_000, record.data.clone())
        );
        // A record expiring before its last activity has no span to keep; sliding never
        // overflows.
        let odd = Record {
            expires_at: 500,
            ..record.clone()
        };
        assert_eq!(slide(odd.clone(), 2_000), odd);
        let far = Record {
            expires_at: u64::MAX,
            ..record
        };
        assert_eq!(slide(far, 2_000).expires_at, u64::MAX);
    }
}
