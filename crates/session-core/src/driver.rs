//! The driver contract: how sessions are persisted.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::config::SessionConfig;
use crate::context::SessionContext;
use crate::error::{ConfigError, DriverError};
use crate::id::{KeyRing, StorageKey};

/// What a driver keeps for one session: the store (flash messages included, under `__flash__`),
/// a version for the atomic update, and the times that expiry is computed from.
///
/// ```
/// use session_core::Record;
///
/// let record = Record::new(serde_json::Map::new(), 1_000);
/// let bytes = record.encode();
/// assert_eq!(Record::decode(&bytes), Some(record));
/// assert_eq!(Record::decode(b"not json"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The session's data.
    pub data: Map<String, Value>,
    /// Incremented on every write; the atomic update compares it.
    pub version: u64,
    /// When the session was created (ms since the Unix epoch).
    pub created_at: u64,
    /// The last request that used the session (ms since the Unix epoch).
    pub last_active: u64,
}

/// The stored format's version. Bumped when the layout changes; older layouts are migrated in
/// [`Record::decode`], unknown ones read as no session.
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct EnvelopeRef<'a> {
    format: u32,
    #[serde(flatten)]
    record: &'a Record,
}

/// The decoding side spells the record's fields out instead of flattening them: serde's
/// `flatten` buffers the whole input into an intermediate tree and deserializes it a second
/// time, which made decoding a 40 KB session about six times slower than encoding it.
#[derive(Deserialize)]
struct Envelope {
    format: u32,
    data: Map<String, Value>,
    version: u64,
    created_at: u64,
    last_active: u64,
}

impl Record {
    /// A new record at version 0 (never written), created and active at `now_ms`.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::Record;
    ///
    /// let mut data = serde_json::Map::new();
    /// data.insert("user_id".into(), json!(7));
    /// let record = Record::new(data, 1_000);
    /// assert_eq!(record.version, 0);
    /// assert_eq!((record.created_at, record.last_active), (1_000, 1_000));
    /// assert_eq!(record.data["user_id"], 7);
    /// ```
    pub fn new(data: Map<String, Value>, now_ms: u64) -> Self {
        Self {
            data,
            version: 0,
            created_at: now_ms,
            last_active: now_ms,
        }
    }

    /// The versioned JSON encoding that the bundled server-side drivers store.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let bytes = Record::new(Default::default(), 1_000).encode();
    /// let text = String::from_utf8(bytes).unwrap();
    /// assert!(text.contains("\"format\":1"));
    /// assert!(text.contains("\"created_at\":1000"));
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        // Room for the envelope and a small session, so that most records are written without
        // growing the buffer.
        let mut out = Vec::with_capacity(128);
        self.encode_into(&mut out);
        out
    }

    /// Appends [`Record::encode`]'s output to `out`, for a driver that stores the record after a
    /// header of its own in one buffer.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let record = Record::new(Default::default(), 1_000);
    /// let mut stored = b"header:".to_vec();
    /// record.encode_into(&mut stored);
    /// assert_eq!(&stored[7..], record.encode().as_slice());
    /// assert_eq!(Record::decode(&stored[7..]), Some(record));
    /// ```
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let envelope = EnvelopeRef {
            format: FORMAT_VERSION,
            record: self,
        };
        // Serializing a map of JSON values and integers cannot fail; if it ever did, nothing
        // partial is left behind.
        if serde_json::to_writer(&mut *out, &envelope).is_err() {
            out.truncate(start);
        }
    }

    /// Decodes [`Record::encode`]'s output. Anything else (another app's data, an unknown format
    /// version, truncated bytes) is `None`, never a panic.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let record = Record::new(Default::default(), 1_000);
    /// let bytes = record.encode();
    /// assert_eq!(Record::decode(&bytes), Some(record));
    /// assert_eq!(Record::decode(&bytes[..bytes.len() - 1]), None); // truncated
    /// assert_eq!(Record::decode(br#"{"format":99,"data":{}}"#), None); // unknown format
    /// ```
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let e: Envelope = serde_json::from_slice(bytes).ok()?;
        (e.format == FORMAT_VERSION).then_some(Record {
            data: e.data,
            version: e.version,
            created_at: e.created_at,
            last_active: e.last_active,
        })
    }
}

/// The idle and absolute lifetimes of sessions.
///
/// ```
/// use std::time::Duration;
/// use session_core::{Lifetimes, Record};
///
/// let lifetimes = Lifetimes::new(Duration::from_secs(60), Some(Duration::from_secs(600)));
/// let mut record = Record::new(Default::default(), 0);
/// assert!(!lifetimes.is_expired(&record, 59_999));
/// assert!(lifetimes.is_expired(&record, 60_000));
/// record.last_active = 590_000;
/// assert_eq!(lifetimes.expires_at(&record), 600_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    idle: Duration,
    absolute: Option<Duration>,
}

impl Lifetimes {
    /// Lifetimes from an idle age and an optional absolute cap.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetimes;
    ///
    /// let lifetimes = Lifetimes::new(Duration::from_secs(2 * 3600), None);
    /// assert_eq!(lifetimes.idle(), Duration::from_secs(7200));
    /// assert_eq!(lifetimes.absolute(), None);
    /// ```
    pub fn new(idle: Duration, absolute: Option<Duration>) -> Self {
        Self { idle, absolute }
    }

    /// The idle lifetime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetimes;
    ///
    /// assert_eq!(Lifetimes::new(Duration::from_secs(60), None).idle(), Duration::from_secs(60));
    /// ```
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute lifetime, if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetimes;
    ///
    /// let capped = Lifetimes::new(Duration::from_secs(60), Some(Duration::from_secs(3600)));
    /// assert_eq!(capped.absolute(), Some(Duration::from_secs(3600)));
    /// ```
    pub fn absolute(&self) -> Option<Duration> {
        self.absolute
    }

    /// When a record expires if it is not used again (ms since the Unix epoch).
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Lifetimes, Record};
    ///
    /// let lifetimes = Lifetimes::new(Duration::from_secs(60), None);
    /// let mut record = Record::new(Default::default(), 0);
    /// record.last_active = 30_000;
    /// assert_eq!(lifetimes.expires_at(&record), 90_000);
    /// ```
    pub fn expires_at(&self, record: &Record) -> u64 {
        self.expires_at_parts(record.created_at, record.last_active)
    }

    /// [`Lifetimes::expires_at`] from the two times.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetimes;
    ///
    /// let lifetimes = Lifetimes::new(Duration::from_secs(60), Some(Duration::from_secs(100)));
    /// assert_eq!(lifetimes.expires_at_parts(0, 10_000), 70_000); // idle end
    /// assert_eq!(lifetimes.expires_at_parts(0, 50_000), 100_000); // absolute end
    /// ```
    pub fn expires_at_parts(&self, created_at: u64, last_active: u64) -> u64 {
        let idle_end = last_active.saturating_add(self.idle.as_millis() as u64);
        match self.absolute {
            Some(abs) => idle_end.min(created_at.saturating_add(abs.as_millis() as u64)),
            None => idle_end,
        }
    }

    /// Whether the record is past its idle or absolute lifetime at `now_ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{Lifetimes, Record};
    ///
    /// let lifetimes = Lifetimes::new(Duration::from_secs(60), Some(Duration::from_secs(120)));
    /// let mut record = Record::new(Default::default(), 0);
    /// record.last_active = 100_000; // still active...
    /// assert!(!lifetimes.is_expired(&record, 119_999));
    /// assert!(lifetimes.is_expired(&record, 120_000)); // ...but past the absolute lifetime
    /// ```
    pub fn is_expired(&self, record: &Record, now_ms: u64) -> bool {
        now_ms >= self.expires_at(record)
    }
}

/// What a driver can do beyond the four basic operations.
///
/// ```
/// use session_core::Capabilities;
///
/// let caps = Capabilities::new().with_atomic_update(true);
/// assert!(caps.atomic_update());
/// assert!(!caps.refreshes_on_read());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    atomic_update: bool,
    refreshes_on_read: bool,
}

impl Capabilities {
    /// No extra capabilities: last writer wins.
    ///
    /// ```
    /// use session_core::Capabilities;
    ///
    /// let caps = Capabilities::new();
    /// assert_eq!(caps, Capabilities::default());
    /// assert!(!caps.atomic_update());
    /// assert!(!caps.refreshes_on_read());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The driver implements [`Driver::write_if`]: commits lose no updates and never resurrect a
    /// destroyed session.
    ///
    /// ```
    /// use session_core::Capabilities;
    ///
    /// assert!(Capabilities::new().with_atomic_update(true).atomic_update());
    /// ```
    #[must_use]
    pub fn with_atomic_update(mut self, on: bool) -> Self {
        self.atomic_update = on;
        self
    }

    /// The driver's `read` already refreshes the idle expiry (Redis `GETEX`), so the core skips
    /// the `touch` of an unmodified session it has read.
    ///
    /// ```
    /// use session_core::Capabilities;
    ///
    /// // A driver whose read is a Redis GETEX.
    /// let caps = Capabilities::new().with_atomic_update(true).with_refreshes_on_read(true);
    /// assert!(caps.refreshes_on_read());
    /// ```
    #[must_use]
    pub fn with_refreshes_on_read(mut self, on: bool) -> Self {
        self.refreshes_on_read = on;
        self
    }

    /// See [`Capabilities::with_atomic_update`].
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{Driver, Lifetimes, MemoryDriver, SystemClock};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(SystemClock));
    /// assert!(driver.capabilities().atomic_update());
    /// ```
    pub fn atomic_update(&self) -> bool {
        self.atomic_update
    }

    /// See [`Capabilities::with_refreshes_on_read`].
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{Driver, Lifetimes, MemoryDriver, SystemClock};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(SystemClock));
    /// assert!(driver.capabilities().refreshes_on_read()); // its read records the activity
    /// ```
    pub fn refreshes_on_read(&self) -> bool {
        self.refreshes_on_read
    }
}

/// The state a conditional write expects to find.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::{sync::Arc, time::Duration};
/// use session_core::{
///     CookieOptions, Driver, Expected, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext,
///     SessionId, WriteOutcome,
/// };
///
/// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
/// let cx = SessionContext::new("id", CookieOptions::default());
/// let key = SessionId::generate().storage_key();
/// let mut record = Record::new(Default::default(), 0);
///
/// // A new session: nothing may exist under the key yet.
/// record.version = 1;
/// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Absent).await?, WriteOutcome::Written);
/// // A later commit expects the version it read.
/// record.version = 2;
/// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Version(1)).await?, WriteOutcome::Written);
/// # Ok::<(), session_core::DriverError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No record exists under the key (a new session, or the new id of a regenerated one).
    Absent,
    /// The record exists at this version.
    Version(u64),
}

/// The outcome of [`Driver::write_if`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::{sync::Arc, time::Duration};
/// use session_core::{
///     CookieOptions, Driver, Expected, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext,
///     SessionId, WriteOutcome,
/// };
///
/// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
/// let cx = SessionContext::new("id", CookieOptions::default());
/// let key = SessionId::generate().storage_key();
/// let mut record = Record::new(Default::default(), 0);
/// record.version = 1;
///
/// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Absent).await?, WriteOutcome::Written);
/// // Another request wrote version 1 first: re-read and replay.
/// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Absent).await?, WriteOutcome::Conflict);
/// // The session was destroyed meanwhile: write nothing.
/// driver.destroy(&cx, &key).await?;
/// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Version(1)).await?, WriteOutcome::Gone);
/// # Ok::<(), session_core::DriverError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The record was written.
    Written,
    /// The record exists at another version (or exists when `Absent` was expected). Nothing was
    /// written; the core re-reads and replays.
    Conflict,
    /// A version was expected but the record no longer exists: the session was destroyed (or
    /// expired) meanwhile. Nothing was written, and nothing must be.
    Gone,
}

/// A session storage driver.
///
/// The contract of AdonisJS's `SessionDriverContract` (`read`, `write`, `destroy`, `touch`), async
/// and object-safe, plus the optional conditional write that makes commits free of lost updates.
/// Drivers never see HTTP types and never see a raw session id: they get a [`StorageKey`] and a
/// [`SessionContext`] (request cookies in, response cookies out) for drivers that keep state in
/// the browser.
///
/// A driver is built once at start-up by its factory (see [`DriverRegistry::extend`]), so pools and
/// folders are set up once; the request context comes with every call.
///
/// Rules every driver follows (the `session-testkit` conformance suite checks them):
/// - `read` returns `None` for a missing, undecodable or expired record (log undecodable data
///   with `tracing::warn!`); errors are for backend failures only.
/// - `write` stores the record as given (its `version` is already the new one).
/// - `touch` moves `last_active` forward on an existing, unexpired record; it never creates one
///   and never brings an expired one back.
/// - `destroy` of a missing record is not an error.
///
/// ```
/// use async_trait::async_trait;
/// use session_core::{Driver, DriverError, Record, SessionContext, StorageKey};
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// /// The seed's in-memory example, last writer wins. Expiry is left to the core, which checks
/// /// it after every read, and `touch` is a no-op: sessions expire `age` after their last write
/// /// (a touch of a record that may have expired would bring it back; see the custom drivers
/// /// guide for a driver that slides the expiry and checks it).
/// #[derive(Debug, Default)]
/// struct MapDriver(Mutex<HashMap<StorageKey, Record>>);
///
/// #[async_trait]
/// impl Driver for MapDriver {
///     fn name(&self) -> &'static str { "map" }
///     async fn read(&self, _: &SessionContext, key: &StorageKey) -> Result<Option<Record>, DriverError> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn write(&self, _: &SessionContext, key: &StorageKey, record: &Record) -> Result<(), DriverError> {
///         self.0.lock().unwrap().insert(key.clone(), record.clone());
///         Ok(())
///     }
///     async fn destroy(&self, _: &SessionContext, key: &StorageKey) -> Result<(), DriverError> {
///         self.0.lock().unwrap().remove(key);
///         Ok(())
///     }
///     async fn touch(&self, _: &SessionContext, _: &StorageKey, _: u64) -> Result<(), DriverError> {
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Driver: Send + Sync + fmt::Debug {
    /// The driver's name, for errors and logs.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{Driver, Lifetimes, MemoryDriver, SystemClock};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(SystemClock));
    /// assert_eq!(driver.name(), "memory");
    /// ```
    fn name(&self) -> &'static str;

    /// What the driver can do beyond the basic operations.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{Capabilities, Driver, Lifetimes, MemoryDriver, SystemClock};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(SystemClock));
    /// assert_eq!(
    ///     driver.capabilities(),
    ///     Capabilities::new().with_atomic_update(true).with_refreshes_on_read(true)
    /// );
    /// ```
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Reads a record, or `None` when there is none (missing, undecodable or expired).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let clock = ManualClock::new(0);
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(clock.clone()));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    ///
    /// assert_eq!(driver.read(&cx, &key).await?, None);
    /// let record = Record::new(Default::default(), 0);
    /// driver.write(&cx, &key, &record).await?;
    /// assert_eq!(driver.read(&cx, &key).await?, Some(record));
    /// clock.advance(Duration::from_secs(60));
    /// assert_eq!(driver.read(&cx, &key).await?, None); // expired
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn read(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
    ) -> Result<Option<Record>, DriverError>;

    /// Writes a record unconditionally (last writer wins).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    ///
    /// let mut record = Record::new(Default::default(), 0);
    /// record.version = 3; // stored as given
    /// driver.write(&cx, &key, &record).await?;
    /// assert_eq!(driver.read(&cx, &key).await?.map(|r| r.version), Some(3));
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn write(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<(), DriverError>;

    /// Writes a record only if the stored one is in the `expected` state. Drivers that declare
    /// [`Capabilities::atomic_update`] implement it; the default says it is unsupported.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{
    ///     CookieOptions, Driver, Expected, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext,
    ///     SessionId, WriteOutcome,
    /// };
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    /// let mut record = Record::new(Default::default(), 0);
    /// record.version = 1;
    /// driver.write(&cx, &key, &record).await?;
    ///
    /// // Two requests read version 1; the first commit wins, the second must replay.
    /// record.version = 2;
    /// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Version(1)).await?, WriteOutcome::Written);
    /// assert_eq!(driver.write_if(&cx, &key, &record, Expected::Version(1)).await?, WriteOutcome::Conflict);
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn write_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        record: &Record,
        expected: Expected,
    ) -> Result<WriteOutcome, DriverError> {
        let _ = (cx, key, record, expected);
        Err(DriverError::Unsupported {
            driver: self.name(),
            operation: "write_if",
        })
    }

    /// Removes a record. Missing records are not an error.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId};
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    ///
    /// driver.write(&cx, &key, &Record::new(Default::default(), 0)).await?;
    /// driver.destroy(&cx, &key).await?;
    /// assert_eq!(driver.read(&cx, &key).await?, None);
    /// driver.destroy(&cx, &key).await?; // already gone: still fine
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn destroy(&self, cx: &SessionContext, key: &StorageKey) -> Result<(), DriverError>;

    /// Removes a record only if it is still at `version`: `Written` when removed, `Conflict`
    /// when it is at another version, `Gone` when it no longer exists. Drivers that declare
    /// [`Capabilities::atomic_update`] implement it, so that emptying a session (logout, the last
    /// flash message consumed) never deletes what a concurrent request wrote meanwhile. The default
    /// says it is unsupported, and the core then falls back to [`Driver::destroy`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{
    ///     CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext, SessionId,
    ///     WriteOutcome,
    /// };
    ///
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(ManualClock::new(0)));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    /// let mut record = Record::new(Default::default(), 0);
    /// record.version = 2;
    /// driver.write(&cx, &key, &record).await?;
    ///
    /// // Read at version 1, but a concurrent request wrote version 2: keep its data.
    /// assert_eq!(driver.destroy_if(&cx, &key, 1).await?, WriteOutcome::Conflict);
    /// assert_eq!(driver.destroy_if(&cx, &key, 2).await?, WriteOutcome::Written);
    /// assert_eq!(driver.destroy_if(&cx, &key, 2).await?, WriteOutcome::Gone);
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn destroy_if(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        version: u64,
    ) -> Result<WriteOutcome, DriverError> {
        let _ = (cx, key, version);
        Err(DriverError::Unsupported {
            driver: self.name(),
            operation: "destroy_if",
        })
    }

    /// Marks an existing record active at `now_ms` (sliding idle expiry). Never creates one.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{
    ///     Clock, CookieOptions, Driver, Lifetimes, ManualClock, MemoryDriver, Record, SessionContext,
    ///     SessionId,
    /// };
    ///
    /// let clock = ManualClock::new(0);
    /// let driver = MemoryDriver::new(Lifetimes::new(Duration::from_secs(60), None), Arc::new(clock.clone()));
    /// let cx = SessionContext::new("id", CookieOptions::default());
    /// let key = SessionId::generate().storage_key();
    /// driver.write(&cx, &key, &Record::new(Default::default(), 0)).await?;
    ///
    /// clock.advance(Duration::from_secs(50));
    /// driver.touch(&cx, &key, clock.now_ms()).await?;
    /// clock.advance(Duration::from_secs(50)); // 100 s after creation, 50 s after the touch
    /// assert!(driver.read(&cx, &key).await?.is_some()); // the touch slid the idle expiry
    ///
    /// let unknown = SessionId::generate().storage_key();
    /// driver.touch(&cx, &unknown, clock.now_ms()).await?;
    /// assert_eq!(driver.read(&cx, &unknown).await?, None); // never creates a record
    /// # Ok::<(), session_core::DriverError>(())
    /// # }).unwrap();
    /// ```
    async fn touch(
        &self,
        cx: &SessionContext,
        key: &StorageKey,
        now_ms: u64,
    ) -> Result<(), DriverError>;
}

/// What a driver factory gets at start-up: its own configuration section and the shared settings.
///
/// ```
/// use std::sync::Arc;
/// use serde_json::json;
/// use session_core::{MemoryDriver, SessionConfig, SessionManager};
///
/// #[derive(serde::Deserialize)]
/// struct Section {
///     capacity: usize,
/// }
///
/// let manager = SessionManager::builder(
///     SessionConfig::new()
///         .with_driver("bounded")
///         .with_key("a secret of at least thirty-two bytes!!")
///         .with_section("bounded", json!({ "capacity": 100 })),
/// )
/// .extend("bounded", |setup| {
///     let section: Section = setup.parse_section()?;
///     assert_eq!(section.capacity, 100);
///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
/// })
/// .build()?;
/// assert_eq!(manager.driver().name(), "memory");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct DriverSetup<'a> {
    name: &'a str,
    config: &'a SessionConfig,
    lifetimes: Lifetimes,
    keys: &'a KeyRing,
    clock: Arc<dyn Clock>,
}

impl<'a> DriverSetup<'a> {
    pub(crate) fn new(
        name: &'a str,
        config: &'a SessionConfig,
        lifetimes: Lifetimes,
        keys: &'a KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            name,
            config,
            lifetimes,
            keys,
            clock,
        }
    }

    /// The name the driver was registered under.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new().with_driver("mine").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .extend("mine", |setup| {
    ///     assert_eq!(setup.name(), "mine");
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        self.name
    }

    /// The driver's own section (`file`, `redis`, or the registered name), if configured.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use serde_json::json;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("mine")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_section("mine", json!({ "prefix": "app:" })),
    /// )
    /// .extend("mine", |setup| {
    ///     assert_eq!(setup.section(), Some(&json!({ "prefix": "app:" })));
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn section(&self) -> Option<&Value> {
        self.config.section(self.name)
    }

    /// Deserializes the driver's section (an absent section deserializes from `{}`), naming the
    /// section in the error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use serde_json::json;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Section {
    ///     capacity: usize,
    /// }
    ///
    /// let err = SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("bounded")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_section("bounded", json!({ "capacity": "lots" })),
    /// )
    /// .extend("bounded", |setup| {
    ///     let section: Section = setup.parse_section()?;
    ///     let _ = section.capacity;
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()
    /// .unwrap_err();
    /// assert_eq!(err.option(), "bounded");
    /// ```
    pub fn parse_section<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let value = self
            .section()
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()));
        serde_json::from_value(value)
            .map_err(|e| ConfigError::new(self.name, e.to_string()).with_source(e))
    }

    /// The whole session configuration (cookie name and attributes, for example).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("mine")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_cookie_name("sid"),
    /// )
    /// .extend("mine", |setup| {
    ///     assert_eq!(setup.config().cookie_name(), "sid");
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn config(&self) -> &SessionConfig {
        self.config
    }

    /// The idle and absolute lifetimes.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new()
    ///         .with_driver("mine")
    ///         .with_key("a secret of at least thirty-two bytes!!")
    ///         .with_age("30m"),
    /// )
    /// .extend("mine", |setup| {
    ///     assert_eq!(setup.lifetimes().idle(), Duration::from_secs(1800));
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The secret keys.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryDriver, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new().with_driver("mine").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .extend("mine", |setup| {
    ///     // An encrypting driver derives its own key, never sharing the id signature's.
    ///     let keys = setup.keys().derive("mine-encryption");
    ///     assert_eq!(keys.len(), 1);
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn keys(&self) -> &KeyRing {
        self.keys
    }

    /// The clock all expiry decisions use.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{MemoryDriver, ManualClock, SessionConfig, SessionManager};
    ///
    /// SessionManager::builder(
    ///     SessionConfig::new().with_driver("mine").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .with_clock(Arc::new(ManualClock::new(42)))
    /// .extend("mine", |setup| {
    ///     assert_eq!(setup.clock().now_ms(), 42);
    ///     Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

type Factory = Arc<dyn Fn(&DriverSetup<'_>) -> Result<Arc<dyn Driver>, ConfigError> + Send + Sync>;

/// Drivers by name. `memory` is always registered; the driver crates register theirs, and
/// applications add their own with [`DriverRegistry::extend`].
///
/// ```
/// use std::sync::Arc;
/// use session_core::{DriverRegistry, MemoryDriver};
///
/// let mut registry = DriverRegistry::new();
/// registry.extend("my-memory", |setup| Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock()))));
/// assert!(registry.names().any(|n| n == "my-memory"));
/// ```
#[derive(Clone)]
pub struct DriverRegistry {
    factories: Vec<(String, Factory)>,
    /// Top-level configuration sections that drivers claimed beside their names.
    sections: Vec<String>,
}

impl fmt::Debug for DriverRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Default for DriverRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl DriverRegistry {
    /// A registry holding the `memory` driver.
    ///
    /// ```
    /// use session_core::DriverRegistry;
    ///
    /// let registry = DriverRegistry::new();
    /// assert_eq!(registry.names().collect::<Vec<_>>(), ["memory"]);
    /// ```
    pub fn new() -> Self {
        let mut registry = Self {
            factories: Vec::new(),
            sections: Vec::new(),
        };
        registry.extend("memory", |setup| {
            let mut driver = crate::memory::MemoryDriver::new(setup.lifetimes(), setup.clock());
            let options = setup.section().and_then(Value::as_object);
            for (option, value) in options.into_iter().flatten() {
                let count = value.as_u64().and_then(|n| usize::try_from(n).ok());
                driver = match (option.as_str(), count) {
                    ("max_sessions", Some(n)) if n > 0 => driver.with_max_sessions(n),
                    ("max_bytes", Some(n)) if n > 0 => driver.with_max_bytes(n),
                    ("max_sessions" | "max_bytes", _) => {
                        return Err(ConfigError::new(
                            format!("memory.{option}"),
                            format!("expected a positive whole number, got {value}"),
                        ))
                    }
                    _ => {
                        return Err(ConfigError::new(
                            format!("memory.{option}"),
                            "unknown option; expected max_sessions or max_bytes",
                        ))
                    }
                };
            }
            Ok(Arc::new(driver))
        });
        registry
    }

    /// Claims a top-level configuration section for a driver's options, beside the section named
    /// after the driver, so that the manager accepts it instead of reporting an unknown option.
    /// The cookie driver claims `cookie_store`, because `cookie` holds the cookie attributes.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::{DriverRegistry, SessionConfig, SessionManager};
    ///
    /// let config = SessionConfig::new()
    ///     .with_driver("memory")
    ///     .with_key("a secret of at least thirty-two bytes!!")
    ///     .with_section("my_options", json!({ "answer": 42 }));
    /// assert_eq!(SessionManager::builder(config.clone()).build().unwrap_err().option(), "my_options");
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry.claim_section("my_options");
    /// assert!(SessionManager::builder(config).with_registry(registry).build().is_ok());
    /// ```
    pub fn claim_section(&mut self, section: impl Into<String>) -> &mut Self {
        let section = section.into();
        if !self.sections.contains(&section) {
            self.sections.push(section);
        }
        self
    }

    /// The sections this registry accepts: the drivers' names and the claimed sections.
    pub(crate) fn sections(&self) -> impl Iterator<Item = &str> {
        self.names().chain(self.sections.iter().map(String::as_str))
    }

    /// Registers (or replaces) a driver factory under `name`. The factory runs once, at start-up,
    /// with the driver's configuration section.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{DriverRegistry, MemoryDriver, SessionConfig, SessionManager};
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry
    ///     .extend("cache", |setup| Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock()))))
    ///     .extend("cache", |setup| Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock())))); // replaces
    /// assert_eq!(registry.names().filter(|n| *n == "cache").count(), 1);
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("cache").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .with_registry(registry)
    /// .build()?;
    /// assert_eq!(manager.config().driver(), "cache");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn extend<F>(&mut self, name: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&DriverSetup<'_>) -> Result<Arc<dyn Driver>, ConfigError> + Send + Sync + 'static,
    {
        let name = name.into();
        self.factories.retain(|(n, _)| *n != name);
        self.factories.push((name, Arc::new(factory)));
        self
    }

    /// The registered names.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use session_core::{DriverRegistry, MemoryDriver};
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry.extend("cache", |setup| Ok(Arc::new(MemoryDriver::new(setup.lifetimes(), setup.clock()))));
    /// assert_eq!(registry.names().collect::<Vec<_>>(), ["memory", "cache"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.iter().map(|(n, _)| n.as_str())
    }

    pub(crate) fn build(&self, setup: &DriverSetup<'_>) -> Result<Arc<dyn Driver>, ConfigError> {
        let factory = self
            .factories
            .iter()
            .find(|(n, _)| n == setup.name())
            .map(|(_, f)| f.clone())
            .ok_or_else(|| {
                let mut known: Vec<&str> = self.names().collect();
                known.sort_unstable();
                let shown = if setup.name().is_empty() {
                    "no driver was chosen".to_owned()
                } else {
                    format!("unknown driver \"{}\"", setup.name())
                };
                ConfigError::new(
                    "driver",
                    format!("{shown}; known drivers: {}", known.join(", ")),
                )
            })?;
        factory(setup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz targets (`record_decode_cookie`, through the same parser): without
    /// serde_json's `float_roundtrip` a float could be read one ulp off (`-1.5e86` as
    /// `-1.5000000000000004e86`), so a float in a session changed on every write and read.
    #[test]
    fn floats_read_back_unchanged() {
        for n in [
            1.5e86,
            -1.5e86,
            1.5000000000000004e86,
            0.1,
            1e-300,
            f64::MAX,
            5e-324,
        ] {
            let mut data = Map::new();
            data.insert("n".to_owned(), Value::from(n));
            let record = Record::new(data, 1_000);
            let decoded = Record::decode(&record.encode()).expect("decodes");
            assert_eq!(decoded, record, "{n:e}");
            assert_eq!(decoded.encode(), record.encode(), "{n:e}");
        }
        let text =
            br#"{"format":1,"data":{"n":-1.5e86},"version":0,"created_at":0,"last_active":0}"#;
        let record = Record::decode(text).expect("decodes");
        assert_eq!(record.data["n"].as_f64(), Some(-1.5e86));
        assert_eq!(Record::decode(&record.encode()), Some(record));
    }
}
