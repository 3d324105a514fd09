//! The tag index: which sessions carry a tag, kept on disk beside the records.
//!
//! ```text
//! <location>/tags/<h2>/<h64>/<key>   an empty file per session of the tag
//! ```
//!
//! `<h64>` is SHA-256 of the tag in lowercase hex and `<h2>` its first two characters, so no tag
//! reaches a path (whatever its bytes: `/`, `..`, NUL, 256 bytes), and no folder holds more than
//! a few thousand tags per million. `<key>` is the session's storage key.
//!
//! The index may name more sessions than carry the tag, never fewer: a writer adds the entry,
//! under the session's lock, *before* it writes a tagged record, and an entry is only removed
//! under that lock once the record is checked to be missing, expired, untagged or tagged
//! otherwise (or by the writer that just changed the record's tag, or removed it).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use ring::digest;
use session_core::{Record, StorageKey};

use crate::store::{
    create_private_dir, create_private_dir_new, remove_if_present, sync_dir, warn_unreadable,
    Found, KeyLock, Store,
};
use crate::sweep::SweepReport;

/// The folder of the index, in the root. Not a shard name (those have two characters), so the
/// sweeper's pass over the shards never enters it.
pub(crate) const TAGS_DIR: &str = "tags";
/// How many characters of the digest name the shard of a tag's folder: 256 shards.
const TAG_SHARD_CHARS: usize = 2;
/// The length of a tag's folder name: SHA-256 in hex.
const DIGEST_CHARS: usize = 64;
/// How often an entry is tried again when the sweeper removed its empty tag folder meanwhile.
const ENTRY_ATTEMPTS: usize = 16;

/// SHA-256 of the tag, in lowercase hex: the name of its folder.
pub(crate) fn tag_digest(tag: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    digest::digest(&digest::SHA256, tag.as_bytes())
        .as_ref()
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

/// Whether `name` is a tag folder's name: [`DIGEST_CHARS`] lowercase hex digits.
fn is_digest_name(name: &str) -> bool {
    name.len() == DIGEST_CHARS && name.bytes().all(is_lower_hex)
}

/// Whether `name` is the name of a shard of the index: [`TAG_SHARD_CHARS`] lowercase hex digits.
fn is_tag_shard_name(name: &str) -> bool {
    name.len() == TAG_SHARD_CHARS && name.bytes().all(is_lower_hex)
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

/// Whether `record` is live at `now_ms` and carries the tag whose digest is `digest`.
fn carries(record: &Record, digest: &str, now_ms: u64) -> bool {
    !record.is_expired_at(now_ms) && record.tag().is_some_and(|t| tag_digest(t) == digest)
}

impl Store {
    fn tags_root(&self) -> PathBuf {
        self.root().join(TAGS_DIR)
    }

    /// The folder of the tag whose digest is `digest`.
    fn digest_dir(&self, digest: &str) -> PathBuf {
        self.tags_root()
            .join(&digest[..TAG_SHARD_CHARS])
            .join(digest)
    }

    /// The folder that holds the index entries of `tag`.
    pub(crate) fn tag_dir(&self, tag: &str) -> PathBuf {
        self.digest_dir(&tag_digest(tag))
    }

    /// Makes sure the index of `tag` names `key`. The caller holds the key's lock, or adds an
    /// entry for a record it saw live and tagged (always safe: an entry too many is removed
    /// later). With `fsync`, the entry is on disk before this returns.
    pub(crate) fn add_tag_entry(&self, tag: &str, key: &StorageKey) -> io::Result<()> {
        let dir = self.tag_dir(tag);
        let path = dir.join(key.as_str());
        for _ in 0..ENTRY_ATTEMPTS {
            let mut options = OpenOptions::new();
            // `create_new` never follows a symlink planted at the path.
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(_) => {
                    if self.fsync() {
                        sync_dir(&dir)?;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                // The folder is missing: never made, or removed by a sweep when it was empty.
                // A sweep removes only empty folders, and nothing removes this entry once it
                // exists but under the key's lock: made again, the entry is tried again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => self.create_tag_dir(&dir)?,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(
            "the tag's index folder kept being removed while an entry was added",
        ))
    }

    /// Creates `<location>/tags/<h2>/<h64>` as needed, each new folder made durable in its
    /// parent when `fsync` is on.
    fn create_tag_dir(&self, dir: &Path) -> io::Result<()> {
        let shard = dir.parent().expect("a tag folder has a shard");
        let tags = shard.parent().expect("a tag shard is in the index");
        for (path, parent) in [(tags, self.root()), (shard, tags), (dir, shard)] {
            if create_private_dir_new(path)? && self.fsync() {
                sync_dir(parent)?;
            }
        }
        Ok(())
    }

    /// Removes the entry of `key` from the index of `tag`, after the record stopped carrying
    /// it. A failure leaves an entry too many, which a listing or a sweep removes: it is
    /// logged, not returned.
    pub(crate) fn drop_tag_entry(&self, tag: &str, key: &StorageKey) {
        if let Err(e) = remove_if_present(&self.tag_dir(tag).join(key.as_str())) {
            tracing::warn!(
                target: "session",
                driver = "file",
                key = key.short(),
                error = %e,
                "could not remove a tag index entry; a listing or the sweeper will"
            );
        }
    }

    /// The live records of `tag`, from its index. Entries whose record is missing, expired,
    /// untagged or tagged otherwise are removed on the way (when their session's lock is free);
    /// names in the folder that are not storage keys are ignored. An unreadable record file
    /// reads as no session and keeps its entry, as the sweeper keeps the file for a while.
    pub(crate) fn tagged(&self, tag: &str, now_ms: u64) -> io::Result<Vec<(StorageKey, Record)>> {
        let digest = tag_digest(tag);
        let entries = match fs::read_dir(self.digest_dir(&digest)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(key) = entry.file_name().to_str().and_then(StorageKey::parse) else {
                continue;
            };
            match self.inspect(&self.data_path(&key))? {
                Found::Record(record, _) if record.tag() == Some(tag) => {
                    if record.is_expired_at(now_ms) {
                        self.prune_logged(&digest, &key, now_ms);
                    } else {
                        found.push((key, record));
                    }
                }
                Found::Bad { reason, .. } => warn_unreadable(&key, reason),
                Found::Record(..) | Found::Missing => self.prune_logged(&digest, &key, now_ms),
            }
        }
        Ok(found)
    }

    fn prune_logged(&self, digest: &str, key: &StorageKey, now_ms: u64) {
        if let Err(e) = self.prune_entry(digest, key, now_ms) {
            tracing::warn!(
                target: "session",
                driver = "file",
                key = key.short(),
                error = %e,
                "could not remove a stale tag index entry"
            );
        }
    }

    /// Removes the entry of `key` from the index of the tag whose digest is `digest` if, under
    /// the session's lock, its record is missing, expired, untagged or tagged otherwise.
    /// `Ok(None)` when another holder has the lock (the entry stays), else whether it went.
    ///
    /// The lock is what makes this safe: a writer holds it from before it adds an entry until
    /// after its record is written, so the record checked here is never one about to be tagged.
    fn prune_entry(&self, digest: &str, key: &StorageKey, now_ms: u64) -> io::Result<Option<bool>> {
        let Some(lock) = self.try_lock_for_index(key)? else {
            return Ok(None);
        };
        let (stale, missing) = match self.inspect(&self.data_path(key))? {
            Found::Record(record, _) => (!carries(&record, digest, now_ms), false),
            Found::Missing => (true, true),
            Found::Bad { .. } => (false, false),
        };
        if stale {
            remove_if_present(&self.digest_dir(digest).join(key.as_str()))?;
        }
        // The lock file was made for this check; a session without data needs none.
        if missing {
            lock.remove()?;
        }
        Ok(Some(stale))
    }

    /// Takes a session's lock without waiting, creating the lock file (and the shard folder) if
    /// needed: a session with an index entry may have neither any more.
    fn try_lock_for_index(&self, key: &StorageKey) -> io::Result<Option<KeyLock>> {
        match self.try_lock(key, true) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_private_dir(&self.shard_dir(key))?;
                self.try_lock(key, true)
            }
            other => other,
        }
    }

    /// The sweeper's pass over the index: removes the entries whose record is missing, expired,
    /// untagged or tagged otherwise (as [`Store::tagged`] does), then each tag folder left empty.
    /// Only names the driver creates are looked at; symlinks are never followed.
    pub(crate) fn sweep_tags(&self, now_ms: u64, report: &mut SweepReport) -> io::Result<()> {
        let shards = match fs::read_dir(self.tags_root()) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            let shard_name = shard.file_name();
            let Some(shard_name) = shard_name.to_str().filter(|n| is_tag_shard_name(n)) else {
                continue;
            };
            if !shard.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let tags = match fs::read_dir(shard.path()) {
                Ok(tags) => tags,
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(target: "session", driver = "file", error = %e, "cannot list a tag index folder");
                    continue;
                }
            };
            for tag in tags {
                let Ok(tag) = tag else {
                    report.errors += 1;
                    continue;
                };
                let name = tag.file_name();
                let Some(digest) = name
                    .to_str()
                    .filter(|n| is_digest_name(n) && n.starts_with(shard_name))
                else {
                    continue;
                };
                if !tag.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                if let Err(e) = self.sweep_tag_dir(&tag.path(), digest, now_ms, report) {
                    report.errors += 1;
                    tracing::warn!(target: "session", driver = "file", error = %e, "sweeping a tag index folder failed");
                }
            }
        }
        Ok(())
    }

    fn sweep_tag_dir(
        &self,
        dir: &Path,
        digest: &str,
        now_ms: u64,
        report: &mut SweepReport,
    ) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let Some(key) = entry.file_name().to_str().and_then(StorageKey::parse) else {
                continue;
            };
            let keep = match self.inspect(&self.data_path(&key))? {
                Found::Record(record, _) => carries(&record, digest, now_ms),
                Found::Bad { .. } => true,
                Found::Missing => false,
            };
            if keep {
                continue;
            }
            match self.prune_entry(digest, &key, now_ms) {
                Ok(Some(true)) => report.tags += 1,
                Ok(Some(false)) => {}
                Ok(None) => report.busy += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::warn!(target: "session", driver = "file", error = %e, "sweeping a tag index entry failed");
                }
            }
        }
        // Only an empty folder goes; a writer that finds it gone makes it again (see
        // `add_tag_entry`).
        match fs::remove_dir(dir) {
            Err(e)
                if e.kind() != io::ErrorKind::NotFound
                    && e.kind() != io::ErrorKind::DirectoryNotEmpty =>
            {
                Err(e)
            }
            _ => Ok(()),
        }
    }

    /// For the sweeper: adds the entry of a live tagged record that has none (a crash lost it
    /// with `fsync` off, or the folder was copied without it). `true` when one was added.
    pub(crate) fn restore_tag_entry(&self, tag: &str, key: &StorageKey) -> io::Result<bool> {
        let path = self.tag_dir(tag).join(key.as_str());
        if path.symlink_metadata().is_ok() {
            return Ok(false);
        }
        self.add_tag_entry(tag, key)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_folder_is_named_by_its_digest_only() {
        assert_eq!(
            tag_digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            tag_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let store = Store::new(PathBuf::from("/srv/sessions"), false);
        for tag in ["../../etc", "/", "a\0b", "..", &"x".repeat(256), "Zoë 🦀"] {
            let dir = store.tag_dir(tag);
            let rest = dir
                .strip_prefix("/srv/sessions/tags")
                .expect("inside the index");
            let parts: Vec<_> = rest.components().collect();
            assert_eq!(parts.len(), 2, "{dir:?}");
            let digest = tag_digest(tag);
            assert!(is_digest_name(&digest) && is_tag_shard_name(&digest[..2]));
            assert_eq!(rest, Path::new(&digest[..2]).join(&digest));
        }
        assert!(!is_digest_name(&"A".repeat(64)));
        assert!(!is_digest_name(&"a".repeat(63)));
        assert!(!is_tag_shard_name("0g"));
        assert!(!is_tag_shard_name(".."));
    }
}
