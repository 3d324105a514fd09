//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use session_core::{Clock, Record, SessionId, StorageKey};
use session_file::{FileConfig, FileDriver};

/// The idle lifetime the tests give their records.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// [`IDLE`] in milliseconds.
pub(crate) const IDLE_MS: u64 = 600_000;

/// A driver on `location` with `clock`.
pub(crate) fn driver(location: &Path, clock: Arc<dyn Clock>) -> FileDriver {
    driver_with(FileConfig::new(location), clock)
}

pub(crate) fn driver_with(config: FileConfig, clock: Arc<dyn Clock>) -> FileDriver {
    FileDriver::from_config(config)
        .expect("usable folder")
        .with_clock(clock)
}

pub(crate) fn key() -> StorageKey {
    SessionId::generate().storage_key()
}

/// A record holding `value` under `n`, created and active at `now_ms`, expiring [`IDLE`] later.
pub(crate) fn record(value: Value, version: u64, now_ms: u64) -> Record {
    let mut data = Map::new();
    data.insert("n".to_owned(), value);
    let mut record = Record::new(data, now_ms, now_ms + IDLE_MS);
    record.version = version;
    record
}

/// Every regular file under `root`, recursively, without following symlinks.
pub(crate) fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("listable") {
            let entry = entry.expect("entry");
            let kind = entry.file_type().expect("type");
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Files under `root` whose name ends with `suffix`.
pub(crate) fn files_ending(root: &Path, suffix: &str) -> Vec<PathBuf> {
    files(root)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

/// A small JSON value for records.
pub(crate) fn n(value: u64) -> Value {
    json!(value)
}
