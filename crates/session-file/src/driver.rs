//! The async driver over the blocking store.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Capabilities, Clock, ConfigError, Driver, DriverError, DriverSetup, Expected, Lifetimes,
    Record, SessionContext, StorageKey, WriteOutcome,
};

use crate::config::FileConfig;
use crate::store::{
    create_private_dir, Store, TooLarge, MAX_FILE_BYTES, PROBE_PREFIX, PROBE_RANDOM_CHARS,
};
use crate::sweep::SweepReport;

/// The driver's name in the registry and in errors.
const NAME: &str = "file";

/// Sessions kept as one file each under a folder, with a cross-process lock for the atomic
/// update, expiry on read, cheap touches and a sweeper.
///
/// Build it from the `file` configuration section through [`register`](crate::register), or in
/// code with [`FileDriver::new`]. Cloning is cheap and clones share the folder.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use session_core::{Lifetimes, SystemClock};
/// use session_file::{FileConfig, FileDriver};
///
/// let dir = tempfile::tempdir()?;
/// let driver = FileDriver::new(
///     FileConfig::new(dir.path().join("sessions")),
///     Lifetimes::new(Duration::from_secs(2 * 3600), None),
///     Arc::new(SystemClock),
/// )?;
/// assert!(driver.location().ends_with("sessions"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FileDriver {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for FileDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileDriver")
            .field("location", &self.store.root())
            .field("lifetimes", &self.store.lifetimes())
            .finish_non_exhaustive()
    }
}

impl FileDriver {
    /// Opens (creating it if needed) the folder and checks that it is writable.
    ///
    /// A missing folder is created with owner-only permissions (`0700`) — session files are
    /// credentials' worth of data, so no other account on the machine should list or read them.
    /// An existing folder keeps its permissions; a warning is logged when others can access it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `file.location` and the path when the location is missing, is not
    /// a folder, cannot be created or is not writable.
    pub fn new(
        config: FileConfig,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        Self::open(NAME, config, lifetimes, clock)
    }

    /// Builds the driver from its configuration section at start-up (what
    /// [`register`](crate::register) does).
    ///
    /// # Errors
    ///
    /// As [`FileDriver::new`], plus an invalid section.
    pub fn from_setup(setup: &DriverSetup<'_>) -> Result<Self, ConfigError> {
        let config: FileConfig = setup.parse_section()?;
        Self::open(setup.name(), config, setup.lifetimes(), setup.clock())
    }

    fn open(
        section: &str,
        config: FileConfig,
        lifetimes: Lifetimes,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let option = format!("{section}.location");
        let location = config.location().ok_or_else(|| {
            ConfigError::new(
                &option,
                "is required: the folder that holds the session files, such as /var/lib/app/sessions",
            )
        })?;
        let root = prepare_folder(location).map_err(|(what, e)| {
            ConfigError::new(&option, format!("{}: {what}: {e}", location.display())).with_source(e)
        })?;
        Ok(Self {
            store: Arc::new(Store::new(root, lifetimes, config.fsync())),
            clock,
        })
    }

    /// The folder, as an absolute path.
    pub fn location(&self) -> &Path {
        self.store.root()
    }

    /// Where the record of `key` is kept: `<location>/<first two characters>/<key>.session`.
    /// Useful for operations and tests; the driver reads and writes it by itself.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(
    /// #     session_file::FileConfig::new(dir.path()),
    /// #     session_core::Lifetimes::new(std::time::Duration::from_secs(60), None),
    /// #     std::sync::Arc::new(session_core::SystemClock),
    /// # )?;
    /// let key = session_core::SessionId::generate().storage_key();
    /// let path = driver.session_path(&key);
    /// assert!(path.starts_with(driver.location()));
    /// assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{key}.session"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_path(&self, key: &StorageKey) -> PathBuf {
        self.store.data_path(key)
    }

    /// Removes expired session files, unreadable files idle for longer than the idle lifetime,
    /// temporary files of interrupted writes and lock files of sessions that no longer exist.
    ///
    /// A live session is never removed: a file is only deleted after the session's lock is taken
    /// (without waiting: a busy session is left for the next sweep) and its expiry checked again
    /// under it. Symlinks are never followed, and names the driver does not create are left
    /// alone. The work runs on the blocking thread pool.
    ///
    /// - **Temporary files** (`.<key>.<random>.tmp`, and the `.probe.<random>` file of start-up)
    ///   go once they are older than [`TEMP_FILE_MIN_AGE`](crate::TEMP_FILE_MIN_AGE) and, for a
    ///   write's file, the session's lock is free: a writer holds that lock for the whole life of
    ///   its temporary file, so a write in progress in any process is never touched. They are
    ///   counted in [`SweepReport::temporary`].
    /// - **Lock files** go only when their session has no data file, while the sweeper holds
    ///   that very lock, and only on Unix; a lock file whose session exists goes with the
    ///   session. Removing a lock file does not break mutual exclusion between processes, because
    ///   every locker, once it holds a lock, checks that the file it locked is still the one at
    ///   the path (same device and inode) and starts over on the new file otherwise; a process
    ///   still waiting on the removed file can therefore never believe it holds the lock while
    ///   another holds the new one. Without inode numbers that check is impossible, so on other
    ///   platforms lock files are never removed. They are counted in [`SweepReport::locks`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(
    /// #     session_file::FileConfig::new(dir.path()),
    /// #     session_core::Lifetimes::new(std::time::Duration::from_secs(60), None),
    /// #     std::sync::Arc::new(session_core::SystemClock),
    /// # )?;
    /// let report = driver.sweep().await?;
    /// assert_eq!(report.removed(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`DriverError::Unavailable`] when the folder cannot be listed. Failures on single files
    /// are logged and counted in [`SweepReport::errors`] instead.
    pub async fn sweep(&self) -> Result<SweepReport, DriverError> {
        let now = self.clock.now_ms();
        self.blocking("sweep", None, move |store| store.sweep(now))
            .await
    }

    /// [`FileDriver::sweep`] on the current thread, without an async runtime: for a cron job or
    /// a command-line tool (see the `sweep` example of this crate).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(
    /// #     session_file::FileConfig::new(dir.path()),
    /// #     session_core::Lifetimes::new(std::time::Duration::from_secs(60), None),
    /// #     std::sync::Arc::new(session_core::SystemClock),
    /// # )?;
    /// let report = driver.sweep_blocking()?;
    /// println!("{report}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The I/O error when the folder cannot be listed.
    pub fn sweep_blocking(&self) -> io::Result<SweepReport> {
        self.store.sweep(self.clock.now_ms())
    }

    /// Runs [`FileDriver::sweep`] now and then every `every` on the current tokio runtime, until
    /// the returned handle is dropped or stopped. Results are logged (`debug`, or `warn` on
    /// failure) under the `session` target.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, like `tokio::spawn`; and when `every` is zero.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(
    /// #     session_file::FileConfig::new(dir.path()),
    /// #     session_core::Lifetimes::new(std::time::Duration::from_secs(60), None),
    /// #     std::sync::Arc::new(session_core::SystemClock),
    /// # )?;
    /// let sweeper = driver.spawn_sweeper(std::time::Duration::from_secs(15 * 60));
    /// // … serve requests; the sweeper stops with the handle.
    /// sweeper.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn spawn_sweeper(&self, every: Duration) -> SweeperHandle {
        let driver = self.clone();
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let task = tokio::spawn(async move {
            loop {
                ticks.tick().await;
                match driver.sweep().await {
                    Ok(report) => {
                        tracing::debug!(target: "session", driver = NAME, %report, "swept the session folder");
                    }
                    Err(e) => {
                        tracing::warn!(target: "session", driver = NAME, error = %e, "sweeping the session folder failed");
                    }
                }
            }
        });
        SweeperHandle { task }
    }

    /// Runs a blocking store operation on the blocking pool, turning failures into
    /// [`DriverError`]s.
    async fn blocking<T, F>(
        &self,
        operation: &'static str,
        key: Option<&StorageKey>,
        op: F,
    ) -> Result<T, DriverError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> io::Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || op(&store))
            .await
            .map_err(|e| DriverError::unavailable(NAME, e))?;
        result.map_err(|source| {
            if let Some(TooLarge(size)) = source.get_ref().and_then(|e| e.downcast_ref()) {
                return DriverError::TooLarge {
                    driver: NAME,
                    size: *size,
                    limit: MAX_FILE_BYTES as usize,
                };
            }
            tracing::warn!(
                target: "session",
                driver = NAME,
                operation,
                key = key.map(StorageKey::short),
                error = %source,
                "session file operation failed"
            );
            DriverError::unavailable(NAME, FileError { operation, source })
        })
    }
}

#[async_trait]
impl Driver for FileDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new().with_atomic_update(true)
    }

    async fn read(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("read", Some(key), move |s| s.read(&owned, now))
            .await
    }

    async fn write(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError> {
        let (owned, record) = (key.clone(), record.clone());
        self.blocking("write", Some(key), move |s| s.write(&owned, &record))
            .await
    }

    async fn write_if(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let (owned, record) = (key.clone(), record.clone());
        self.blocking("write_if", Some(key), move |s| {
            s.write_if(&owned, &record, expected, now)
        })
        .await
    }

    async fn destroy(&self, _cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
        let owned = key.clone();
        self.blocking("destroy", Some(key), move |s| s.destroy(&owned))
            .await
    }

    async fn destroy_if(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("destroy_if", Some(key), move |s| {
            s.destroy_if(&owned, version, now)
        })
        .await
    }

    async fn touch(
        &self,
        _cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("touch", Some(key), move |s| s.touch(&owned, now_ms, now))
            .await
    }
}

/// The background sweeper started by [`FileDriver::spawn_sweeper`]. Dropping it stops the
/// sweeper, as does [`SweeperHandle::stop`].
#[derive(Debug)]
#[must_use = "the sweeper stops when its handle is dropped"]
pub struct SweeperHandle {
    task: tokio::task::JoinHandle<()>,
}

impl SweeperHandle {
    /// Stops the sweeper. A sweep already running on the blocking pool finishes its pass.
    pub fn stop(self) {
        drop(self);
    }

    /// Whether the sweeper task has ended (it only ends when stopped, or if its runtime shuts
    /// down).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An I/O failure of one driver operation, kept as the source of a [`DriverError`].
#[derive(Debug)]
struct FileError {
    operation: &'static str,
    source: io::Error,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.source)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Creates the folder if needed, checks it, and returns its absolute path. Errors say what was
/// being done.
fn prepare_folder(location: &Path) -> Result<PathBuf, (&'static str, io::Error)> {
    let root = std::path::absolute(location).map_err(|e| ("cannot resolve the path", e))?;
    match std::fs::metadata(&root) {
        Ok(meta) if !meta.is_dir() => {
            return Err((
                "not a folder",
                io::Error::new(io::ErrorKind::NotADirectory, "a file is in the way"),
            ))
        }
        Ok(meta) => warn_if_shared(&root, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = root.parent() {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder
                    .create(parent)
                    .map_err(|e| ("cannot create the folder", e))?;
            }
            create_private_dir(&root).map_err(|e| ("cannot create the folder", e))?;
        }
        Err(e) => return Err(("cannot access the folder", e)),
    }
    // A probe file proves that sessions can be written, at start-up rather than on the first
    // login. It is removed at once; one left by a crash at this very moment goes with the
    // sweeper (see `TEMP_FILE_MIN_AGE`).
    tempfile::Builder::new()
        .prefix(PROBE_PREFIX)
        .rand_bytes(PROBE_RANDOM_CHARS)
        .tempfile_in(&root)
        .map_err(|e| ("the folder is not writable", e))?;
    Ok(root)
}

#[cfg(unix)]
fn warn_if_shared(root: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            target: "session",
            driver = NAME,
            location = %root.display(),
            mode = format_args!("{mode:o}"),
            "the session folder is accessible to other accounts; 0700 is recommended"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path, _: &std::fs::Metadata) {}
