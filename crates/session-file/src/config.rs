//! The `file` configuration section.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The `file` section of the session configuration.
///
/// | option | meaning | default |
/// |---|---|---|
/// | `location` | the folder that holds the session files | required |
/// | `fsync` | flush every write to disk before it counts as done | `true` |
///
/// ```
/// use session_file::FileConfig;
///
/// let from_json: FileConfig =
///     serde_json::from_str(r#"{ "location": "/var/lib/app/sessions" }"#).unwrap();
/// assert_eq!(from_json, FileConfig::new("/var/lib/app/sessions"));
/// assert!(from_json.fsync());
///
/// // Unknown options are rejected rather than ignored.
/// assert!(serde_json::from_str::<FileConfig>(r#"{ "locaton": "/tmp" }"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    location: Option<PathBuf>,
    #[serde(default = "fsync_default")]
    fsync: bool,
}

fn fsync_default() -> bool {
    true
}

impl FileConfig {
    /// Session files under `location`, flushed to disk on every write.
    pub fn new(location: impl Into<PathBuf>) -> Self {
        Self {
            location: Some(location.into()),
            fsync: true,
        }
    }

    /// Whether writes are flushed to disk (`fsync` of the file and of its folder) before they
    /// count as done.
    ///
    /// On by default, because a session that a response confirmed (a login, a cart) should
    /// survive a power cut. Turning it off trades that for speed; a crash of the process alone
    /// still never leaves a half-written file, since the operating system keeps the data.
    #[must_use]
    pub fn with_fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// The folder, if configured.
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// See [`FileConfig::with_fsync`].
    pub fn fsync(&self) -> bool {
        self.fsync
    }
}
