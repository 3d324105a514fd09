//! The sweeper: removes session files whose record's `expires_at` has come, and the temporary and
//! lock files that crashed or finished writers left behind.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use session_core::{Record, StorageKey};

use crate::store::{
    remove_if_present, Found, Store, DATA_EXT, LOCK_EXT, PROBE_PREFIX, PROBE_RANDOM_CHARS,
    SHARD_CHARS, TEMP_EXT,
};

/// How old a temporary file must be before the sweeper removes it: one hour, by its
/// modification time against the driver's clock.
///
/// Temporary files are the `.<key>.<random>.tmp` files of writes (renamed over the session file
/// when complete) and the `.probe.<random>` file written in the folder at start-up. A process
/// killed in the middle of a write leaves its temporary file behind; the sweeper removes it once
/// it is older than this **and**, for a write's file, the session's lock is free.
///
/// The lock is what protects a write in progress: every writer, in every process sharing the
/// folder, holds the session's lock from before it creates its temporary file until after the
/// rename, so a temporary file whose lock is free belongs to a writer that died. The age is a
/// second, independent guard, for a file system whose locks do not exclude (see the guide on
/// network file systems) and for the probe file, which has no lock. It is deliberately not the
/// session's `driver_timeout`: a write that outlives the timeout is not interrupted (a blocking
/// file operation cannot be cancelled) but completes after the response, and a write sets its
/// temporary file's modification time to the session's activity time, taken when the commit
/// began, so the file can look older than the write by however long the write queued for the
/// lock. An hour is far beyond both; the price is that the debris of a crash (one file per write
/// that was under way, the size of one session each) stays up to an hour longer.
///
/// ```
/// use std::time::Duration;
///
/// // A write killed now leaves a temporary file that the first sweep an hour from now removes.
/// assert_eq!(session_file::TEMP_FILE_MIN_AGE, Duration::from_secs(60 * 60));
/// ```
pub const TEMP_FILE_MIN_AGE: Duration = Duration::from_secs(60 * 60);

/// How long an unreadable session file stays before the sweeper removes it: one day, by its
/// modification time against the driver's clock.
///
/// An unreadable file (corrupt, truncated, oversized, or in a record format this version does
/// not know) already reads as no session, and the next write of its session replaces it. The
/// sweeper still leaves it for a day rather than removing it at once, because such a file may be
/// live for someone else: a newer release of the application writing a newer format into the
/// same folder during a rolling deploy, say, whose sessions this release cannot read and so
/// cannot tell expired from live. A day outlasts a deploy; sessions that newer release keeps
/// using are rewritten or refreshed, which moves their modification time, long before.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(session_file::UNREADABLE_FILE_MIN_AGE, Duration::from_secs(24 * 60 * 60));
/// ```
pub const UNREADABLE_FILE_MIN_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// What one sweep did.
///
/// ```
/// use session_file::SweepReport;
///
/// let report = SweepReport::default();
/// assert_eq!(report.removed(), 0);
/// assert_eq!(
///     report.to_string(),
///     "0 session files checked, 0 expired and 0 unreadable removed, \
///      0 temporary, 0 lock and 0 tag index files removed, 0 busy, 0 errors"
/// );
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Session files looked at.
    pub checked: usize,
    /// Expired session files removed.
    pub expired: usize,
    /// Unreadable session files (corrupt, truncated, foreign) removed once their modification
    /// time was older than [`UNREADABLE_FILE_MIN_AGE`].
    pub unreadable: usize,
    /// Temporary files of interrupted writes (and probe files of an interrupted start-up)
    /// removed: those older than [`TEMP_FILE_MIN_AGE`] and, for a write's file, whose session's
    /// lock was free.
    pub temporary: usize,
    /// Lock files of sessions without a data file removed (on Unix only; see
    /// [`FileDriver::sweep`](crate::FileDriver::sweep) for why that is safe).
    pub locks: usize,
    /// Tag index entries removed because their session is gone, expired, untagged or tagged
    /// otherwise (see [Tags](crate#tags)); an expired session's entry removed with its file is
    /// counted here too.
    pub tags: usize,
    /// Files skipped because a writer held the session's lock; the next sweep gets them.
    pub busy: usize,
    /// Files that could not be handled (logged with `tracing::warn!`).
    pub errors: usize,
}

impl SweepReport {
    /// Every file removed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(dir.path())?;
    /// let report = driver.sweep_blocking()?;
    /// assert_eq!(
    ///     report.removed(),
    ///     report.expired + report.unreadable + report.temporary + report.locks + report.tags
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn removed(&self) -> usize {
        self.expired + self.unreadable + self.temporary + self.locks + self.tags
    }
}

impl std::fmt::Display for SweepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} session files checked, {} expired and {} unreadable removed, {} temporary, {} lock and {} tag index files removed, {} busy, {} errors",
            self.checked, self.expired, self.unreadable, self.temporary, self.locks, self.tags, self.busy, self.errors
        )
    }
}

/// The kinds of file names the driver creates.
enum Name {
    Data(StorageKey),
    Lock(StorageKey),
    Temp(StorageKey),
}

impl Name {
    fn key(&self) -> &StorageKey {
        match self {
            Name::Data(k) | Name::Lock(k) | Name::Temp(k) => k,
        }
    }
}

fn classify(name: &str) -> Option<Name> {
    if let Some(key) = name.strip_suffix(DATA_EXT) {
        return StorageKey::parse(key).map(Name::Data);
    }
    if let Some(key) = name.strip_suffix(LOCK_EXT) {
        return StorageKey::parse(key).map(Name::Lock);
    }
    // `.<key>.<random>.tmp`
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_EXT)?;
    let (key, _) = inner.split_once('.')?;
    StorageKey::parse(key).map(Name::Temp)
}

/// `.probe.<random>`, the start-up probe file in the root.
fn is_probe_name(name: &str) -> bool {
    name.strip_prefix(PROBE_PREFIX).is_some_and(|random| {
        random.len() == PROBE_RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Whether the temporary file at `path` is a regular file last modified at least
/// [`TEMP_FILE_MIN_AGE`] before `now_ms`. A file without a readable modification time, or with
/// one in the future, is not old enough.
fn old_enough(path: &Path, now_ms: u64) -> io::Result<bool> {
    let meta = fs::symlink_metadata(path)?;
    let Some(mtime) = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
    else {
        return Ok(false);
    };
    let min_age = TEMP_FILE_MIN_AGE.as_millis();
    Ok(meta.file_type().is_file()
        && mtime.as_millis().saturating_add(min_age) <= u128::from(now_ms))
}

fn is_shard_name(name: &str) -> bool {
    name.len() == SHARD_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Store {
    /// One pass over the folder. Only names the driver creates are touched; symlinks are never
    /// followed (the entry's own type is checked, and a symlink is skipped).
    pub(crate) fn sweep(&self, now_ms: u64) -> io::Result<SweepReport> {
        let mut report = SweepReport::default();
        for shard in fs::read_dir(self.root())? {
            let shard = shard?;
            let shard_name = shard.file_name();
            let Some(shard_name) = shard_name.to_str() else {
                continue;
            };
            if is_probe_name(shard_name) {
                if let Err(e) = sweep_probe(&shard.path(), now_ms, &mut report) {
                    if e.kind() != io::ErrorKind::NotFound {
                        report.errors += 1;
                        tracing::warn!(target: "session", driver = "file", error = %e, "sweeping a file failed");
                    }
                }
                continue;
            }
            if !is_shard_name(shard_name) {
                continue;
            }
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let entries = match fs::read_dir(shard.path()) {
                Ok(entries) => entries,
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(target: "session", driver = "file", error = %e, "cannot list a shard folder");
                    continue;
                }
            };
            for entry in entries {
                let Ok(entry) = entry else {
                    report.errors += 1;
                    continue;
                };
                // `DirEntry::file_type` does not follow symlinks.
                if !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                // A name of ours in the wrong shard was not put there by the driver.
                let Some(name) = entry
                    .file_name()
                    .to_str()
                    .and_then(classify)
                    .filter(|n| n.key().as_str().starts_with(shard_name))
                else {
                    continue;
                };
                if let Err(e) = self.sweep_one(&entry.path(), name, now_ms, &mut report) {
                    if e.kind() != io::ErrorKind::NotFound {
                        report.errors += 1;
                        tracing::warn!(target: "session", driver = "file", error = %e, "sweeping a file failed");
                    }
                }
            }
        }
        // After the records: the entries of the sessions just removed are stale by now.
        if let Err(e) = self.sweep_tags(now_ms, &mut report) {
            report.errors += 1;
            tracing::warn!(target: "session", driver = "file", error = %e, "cannot list the tag index");
        }
        Ok(report)
    }

    fn sweep_one(
        &self,
        path: &Path,
        name: Name,
        now_ms: u64,
        report: &mut SweepReport,
    ) -> io::Result<()> {
        match name {
            Name::Data(key) => {
                report.checked += 1;
                if let Verdict::Keep(tag) = self.removable(&key, now_ms)? {
                    if let Some(tag) = tag {
                        self.restore_entry_logged(&tag, &key);
                    }
                    return Ok(());
                }
                let Some(lock) = self.try_lock(&key, true)? else {
                    report.busy += 1;
                    return Ok(());
                };
                // Checked again under the lock: a writer may have renewed it meanwhile.
                match self.removable(&key, now_ms)? {
                    Verdict::Expired(tag) => {
                        remove_if_present(&self.data_path(&key))?;
                        if let Some(tag) = tag {
                            if self
                                .tag_dir(&tag)
                                .join(key.as_str())
                                .symlink_metadata()
                                .is_ok()
                            {
                                self.drop_tag_entry(&tag, &key);
                                report.tags += 1;
                            }
                        }
                        lock.remove()?;
                        report.expired += 1;
                    }
                    Verdict::Unreadable => {
                        remove_if_present(&self.data_path(&key))?;
                        lock.remove()?;
                        report.unreadable += 1;
                    }
                    Verdict::Keep(_) => drop(lock),
                }
            }
            Name::Lock(key) => {
                // Without inode numbers a locker cannot tell that its lock file was removed
                // under it (see `KeyLock::acquire`), so lock files stay where that is so.
                if !cfg!(unix) || self.data_path(&key).symlink_metadata().is_ok() {
                    return Ok(());
                }
                // Not created again if a removal took it since the listing (`NotFound`).
                let Some(lock) = self.try_lock(&key, false)? else {
                    report.busy += 1;
                    return Ok(());
                };
                if self.data_path(&key).symlink_metadata().is_err() {
                    lock.remove()?;
                    report.locks += 1;
                }
            }
            Name::Temp(key) => {
                // Writers hold the session's lock for the whole life of their temporary file,
                // so a temporary file whose lock is free belongs to a writer that died. The age
                // is a second guard (see `TEMP_FILE_MIN_AGE`); a young file is not counted
                // anywhere, it is simply not due yet.
                if !old_enough(path, now_ms)? {
                    return Ok(());
                }
                let Some(lock) = self.try_lock(&key, true)? else {
                    report.busy += 1;
                    return Ok(());
                };
                // A writer that finished meanwhile removed it itself: `NotFound`, not counted.
                fs::remove_file(path)?;
                report.temporary += 1;
                if self.data_path(&key).symlink_metadata().is_err() {
                    lock.remove()?;
                }
            }
        }
        Ok(())
    }

    /// [`Verdict::Expired`] for a record whose `expires_at` has come, [`Verdict::Unreadable`]
    /// for an unreadable file last modified at least [`UNREADABLE_FILE_MIN_AGE`] ago,
    /// [`Verdict::Keep`] for anything else.
    fn removable(&self, key: &StorageKey, now_ms: u64) -> io::Result<Verdict> {
        let tag = |record: &Record| record.tag().map(str::to_owned);
        Ok(match self.inspect(&self.data_path(key))? {
            Found::Missing => Verdict::Keep(None),
            Found::Record(record, _) if record.is_expired_at(now_ms) => {
                Verdict::Expired(tag(&record))
            }
            Found::Record(record, _) => Verdict::Keep(tag(&record)),
            Found::Bad {
                mtime_ms: Some(mtime),
                ..
            } => {
                let min_age =
                    u64::try_from(UNREADABLE_FILE_MIN_AGE.as_millis()).unwrap_or(u64::MAX);
                if mtime.saturating_add(min_age) <= now_ms {
                    Verdict::Unreadable
                } else {
                    Verdict::Keep(None)
                }
            }
            Found::Bad { mtime_ms: None, .. } => Verdict::Keep(None),
        })
    }

    /// Gives a live tagged record its index entry if it lost it: the index must name every
    /// live tagged session, and a crash with `fsync` off, or a folder restored without its
    /// index, can leave one out.
    fn restore_entry_logged(&self, tag: &str, key: &StorageKey) {
        match self.restore_tag_entry(tag, key) {
            Ok(false) => {}
            Ok(true) => tracing::warn!(
                target: "session",
                driver = "file",
                key = key.short(),
                "a tagged session had no tag index entry; added it"
            ),
            Err(e) => tracing::warn!(
                target: "session",
                driver = "file",
                key = key.short(),
                error = %e,
                "could not add a missing tag index entry"
            ),
        }
    }
}

/// What the sweeper does with a data file.
enum Verdict {
    /// Nothing: missing, live (with its tag), or unreadable but recent.
    Keep(Option<String>),
    /// Remove it, and its tag's index entry: the record expired.
    Expired(Option<String>),
    /// Remove it: unreadable for [`UNREADABLE_FILE_MIN_AGE`].
    Unreadable,
}

/// Removes a start-up probe file that a crash left in the root, once it is older than
/// [`TEMP_FILE_MIN_AGE`]. A probe lives for the moment between its creation and its removal at
/// start-up, so only the age guards it.
fn sweep_probe(path: &Path, now_ms: u64, report: &mut SweepReport) -> io::Result<()> {
    if old_enough(path, now_ms)? {
        fs::remove_file(path)?;
        report.temporary += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_driver_names_are_recognised() {
        let key = session_core::SessionId::generate().storage_key();
        assert!(matches!(
            classify(&format!("{key}.session")),
            Some(Name::Data(_))
        ));
        assert!(matches!(
            classify(&format!("{key}.lock")),
            Some(Name::Lock(_))
        ));
        assert!(matches!(
            classify(&format!(".{key}.a1B2c3.tmp")),
            Some(Name::Temp(_))
        ));
        for other in [
            "notes.txt",
            "../x.session",
            ".session",
            "x.lock",
            &format!("{key}"),
            &format!("{key}x.session"),
            &format!("{key}.tmp"),
            &format!(".{key}.tmp"),
        ] {
            assert!(classify(other).is_none(), "{other}");
        }
        assert!(is_probe_name(".probe.aB3dE9"));
        for other in [
            ".probe.",
            ".probe.aB3dE",
            ".probe.aB3dE9x",
            ".probe.a-3dE9",
            "probe.aB3dE9",
        ] {
            assert!(!is_probe_name(other), "{other}");
        }
        assert!(is_shard_name("aZ"));
        assert!(!is_shard_name(".."));
        assert!(!is_shard_name("abc"));
    }
}
