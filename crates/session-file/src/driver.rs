//! The async driver over the blocking store.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Clock, ConfigError, DriverError, DriverSetup, Record, SessionStore, StorageKey, SystemClock,
    TaggedStore, WriteOutcome,
};

use crate::config::FileConfig;
use crate::store::{
    create_private_dir, Store, TooLarge, MAX_FILE_BYTES, PROBE_PREFIX, PROBE_RANDOM_CHARS,
};
use crate::sweep::SweepReport;

/// The driver's name in the registry and in errors.
const NAME: &str = "file";

/// Sessions kept as one file each under a folder, with a cross-process lock for the conditional
/// writes, expiry on read, cheap refreshes and a sweeper.
///
/// It is a [`SessionStore`] with conditional writes: [`write`](SessionStore::write) and
/// [`destroy`](SessionStore::destroy) compare versions under the session's lock and answer
/// `Written`, `Conflict` or `Gone`. A record is live until its `expires_at`, compared with the
/// driver's clock ([`FileDriver::with_clock`]; the system clock by default).
///
/// Build it in code with [`FileDriver::new`] (or [`FileDriver::from_config`]) and hand the value
/// to the manager, or from the `file` configuration section through
/// [`register`](crate::register). Cloning is cheap and clones share the folder, so an
/// application can keep one to sweep it:
///
/// ```
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use session_core::{SessionConfig, SessionManager};
/// use session_file::FileDriver;
///
/// let dir = tempfile::tempdir()?;
/// let driver = FileDriver::new(dir.path().join("sessions"))?;
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .driver(driver.clone())
/// .build()?;
/// assert_eq!(manager.driver().name(), "file");
/// // Keep the handle as long as the server runs: dropping it stops the sweeper.
/// let _sweeper = driver.spawn_sweeper(Duration::from_secs(15 * 60));
///
/// let first = manager.start_request(std::iter::empty()).session().await?;
/// first.put("cart_total", 1900)?;
/// first.commit().await?;
/// let cookie = first.id_cookie().expect("an id cookie");
///
/// let second = manager.start_request([cookie.as_str()]).session().await?;
/// assert_eq!(second.get::<u32>("cart_total")?, Some(1900));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
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
            .field("fsync", &self.store.fsync())
            .finish_non_exhaustive()
    }
}

impl FileDriver {
    /// A driver on the folder `location`, flushing every write to disk, with the system clock.
    /// Opens the folder (creating it if needed) and checks that it is writable.
    ///
    /// A missing folder is created with owner-only permissions (`0700`) — session files are
    /// credentials' worth of data, so no other account on the machine should list or read them.
    /// An existing folder keeps its permissions; a warning is logged when others can access it.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_file::FileDriver;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .driver(FileDriver::new(dir.path().join("sessions"))?)
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "file");
    ///
    /// // A location that is a file is refused, naming the option and the path.
    /// let file = dir.path().join("not-a-folder");
    /// std::fs::write(&file, b"")?;
    /// let err = FileDriver::new(&file).unwrap_err();
    /// assert_eq!(err.option(), "file.location");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `file.location` and the path when the location is not a folder,
    /// cannot be created or is not writable.
    pub fn new(location: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_config(FileConfig::new(location))
    }

    /// A driver on the folder and with the options of `config` (the `file` section), with the
    /// system clock. Opens the folder as [`FileDriver::new`] does.
    ///
    /// ```
    /// use session_file::{FileConfig, FileDriver};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let driver = FileDriver::from_config(FileConfig::new(dir.path()).with_fsync(false))?;
    /// assert_eq!(driver.location(), dir.path());
    ///
    /// // A section without its required `location`.
    /// let err = FileDriver::from_config(serde_json::from_str("{}")?).unwrap_err();
    /// assert_eq!(err.option(), "file.location");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`FileDriver::new`], plus a missing location.
    pub fn from_config(config: FileConfig) -> Result<Self, ConfigError> {
        Self::open(NAME, config, Arc::new(SystemClock))
    }

    /// Uses `clock` for every expiry decision: reads, conditional writes, refreshes and sweeps
    /// compare a record's `expires_at` with it. Give it the manager's clock, so that both agree
    /// (tests move a [`ManualClock`](session_core::ManualClock)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{ManualClock, SessionConfig, SessionManager};
    /// use session_file::FileDriver;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let clock = Arc::new(ManualClock::new(1_000_000));
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .driver(FileDriver::new(dir.path())?.with_clock(clock.clone()))
    /// .with_clock(clock)
    /// .build()?;
    /// assert_eq!(manager.clock().now_ms(), 1_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the driver from its configuration section and the manager's clock at start-up
    /// (what [`register`](crate::register) does).
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::{SessionConfig, SessionManager};
    /// use session_file::FileDriver;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("files")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_section("files", json!({ "location": dir.path() })),
    /// )
    /// .extend("files", |setup| Ok(FileDriver::from_setup(setup)?.into()))
    /// .build()?;
    /// assert_eq!(manager.driver().name(), "file");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`FileDriver::from_config`], naming the section the driver is registered under, plus
    /// an invalid section.
    pub fn from_setup(setup: &DriverSetup<'_>) -> Result<Self, ConfigError> {
        let config: FileConfig = setup.parse_section()?;
        Self::open(setup.name(), config, setup.clock())
    }

    fn open(section: &str, config: FileConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
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
            store: Arc::new(Store::new(root, config.fsync())),
            clock,
        })
    }

    /// The folder, as an absolute path.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let driver = session_file::FileDriver::new(dir.path().join("sessions"))?;
    /// assert!(driver.location().is_absolute());
    /// assert!(driver.location().ends_with("sessions"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn location(&self) -> &Path {
        self.store.root()
    }

    /// Where the record of `key` is kept: `<location>/<first two characters>/<key>.session`.
    /// Useful for operations and tests; the driver reads and writes it by itself.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(dir.path())?;
    /// let key = session_core::SessionId::generate().storage_key();
    /// let path = driver.session_path(&key);
    /// assert!(path.starts_with(driver.location()));
    /// assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{key}.session"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session_path(&self, key: &StorageKey) -> PathBuf {
        self.store.data_path(key)
    }

    /// The folder of the index of `tag`: `<location>/tags/<h2>/<h64>`, where `<h64>` is SHA-256
    /// of the tag in lowercase hex and `<h2>` its first two characters. It holds an empty file
    /// named after the storage key of each session of the tag (see [Tags](crate#tags)). The tag
    /// itself never reaches a path. Useful for operations and tests.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(dir.path())?;
    /// let folder = driver.tag_path("../../etc");
    /// assert!(folder.starts_with(driver.location().join("tags")));
    /// let name = folder.file_name().unwrap().to_str().unwrap();
    /// assert_eq!(name.len(), 64);
    /// assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tag_path(&self, tag: &str) -> PathBuf {
        self.store.tag_dir(tag)
    }

    /// Removes session files whose record's `expires_at` has come (by the driver's clock),
    /// unreadable session files older than
    /// [`UNREADABLE_FILE_MIN_AGE`](crate::UNREADABLE_FILE_MIN_AGE), temporary files of
    /// interrupted writes, lock files of sessions that no longer exist, and tag index entries
    /// whose session is gone, expired, untagged or tagged otherwise (with the folders of tags
    /// left empty). A live tagged session whose entry is missing gets it back.
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
    /// - **Tag index entries** go under their session's lock, taken without waiting, once the
    ///   record is checked under it; see [Tags](crate#tags). They are counted in
    ///   [`SweepReport::tags`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let driver = session_file::FileDriver::new(dir.path())?;
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
    /// # let driver = session_file::FileDriver::new(dir.path())?;
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
    /// # let driver = session_file::FileDriver::new(dir.path())?;
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

/// The [`SessionStore`] contract, with conditional writes. Expiry is decided by comparing a
/// record's `expires_at` with the driver's clock.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use session_core::{ManualClock, Record, SessionId, SessionStore, WriteOutcome};
/// use session_file::FileDriver;
///
/// let dir = tempfile::tempdir()?;
/// let clock = ManualClock::new(1_000);
/// let driver = FileDriver::new(dir.path())?.with_clock(Arc::new(clock.clone()));
/// let key = SessionId::generate().storage_key();
/// let record = Record { version: 1, ..Record::new(Default::default(), 1_000, 61_000) };
///
/// assert_eq!(driver.write(&key, &record, None).await?, WriteOutcome::Written);
/// assert_eq!(driver.write(&key, &record, None).await?, WriteOutcome::Conflict);
/// driver.refresh(&key, 2_000, 62_000).await?;
/// let read = driver.read(&key).await?.expect("live");
/// assert_eq!((read.last_active, read.expires_at, read.version), (2_000, 62_000, 1));
///
/// clock.advance(std::time::Duration::from_secs(61));
/// assert_eq!(driver.read(&key).await?, None); // expired
/// assert_eq!(driver.destroy(&key, 1).await?, WriteOutcome::Gone);
/// assert_eq!(SessionStore::name(&driver), "file");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
impl SessionStore for FileDriver {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("read", Some(key), move |s| s.read(&owned, now))
            .await
    }

    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let (owned, record) = (key.clone(), record.clone());
        self.blocking("write", Some(key), move |s| {
            s.write(&owned, &record, expected, now)
        })
        .await
    }

    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("destroy", Some(key), move |s| {
            s.destroy(&owned, version, now)
        })
        .await
    }

    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        let now = self.clock.now_ms();
        let owned = key.clone();
        self.blocking("refresh", Some(key), move |s| {
            s.refresh(&owned, last_active, expires_at, now)
        })
        .await
    }

    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

/// The sessions of a tag, from the tag's index folder (see [Tags](crate#tags)): each entry's
/// record is read, the live ones of the tag returned, and the entries found stale removed.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
/// use session_file::FileDriver;
///
/// let dir = tempfile::tempdir()?;
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .driver(FileDriver::new(dir.path())?)
/// .build()?;
/// let login = manager.start_request(std::iter::empty()).session().await?;
/// login.regenerate()?;
/// login.tag("user-7")?;
/// login.commit().await?;
///
/// let listed = manager.tagged_sessions("user-7").await?;
/// assert_eq!(listed.len(), 1);
/// assert_eq!(listed[0].handle, login.handle());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[async_trait]
impl TaggedStore for FileDriver {
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
        let now = self.clock.now_ms();
        let tag = tag.to_owned();
        self.blocking("list a tag", None, move |s| s.tagged(&tag, now))
            .await
    }
}

/// The background sweeper started by [`FileDriver::spawn_sweeper`]. Dropping it stops the
/// sweeper, as does [`SweeperHandle::stop`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let dir = tempfile::tempdir()?;
/// let driver = session_file::FileDriver::new(dir.path())?;
/// {
///     let _sweeper = driver.spawn_sweeper(std::time::Duration::from_secs(15 * 60));
///     // … serve requests
/// } // the sweeper stops here
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
#[must_use = "the sweeper stops when its handle is dropped"]
pub struct SweeperHandle {
    task: tokio::task::JoinHandle<()>,
}

impl SweeperHandle {
    /// Stops the sweeper. A sweep already running on the blocking pool finishes its pass.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// let driver = session_file::FileDriver::new(dir.path())?;
    /// let sweeper = driver.spawn_sweeper(std::time::Duration::from_secs(60));
    /// sweeper.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn stop(self) {
        drop(self);
    }

    /// Whether the sweeper task has ended (it only ends when stopped, or if its runtime shuts
    /// down).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let dir = tempfile::tempdir()?;
    /// let driver = session_file::FileDriver::new(dir.path())?;
    /// let sweeper = driver.spawn_sweeper(std::time::Duration::from_secs(60));
    /// assert!(!sweeper.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
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
