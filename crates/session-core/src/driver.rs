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
use crate::tags::TaggedStore;

/// What a driver keeps for one session: the store (flash messages included, under `__flash__`),
/// a version for the conditional write, its times, and when it expires.
///
/// ```
/// use session_core::Record;
///
/// let record = Record::new(serde_json::Map::new(), 1_000, 61_000);
/// assert!(!record.is_expired_at(60_999));
/// assert!(record.is_expired_at(61_000));
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
    /// When the session expires (ms since the Unix epoch): the earlier of its idle end
    /// (`last_active` plus the idle age) and its absolute end, computed by the core. A store
    /// serves the record only while `now < expires_at`.
    pub expires_at: u64,
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
    expires_at: u64,
}

impl Record {
    /// The session's tag ([`Session::tag`](crate::Session::tag)), stored in the data under
    /// [`TAG_KEY`](crate::TAG_KEY) with the time it was set: what a driver indexes to list the
    /// sessions of a user.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let data = serde_json::json!({ "__tag__": { "value": "user-42", "at": 1_000 }, "cart": 3 });
    /// let record = Record::new(data.as_object().cloned().unwrap(), 0, 60_000);
    /// assert_eq!(record.tag(), Some("user-42"));
    /// assert_eq!(record.tagged_at(), Some(1_000));
    /// assert_eq!(Record::new(Default::default(), 0, 60_000).tag(), None);
    /// ```
    pub fn tag(&self) -> Option<&str> {
        self.data.get(crate::TAG_KEY)?.get("value")?.as_str()
    }

    /// When the session was tagged (ms since the Unix epoch), usually its login; see
    /// [`Record::tag`].
    pub fn tagged_at(&self) -> Option<u64> {
        self.data.get(crate::TAG_KEY)?.get("at")?.as_u64()
    }

    /// A new record at version 0 (never written), created and active at `now_ms`, expiring at
    /// `expires_at`.
    ///
    /// ```
    /// use serde_json::json;
    /// use session_core::Record;
    ///
    /// let mut data = serde_json::Map::new();
    /// data.insert("user_id".into(), json!(7));
    /// let record = Record::new(data, 1_000, 7_201_000);
    /// assert_eq!(record.version, 0);
    /// assert_eq!((record.created_at, record.last_active), (1_000, 1_000));
    /// assert_eq!(record.expires_at, 7_201_000);
    /// assert_eq!(record.data["user_id"], 7);
    /// ```
    pub fn new(data: Map<String, Value>, now_ms: u64, expires_at: u64) -> Self {
        Self {
            data,
            version: 0,
            created_at: now_ms,
            last_active: now_ms,
            expires_at,
        }
    }

    /// Whether the record has expired at `now_ms` (ms since the Unix epoch).
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let record = Record::new(Default::default(), 0, 60_000);
    /// assert!(!record.is_expired_at(59_999));
    /// assert!(record.is_expired_at(60_000));
    /// ```
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_at
    }

    /// The versioned JSON encoding that the bundled server-side drivers store.
    ///
    /// ```
    /// use session_core::Record;
    ///
    /// let bytes = Record::new(Default::default(), 1_000, 61_000).encode();
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
    /// let record = Record::new(Default::default(), 1_000, 61_000);
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
    /// let record = Record::new(Default::default(), 1_000, 61_000);
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
            expires_at: e.expires_at,
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
/// assert_eq!(lifetimes.expires_at(0, 0), 60_000);
/// assert_eq!(lifetimes.expires_at(0, 590_000), 600_000); // the absolute end comes first
/// let record = Record::new(Default::default(), 0, lifetimes.expires_at(0, 0));
/// assert!(record.is_expired_at(60_000));
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

    /// When a session created at `created_at` and last active at `last_active` expires if it
    /// is not used again (ms since the Unix epoch): the earlier of the idle and absolute ends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::Lifetimes;
    ///
    /// let lifetimes = Lifetimes::new(Duration::from_secs(60), Some(Duration::from_secs(100)));
    /// assert_eq!(lifetimes.expires_at(0, 10_000), 70_000); // idle end
    /// assert_eq!(lifetimes.expires_at(0, 50_000), 100_000); // absolute end
    /// ```
    pub fn expires_at(&self, created_at: u64, last_active: u64) -> u64 {
        let idle_end = last_active.saturating_add(self.idle.as_millis() as u64);
        match self.absolute {
            Some(abs) => idle_end.min(created_at.saturating_add(abs.as_millis() as u64)),
            None => idle_end,
        }
    }
}

/// The outcome of a [`SessionStore::write`] or [`SessionStore::destroy`].
///
/// A store that compares versions answers all three; a last-writer-wins store answers only
/// `Written` (and says so in its docs).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{MemoryDriver, Record, SessionId, SessionStore, WriteOutcome};
///
/// let store = MemoryDriver::new();
/// let key = SessionId::generate().storage_key();
/// let record = Record { version: 1, ..Record::new(Default::default(), 0, u64::MAX) };
///
/// assert_eq!(store.write(&key, &record, None).await?, WriteOutcome::Written);
/// // Another request created the session first: re-read and replay.
/// assert_eq!(store.write(&key, &record, None).await?, WriteOutcome::Conflict);
/// // The session was destroyed meanwhile: write nothing.
/// assert_eq!(store.destroy(&key, 1).await?, WriteOutcome::Written);
/// assert_eq!(store.write(&key, &record, Some(1)).await?, WriteOutcome::Gone);
/// # Ok::<(), session_core::DriverError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Done.
    Written,
    /// The stored record has another version than expected (or exists when none was
    /// expected). Nothing was changed; the core re-reads and replays.
    Conflict,
    /// A version was expected but no live record exists: the session was destroyed or expired
    /// meanwhile. Nothing was changed, and nothing must be.
    Gone,
}

/// Server-side session storage: the contract a driver implements to keep sessions in a
/// database, a cache or files.
///
/// Four methods, keyed by [`StorageKey`] (a hash of the session id: a store never sees the raw
/// id); no HTTP type and no request context. A [`Record`] carries its absolute expiry time
/// (`expires_at`, computed by the core from the idle and absolute lifetimes), so a store decides
/// "expired" by comparing one timestamp with its clock, and may also hand it to its backend as a
/// TTL.
///
/// **Conditional writes.** `write` gets the version the stored record must have (`None`: no
/// live record may exist) and `destroy` the version to remove. A store that compares them in one
/// atomic step gives commits that lose no updates and never bring a destroyed session back (see
/// the commit protocol in the docs). A store that cannot may ignore them and always answer
/// [`WriteOutcome::Written`]: sessions still work, the last writer winning; it must say so in its
/// documentation, and it runs the conformance suite in its last-writer-wins mode.
///
/// Rules (the `session-testkit` conformance suite checks each one):
/// - `read` returns `None` for a missing, undecodable or expired record (`expires_at <= now`);
///   errors are for backend failures only.
/// - `write` stores the record exactly as given (its `version` is already the new one).
/// - `refresh` sets `last_active` and `expires_at` on a live record, leaving data and version;
///   it never creates a record and never brings an expired one back.
/// - `destroy` of a missing record answers `Gone` (or `Written` for last-writer-wins), never an
///   error.
///
/// A complete store, a map behind a lock with conditional writes:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// use async_trait::async_trait;
/// use session_core::{DriverError, Record, SessionStore, StorageKey, WriteOutcome};
///
/// #[derive(Debug, Default)]
/// struct MapStore(Mutex<HashMap<StorageKey, Record>>);
///
/// fn now() -> u64 {
///     SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
/// }
///
/// impl MapStore {
///     /// The live record's version, dropping an expired one.
///     fn live(map: &mut HashMap<StorageKey, Record>, key: &StorageKey) -> Option<u64> {
///         match map.get(key) {
///             Some(r) if r.expires_at > now() => Some(r.version),
///             Some(_) => map.remove(key).and(None),
///             None => None,
///         }
///     }
/// }
///
/// #[async_trait]
/// impl SessionStore for MapStore {
///     async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
///         let mut map = self.0.lock().unwrap();
///         Ok(Self::live(&mut map, key).and_then(|_| map.get(key).cloned()))
///     }
///
///     async fn write(&self, key: &StorageKey, record: &Record, expected: Option<u64>) -> Result<WriteOutcome, DriverError> {
///         let mut map = self.0.lock().unwrap();
///         Ok(match (Self::live(&mut map, key), expected) {
///             (current, expected) if current == expected => {
///                 map.insert(key.clone(), record.clone());
///                 WriteOutcome::Written
///             }
///             (None, Some(_)) => WriteOutcome::Gone,
///             _ => WriteOutcome::Conflict,
///         })
///     }
///
///     async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
///         let mut map = self.0.lock().unwrap();
///         Ok(match Self::live(&mut map, key) {
///             Some(v) if v == version => {
///                 map.remove(key);
///                 WriteOutcome::Written
///             }
///             Some(_) => WriteOutcome::Conflict,
///             None => WriteOutcome::Gone,
///         })
///     }
///
///     async fn refresh(&self, key: &StorageKey, last_active: u64, expires_at: u64) -> Result<(), DriverError> {
///         let mut map = self.0.lock().unwrap();
///         if Self::live(&mut map, key).is_some() {
///             if let Some(record) = map.get_mut(key) {
///                 (record.last_active, record.expires_at) = (last_active, expires_at);
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// The live record stored under `key`: `None` when there is none, when it does not decode
    /// (log that with `tracing::warn!`) or when it expired (`expires_at <= now`).
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError>;

    /// Stores `record` under `key` if the live record stored there has version `expected`
    /// (`None`: if there is no live record). Answers `Conflict` when another version (or a
    /// record where none was expected) is there, `Gone` when a version was expected and no live
    /// record is there; in both cases nothing changes. A last-writer-wins store ignores
    /// `expected` and answers `Written`.
    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError>;

    /// Removes the record under `key` if it has version `version`: `Conflict` when it has
    /// another, `Gone` when there is no live record. A last-writer-wins store removes whatever
    /// is there and answers `Written`.
    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError>;

    /// Slides the expiry of a live record: sets its `last_active` and `expires_at` (both ms
    /// since the Unix epoch), leaving its data and version. Does nothing when there is no live
    /// record: a refresh never creates a record and never revives an expired one.
    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError>;

    /// The store's tag index, when it implements the optional [`TaggedStore`] capability
    /// (return `Some(self)`); `None` by default, and the manager's tag methods then answer
    /// [`Error::TaggingNotSupported`](crate::Error::TaggingNotSupported).
    ///
    /// ```
    /// use session_core::{MemoryDriver, SessionStore};
    ///
    /// assert!(MemoryDriver::new().as_tagged().is_some());
    /// ```
    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        None
    }

    /// The store's name, for errors and logs. Defaults to the type's name.
    ///
    /// ```
    /// use session_core::{MemoryDriver, SessionStore};
    ///
    /// assert_eq!(SessionStore::name(&MemoryDriver::new()), "memory");
    /// ```
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A shared store is a store: an application can keep a handle to its driver (to sweep it,
/// or to inspect it in tests) and give the manager a clone.
///
/// ```
/// use std::sync::Arc;
/// use session_core::{MemoryDriver, SessionConfig, SessionManager};
///
/// let store = Arc::new(MemoryDriver::new());
/// let manager = SessionManager::builder(SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"))
///     .driver(store.clone())
///     .build()?;
/// assert!(store.is_empty());
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
        (**self).read(key).await
    }

    async fn write(
        &self,
        key: &StorageKey,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<WriteOutcome, DriverError> {
        (**self).write(key, record, expected).await
    }

    async fn destroy(&self, key: &StorageKey, version: u64) -> Result<WriteOutcome, DriverError> {
        (**self).destroy(key, version).await
    }

    async fn refresh(
        &self,
        key: &StorageKey,
        last_active: u64,
        expires_at: u64,
    ) -> Result<(), DriverError> {
        (**self).refresh(key, last_active, expires_at).await
    }

    fn as_tagged(&self) -> Option<&dyn TaggedStore> {
        (**self).as_tagged()
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// A change to the response's cookies that a [`ClientStore`] asks for.
///
/// ```
/// use session_core::CookieChange;
///
/// let set = CookieChange::Set { name: "id.d".into(), value: "sealed".into() };
/// assert_eq!(set.name(), "id.d");
/// assert_eq!(CookieChange::Remove { name: "id.d.1".into() }.name(), "id.d.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    /// Set the cookie to this value. The core adds the attributes (path, domain, `Secure`,
    /// `HttpOnly`, `SameSite`) and a `Max-Age` that ends when the record expires.
    Set {
        /// The cookie's name.
        name: String,
        /// Its value, already safe to put in a cookie.
        value: String,
    },
    /// Remove the cookie from the browser.
    Remove {
        /// The cookie's name.
        name: String,
    },
}

impl CookieChange {
    /// The cookie's name.
    ///
    /// ```
    /// use session_core::CookieChange;
    ///
    /// assert_eq!(CookieChange::Remove { name: "id.d".into() }.name(), "id.d");
    /// ```
    pub fn name(&self) -> &str {
        match self {
            Self::Set { name, .. } | Self::Remove { name } => name,
        }
    }
}

/// Client-side session storage: the record travels in the browser's cookies (the cookie driver,
/// `session-cookie`).
///
/// The store reads the request's cookies and answers which cookies the response must set or
/// remove; the core applies them (as actix-session's store returns the cookie value). There is
/// no shared state between calls of one request, no version check (the browser holds the only
/// copy) and nothing to destroy on a server.
///
/// ```
/// use session_core::{ClientStore, Clock, CookieChange, DriverError, Record, SessionContext, StorageKey, SystemClock};
///
/// /// Keeps the record in plain JSON, for illustration only: a real store seals it.
/// #[derive(Debug)]
/// struct PlainCookie;
///
/// impl ClientStore for PlainCookie {
///     fn read(&self, request: &SessionContext, _key: &StorageKey) -> Option<Record> {
///         let text = request.request_cookie("plain")?;
///         let now = SystemClock.now_ms();
///         serde_json::from_str::<Record>(text).ok().filter(|r| !r.is_expired_at(now))
///     }
///     fn write(&self, _request: &SessionContext, _key: &StorageKey, record: &Record) -> Result<Vec<CookieChange>, DriverError> {
///         // Cookie values hold no `;` or `,`: JSON needs encoding first in a real store.
///         let value = serde_json::to_string(record).map_err(|e| DriverError::unavailable("plain", e))?;
///         Ok(vec![CookieChange::Set { name: "plain".into(), value }])
///     }
///     fn clear(&self, request: &SessionContext) -> Vec<CookieChange> {
///         request.request_cookie("plain").map(|_| CookieChange::Remove { name: "plain".into() }).into_iter().collect()
///     }
/// }
/// ```
pub trait ClientStore: Send + Sync + fmt::Debug + 'static {
    /// The live record the request's cookies carry for `key`: `None` when they carry none, or
    /// one that is tampered, malformed, sealed for another key, or expired.
    fn read(&self, request: &SessionContext, key: &StorageKey) -> Option<Record>;

    /// The cookie changes that make the response carry `record` for `key`, replacing what the
    /// request carried. An error (a record too large for the cookies, say) changes nothing.
    fn write(
        &self,
        request: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<Vec<CookieChange>, DriverError>;

    /// The cookie changes that remove the session the request carried.
    fn clear(&self, request: &SessionContext) -> Vec<CookieChange>;

    /// The cookie changes that slide the expiry of `record` (already given its new
    /// `last_active` and `expires_at`), which the request carried unchanged. Defaults to
    /// [`ClientStore::write`]; a store may answer nothing while the cookies it sent last are
    /// recent enough.
    ///
    /// ```
    /// # use session_core::{ClientStore, CookieChange, DriverError, Record, SessionContext, StorageKey};
    /// # #[derive(Debug)] struct Quiet;
    /// # impl ClientStore for Quiet {
    /// #     fn read(&self, _: &SessionContext, _: &StorageKey) -> Option<Record> { None }
    /// #     fn write(&self, _: &SessionContext, _: &StorageKey, _: &Record) -> Result<Vec<CookieChange>, DriverError> { Ok(vec![]) }
    /// #     fn clear(&self, _: &SessionContext) -> Vec<CookieChange> { vec![] }
    /// # }
    /// let cx = SessionContext::new("id", Default::default());
    /// let key = session_core::SessionId::generate().storage_key();
    /// let record = Record::new(Default::default(), 0, 60_000);
    /// assert!(Quiet.refresh(&cx, &key, &record)?.is_empty());
    /// # Ok::<(), DriverError>(())
    /// ```
    fn refresh(
        &self,
        request: &SessionContext,
        key: &StorageKey,
        record: &Record,
    ) -> Result<Vec<CookieChange>, DriverError> {
        self.write(request, key, record)
    }

    /// The store's name, for errors and logs. Defaults to the type's name.
    ///
    /// ```
    /// # use session_core::{ClientStore, CookieChange, DriverError, Record, SessionContext, StorageKey};
    /// # #[derive(Debug)] struct Quiet;
    /// # impl ClientStore for Quiet {
    /// #     fn read(&self, _: &SessionContext, _: &StorageKey) -> Option<Record> { None }
    /// #     fn write(&self, _: &SessionContext, _: &StorageKey, _: &Record) -> Result<Vec<CookieChange>, DriverError> { Ok(vec![]) }
    /// #     fn clear(&self, _: &SessionContext) -> Vec<CookieChange> { vec![] }
    /// # }
    /// assert!(ClientStore::name(&Quiet).ends_with("Quiet"));
    /// ```
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// The driver a [`SessionManager`](crate::SessionManager) uses: a server-side
/// [`SessionStore`] or a client-side [`ClientStore`].
///
/// Any store converts into it, so the builder takes the value itself:
/// `SessionManager::builder(config).driver(MemoryDriver::new())`.
///
/// ```
/// use session_core::{Driver, MemoryDriver};
///
/// let driver: Driver = MemoryDriver::new().into();
/// assert_eq!(driver.name(), "memory");
/// assert!(matches!(driver, Driver::Server(_)));
/// ```
#[derive(Clone, Debug)]
pub enum Driver {
    /// Sessions kept on the server, the browser holding only the signed id.
    Server(Arc<dyn SessionStore>),
    /// Sessions kept in the browser's cookies.
    Client(Arc<dyn ClientStore>),
}

impl Driver {
    /// A client-side driver, for a [`ClientStore`] whose crate does not convert it itself.
    ///
    /// ```
    /// # use session_core::{ClientStore, CookieChange, DriverError, Record, SessionContext, StorageKey};
    /// # #[derive(Debug)] struct Quiet;
    /// # impl ClientStore for Quiet {
    /// #     fn read(&self, _: &SessionContext, _: &StorageKey) -> Option<Record> { None }
    /// #     fn write(&self, _: &SessionContext, _: &StorageKey, _: &Record) -> Result<Vec<CookieChange>, DriverError> { Ok(vec![]) }
    /// #     fn clear(&self, _: &SessionContext) -> Vec<CookieChange> { vec![] }
    /// # }
    /// use session_core::Driver;
    ///
    /// assert!(matches!(Driver::client(Quiet), Driver::Client(_)));
    /// ```
    pub fn client(store: impl ClientStore) -> Self {
        Self::Client(Arc::new(store))
    }

    /// The driver's name, for errors and logs.
    ///
    /// ```
    /// use session_core::{Driver, MemoryDriver};
    ///
    /// assert_eq!(Driver::from(MemoryDriver::new()).name(), "memory");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::Server(store) => store.name(),
            Self::Client(store) => store.name(),
        }
    }
}

impl<S: SessionStore> From<S> for Driver {
    fn from(store: S) -> Self {
        Self::Server(Arc::new(store))
    }
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
///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
/// })
/// .build()?;
/// assert_eq!(manager.driver().name(), "memory");
/// # Ok::<(), session_core::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct DriverSetup<'a> {
    name: &'a str,
    config: &'a SessionConfig,
    keys: &'a KeyRing,
    clock: Arc<dyn Clock>,
}

impl<'a> DriverSetup<'a> {
    pub(crate) fn new(
        name: &'a str,
        config: &'a SessionConfig,
        keys: &'a KeyRing,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            name,
            config,
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        self.name
    }

    /// The driver's own section (the key named like the registered name), if configured.
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn config(&self) -> &SessionConfig {
        self.config
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
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
    ///     Ok(MemoryDriver::new().with_clock(setup.clock()).into())
    /// })
    /// .build()?;
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

type Factory = Arc<dyn Fn(&DriverSetup<'_>) -> Result<Driver, ConfigError> + Send + Sync>;

/// Drivers by name. `memory` is always registered; the driver crates register theirs, and
/// applications add their own with [`DriverRegistry::extend`].
///
/// ```
/// use std::sync::Arc;
/// use session_core::{DriverRegistry, MemoryDriver};
///
/// let mut registry = DriverRegistry::new();
/// registry.extend("my-memory", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()));
/// assert!(registry.names().any(|n| n == "my-memory"));
/// ```
#[derive(Clone)]
pub struct DriverRegistry {
    factories: Vec<(String, Factory)>,
    /// Top-level configuration sections that drivers claimed beside their names.
    sections: Vec<String>,
    /// What to tell a user who asks for a driver that is not registered, by name.
    hints: Vec<(String, String)>,
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
            hints: Vec::new(),
        };
        registry.extend("memory", |setup| {
            let mut driver = crate::memory::MemoryDriver::new().with_clock(setup.clock());
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
            Ok(driver.into())
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

    /// Says how to get a driver that is not registered, for the start-up error of a configuration
    /// that names it. A facade with drivers behind cargo features registers a hint for each
    /// feature left off, so `SESSION_DRIVER=redis` without the feature names the feature.
    ///
    /// ```
    /// use session_core::{DriverRegistry, SessionConfig, SessionManager};
    ///
    /// let mut registry = DriverRegistry::new();
    /// registry.hint_missing("redis", "enable the `redis` feature of my-sessions");
    /// let err = SessionManager::builder(
    ///     SessionConfig::new().with_driver("redis").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .with_registry(registry)
    /// .build()
    /// .unwrap_err();
    /// assert_eq!(err.option(), "driver");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid session option `driver`: the driver \"redis\" is not compiled in: \
    ///      enable the `redis` feature of my-sessions (drivers compiled in: memory)"
    /// );
    /// ```
    pub fn hint_missing(&mut self, name: impl Into<String>, hint: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.hints.retain(|(n, _)| *n != name);
        self.hints.push((name, hint.into()));
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
    ///     .extend("cache", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()))
    ///     .extend("cache", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into())); // replaces
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
        F: Fn(&DriverSetup<'_>) -> Result<Driver, ConfigError> + Send + Sync + 'static,
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
    /// registry.extend("cache", |setup| Ok(MemoryDriver::new().with_clock(setup.clock()).into()));
    /// assert_eq!(registry.names().collect::<Vec<_>>(), ["memory", "cache"]);
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.iter().map(|(n, _)| n.as_str())
    }

    pub(crate) fn build(&self, setup: &DriverSetup<'_>) -> Result<Driver, ConfigError> {
        let factory = self
            .factories
            .iter()
            .find(|(n, _)| n == setup.name())
            .map(|(_, f)| f.clone())
            .ok_or_else(|| {
                let mut known: Vec<&str> = self.names().collect();
                known.sort_unstable();
                let known = known.join(", ");
                if let Some((_, hint)) = self.hints.iter().find(|(n, _)| n == setup.name()) {
                    return ConfigError::new(
                        "driver",
                        format!(
                            "the driver \"{}\" is not compiled in: {hint} (drivers compiled in: {known})",
                            setup.name()
                        ),
                    );
                }
                let shown = if setup.name().is_empty() {
                    "no driver was chosen".to_owned()
                } else {
                    format!("unknown driver \"{}\"", setup.name())
                };
                ConfigError::new(
                    "driver",
                    format!("{shown}; known drivers: {known}"),
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
            let record = Record::new(data, 1_000, 61_000);
            let decoded = Record::decode(&record.encode()).expect("decodes");
            assert_eq!(decoded, record, "{n:e}");
            assert_eq!(decoded.encode(), record.encode(), "{n:e}");
        }
        let text =
            br#"{"format":1,"data":{"n":-1.5e86},"version":0,"created_at":0,"last_active":0,"expires_at":1}"#;
        let record = Record::decode(text).expect("decodes");
        assert_eq!(record.data["n"].as_f64(), Some(-1.5e86));
        assert_eq!(Record::decode(&record.encode()), Some(record));
    }
}
