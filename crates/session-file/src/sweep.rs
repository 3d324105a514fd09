//! The sweeper: removes expired session files, and the temporary and lock files that crashed or
//! finished writers left behind.

use std::fs;
use std::io;
use std::path::Path;

use session_core::StorageKey;

use crate::store::{remove_if_present, Found, Store, DATA_EXT, LOCK_EXT, SHARD_CHARS, TEMP_EXT};

/// What one sweep did.
///
/// ```
/// use session_file::SweepReport;
///
/// let report = SweepReport::default();
/// assert_eq!(report.removed(), 0);
/// assert_eq!(report.to_string(), "0 session files checked, 0 expired and 0 unreadable removed, 0 temporary and 0 lock files removed, 0 busy, 0 errors");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Session files looked at.
    pub checked: usize,
    /// Expired session files removed.
    pub expired: usize,
    /// Unreadable session files (corrupt, truncated, foreign) removed once their modification
    /// time was older than the idle lifetime.
    pub unreadable: usize,
    /// Temporary files of interrupted writes removed.
    pub temporary: usize,
    /// Lock files of sessions without a data file removed.
    pub locks: usize,
    /// Files skipped because a writer held the session's lock; the next sweep gets them.
    pub busy: usize,
    /// Files that could not be handled (logged with `tracing::warn!`).
    pub errors: usize,
}

impl SweepReport {
    /// Every file removed.
    pub fn removed(&self) -> usize {
        self.expired + self.unreadable + self.temporary + self.locks
    }
}

impl std::fmt::Display for SweepReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} session files checked, {} expired and {} unreadable removed, {} temporary and {} lock files removed, {} busy, {} errors",
            self.checked, self.expired, self.unreadable, self.temporary, self.locks, self.busy, self.errors
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
            let Some(shard_name) = shard_name.to_str().filter(|n| is_shard_name(n)) else {
                continue;
            };
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
                if self.removable(&key, now_ms)?.is_none() {
                    return Ok(());
                }
                let Some(lock) = self.try_lock(&key, true)? else {
                    report.busy += 1;
                    return Ok(());
                };
                // Checked again under the lock: a writer may have renewed it meanwhile.
                match self.removable(&key, now_ms)? {
                    Some(expired) => {
                        remove_if_present(&self.data_path(&key))?;
                        lock.remove()?;
                        if expired {
                            report.expired += 1;
                        } else {
                            report.unreadable += 1;
                        }
                    }
                    None => drop(lock),
                }
            }
            Name::Lock(key) => {
                if self.data_path(&key).symlink_metadata().is_ok() {
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
                // so a temporary file whose lock is free belongs to a writer that died.
                if path.symlink_metadata().is_err() {
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

    /// `Some(true)` for an expired record, `Some(false)` for an unreadable file idle for longer
    /// than the idle lifetime, `None` for anything to keep.
    fn removable(&self, key: &StorageKey, now_ms: u64) -> io::Result<Option<bool>> {
        let lifetimes = self.lifetimes();
        Ok(match self.inspect(&self.data_path(key))? {
            Found::Missing => None,
            Found::Record(record, _) => lifetimes.is_expired(&record, now_ms).then_some(true),
            Found::Bad {
                mtime_ms: Some(mtime),
                ..
            } => (lifetimes.expires_at_parts(mtime, mtime) <= now_ms).then_some(false),
            Found::Bad { mtime_ms: None, .. } => None,
        })
    }
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
        assert!(is_shard_name("aZ"));
        assert!(!is_shard_name(".."));
        assert!(!is_shard_name("abc"));
    }
}
