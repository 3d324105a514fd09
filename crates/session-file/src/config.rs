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
    ///
    /// ```
    /// use session_file::FileConfig;
    ///
    /// let config = FileConfig::new("/var/lib/app/sessions");
    /// assert_eq!(config.location(), Some(std::path::Path::new("/var/lib/app/sessions")));
    /// assert!(config.fsync());
    /// ```
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
    ///
    /// ```
    /// use session_file::{FileConfig, FileDriver};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let config = FileConfig::new(dir.path()).with_fsync(false);
    /// assert!(!config.fsync());
    /// let driver = FileDriver::from_config(config)?;
    /// # let _ = driver;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_fsync(mut self, on: bool) -> Self {
        self.fsync = on;
        self
    }

    /// The folder, if configured.
    ///
    /// ```
    /// use session_file::FileConfig;
    ///
    /// let empty: FileConfig = serde_json::from_str("{}").unwrap();
    /// assert_eq!(empty.location(), None);
    /// assert!(FileConfig::new("/srv/sessions").location().is_some());
    /// ```
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// Whether writes are flushed to disk; see [`FileConfig::with_fsync`].
    ///
    /// ```
    /// use session_file::FileConfig;
    ///
    /// let config: FileConfig =
    ///     serde_json::from_str(r#"{ "location": "/srv/sessions", "fsync": false }"#).unwrap();
    /// assert!(!config.fsync());
    /// ```
    pub fn fsync(&self) -> bool {
        self.fsync
    }
}
