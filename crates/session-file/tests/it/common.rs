//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use session_core::{
    Clock, CookieOptions, Lifetimes, Record, SessionContext, SessionId, StorageKey,
};
use session_file::{FileConfig, FileDriver};

/// The idle lifetime the tests use.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// A driver on `location` with the idle lifetime [`IDLE`] and no absolute one.
pub(crate) fn driver(location: &Path, clock: Arc<dyn Clock>) -> FileDriver {
    driver_with(FileConfig::new(location), Lifetimes::new(IDLE, None), clock)
}

pub(crate) fn driver_with(
    config: FileConfig,
    lifetimes: Lifetimes,
    clock: Arc<dyn Clock>,
) -> FileDriver {
    FileDriver::new(config, lifetimes, clock).expect("usable folder")
}

/// The request context drivers get (the file driver ignores it).
pub(crate) fn cx() -> SessionContext {
    SessionContext::new("id", CookieOptions::default())
}

pub(crate) fn key() -> StorageKey {
    SessionId::generate().storage_key()
}

/// A record holding `value` under `n`.
pub(crate) fn record(value: Value, version: u64, now_ms: u64) -> Record {
    let mut data = Map::new();
    data.insert("n".to_owned(), value);
    let mut record = Record::new(data, now_ms);
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
