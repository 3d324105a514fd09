//! Sessions per user: the sessions of a tag listed, read and destroyed from any task, and the
//! optional driver capability behind it.
//!
//! A server-side store that keeps an index of tags implements [`TaggedStore`] and says so with
//! [`SessionStore::as_tagged`]. A client-side driver (the cookie driver) cannot list sessions,
//! which live in the browsers; with a *tag store* (any [`SessionStore`], given to
//! [`SessionManagerBuilder::tag_store`](crate::SessionManagerBuilder::tag_store)) it can still
//! log a tag out everywhere: the tag store keeps, per tag, a "valid from" time, and a cookie
//! session of that tag tagged before it (or in its millisecond) reads as a fresh session.

use std::fmt;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::driver::{Driver, Record, SessionStore, WriteOutcome};
use crate::error::{DriverError, Error};
use crate::id::StorageKey;
use crate::manager::SessionManager;
use crate::{FLASH_KEY, TAG_KEY};

/// The optional capability of a server-side store that finds the sessions of a tag
/// ([`Session::tag`](crate::Session::tag)). A store implements it and returns itself from
/// [`SessionStore::as_tagged`]; the manager's tag methods
/// ([`SessionManager::tagged_sessions`] and the others) then work, and
/// `session_testkit`'s conformance suite runs its tagging cases on it.
///
/// The index a store keeps may name more sessions than are live (a record destroyed, expired,
/// untagged or tagged otherwise since): `tagged` checks what it returns against the records
/// themselves, and may drop what it finds stale from its index as it goes. It must never miss a
/// live record of the tag, since "log out everywhere" relies on the listing: a store that
/// updates its index apart from the record adds to it *before* writing the record.
///
/// The memory driver's implementation, a scan, is the simplest complete one:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// use async_trait::async_trait;
/// use session_core::{DriverError, Record, SessionStore, StorageKey, TaggedStore, WriteOutcome};
///
/// #[derive(Debug, Default)]
/// struct MapStore(Mutex<HashMap<StorageKey, Record>>);
///
/// #[async_trait]
/// impl TaggedStore for MapStore {
///     async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
///         let map = self.0.lock().unwrap();
///         Ok(map
///             .iter()
///             .filter(|(_, record)| record.tag() == Some(tag))
///             .map(|(key, record)| (key.clone(), record.clone()))
///             .collect())
///     }
/// }
///
/// #[async_trait]
/// impl SessionStore for MapStore {
///     fn as_tagged(&self) -> Option<&dyn TaggedStore> {
///         Some(self)
///     }
///     // The four methods of the contract, last writer wins for brevity.
///     async fn read(&self, key: &StorageKey) -> Result<Option<Record>, DriverError> {
///         Ok(self.0.lock().unwrap().get(key).cloned())
///     }
///     async fn write(&self, key: &StorageKey, record: &Record, _: Option<u64>) -> Result<WriteOutcome, DriverError> {
///         self.0.lock().unwrap().insert(key.clone(), record.clone());
///         Ok(WriteOutcome::Written)
///     }
///     async fn destroy(&self, key: &StorageKey, _: u64) -> Result<WriteOutcome, DriverError> {
///         self.0.lock().unwrap().remove(key);
///         Ok(WriteOutcome::Written)
///     }
///     async fn refresh(&self, key: &StorageKey, last_active: u64, expires_at: u64) -> Result<(), DriverError> {
///         if let Some(r) = self.0.lock().unwrap().get_mut(key) {
///             (r.last_active, r.expires_at) = (last_active, expires_at);
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait TaggedStore: SessionStore {
    /// The live records whose [`Record::tag`] is `tag`, with their keys, in any order. Expired
    /// records and records of another tag may be returned (the manager filters them out), but
    /// no live record of the tag may be missed.
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError>;
}

#[async_trait]
impl<S: TaggedStore + ?Sized> TaggedStore for std::sync::Arc<S> {
    async fn tagged(&self, tag: &str) -> Result<Vec<(StorageKey, Record)>, DriverError> {
        (**self).tagged(tag).await
    }
}

/// One session of a tag, as an account page shows it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()?;
/// let login = manager.start_request(std::iter::empty()).session().await?;
/// login.regenerate()?;
/// login.tag(42)?;
/// login.put("agent", "Firefox on Linux")?;
/// login.commit().await?;
///
/// let sessions = manager.tagged_sessions("42").await?;
/// assert_eq!(sessions.len(), 1);
/// assert_eq!(sessions[0].handle, login.handle());
/// assert_eq!(sessions[0].get::<String>("agent").as_deref(), Some("Firefox on Linux"));
/// assert!(sessions[0].tagged_at <= sessions[0].last_active);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct TaggedSession {
    /// Names the session for [`SessionManager::tagged_session`] and
    /// [`SessionManager::destroy_tagged_session`]: its storage key, a hash of its id, which
    /// does not open the session (see [`Session::handle`](crate::Session::handle)).
    pub handle: StorageKey,
    /// When the session was created (ms since the Unix epoch).
    pub created_at: u64,
    /// When it was tagged, usually the login (ms since the Unix epoch).
    pub tagged_at: u64,
    /// Its last request (ms since the Unix epoch), as of the last refresh of its expiry.
    pub last_active: u64,
    /// When it expires unless used again (ms since the Unix epoch).
    pub expires_at: u64,
    /// The application's values (the tag and the flash messages left out).
    pub values: Map<String, Value>,
}

impl fmt::Debug for TaggedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaggedSession")
            .field("handle", &self.handle)
            .field("created_at", &self.created_at)
            .field("tagged_at", &self.tagged_at)
            .field("last_active", &self.last_active)
            .field("expires_at", &self.expires_at)
            .field("values", &self.values.len())
            .finish()
    }
}

impl TaggedSession {
    fn new(handle: StorageKey, mut record: Record) -> Self {
        let tagged_at = record.tagged_at().unwrap_or(record.created_at);
        record.data.shift_remove(TAG_KEY);
        record.data.shift_remove(FLASH_KEY);
        Self {
            handle,
            created_at: record.created_at,
            tagged_at,
            last_active: record.last_active,
            expires_at: record.expires_at,
            values: record.data,
        }
    }

    /// The top-level value `key` as a `T`; `None` when it is missing or of another shape.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let login = manager.start_request(std::iter::empty()).session().await?;
    /// login.tag("ada")?;
    /// login.put("ip", "192.0.2.7")?;
    /// # login.commit().await?;
    /// let listed = &manager.tagged_sessions("ada").await?[0];
    /// assert_eq!(listed.get::<String>("ip").as_deref(), Some("192.0.2.7"));
    /// assert_eq!(listed.get::<u32>("ip"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        T::deserialize(self.values.get(key)?).ok()
    }
}

/// What the tag store says about a client-side session (see [`SessionManager::check_mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// No "valid from" time applies: the session is valid.
    Valid,
    /// Tagged before the tag's "valid from" time, but the session kept by that log-out: it is
    /// valid, and tagged again past that time at once, so that it passes by its time from its
    /// next write on, whatever id it has then.
    Kept,
    /// Tagged before the tag's "valid from" time: it reads as a fresh session.
    Revoked,
}

/// The fields of a tag store's record.
const VALID_FROM: &str = "valid_from";
const KEEP: &str = "keep";

impl SessionManager {
    /// Whether the driver supports tags: a server-side store that implements [`TaggedStore`],
    /// or a client-side driver given a tag store (which can log a tag out everywhere, and
    /// nothing more). Without it, [`Session::tag`](crate::Session::tag) and the tag methods
    /// fail with [`Error::TaggingNotSupported`].
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// assert!(manager.supports_tagging());
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn supports_tagging(&self) -> bool {
        match &self.inner().driver {
            Driver::Server(store) => store.as_tagged().is_some(),
            Driver::Client(_) => self.inner().tag_store.is_some(),
        }
    }

    /// The driver's tag index, or the error naming `operation`.
    fn index(&self, operation: &'static str) -> Result<&dyn TaggedStore, Error> {
        let driver = &self.inner().driver;
        match driver {
            Driver::Server(store) => store.as_tagged(),
            Driver::Client(_) => None,
        }
        .ok_or(Error::TaggingNotSupported {
            driver: driver.name(),
            operation,
        })
    }

    /// The live sessions tagged `tag`, the most recently active first: what an account page
    /// lists. Works outside any request (an admin endpoint, a background task). The cookie
    /// driver cannot list sessions ([`Error::TaggingNotSupported`]).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// for _ in 0..2 {
    ///     let login = manager.start_request(std::iter::empty()).session().await?;
    ///     login.regenerate()?;
    ///     login.tag("user-7")?;
    ///     login.commit().await?;
    /// }
    /// assert_eq!(manager.tagged_sessions("user-7").await?.len(), 2);
    /// assert!(manager.tagged_sessions("user-8").await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn tagged_sessions(&self, tag: &str) -> Result<Vec<TaggedSession>, Error> {
        let index = self.index("list sessions")?;
        let now = self.clock().now_ms();
        let mut sessions: Vec<TaggedSession> = self
            .call(index.tagged(tag))
            .await?
            .into_iter()
            .filter(|(_, record)| record.tag() == Some(tag) && !record.is_expired_at(now))
            .map(|(key, record)| TaggedSession::new(key, record))
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_active));
        Ok(sessions)
    }

    /// The session `handle` names, if it is live and tagged `tag`: a handle of another tag's
    /// session reads as none, so a handle taken from a request can be looked up safely with
    /// the current user's tag.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let login = manager.start_request(std::iter::empty()).session().await?;
    /// login.tag("ada")?;
    /// login.commit().await?;
    /// let handle = login.handle();
    /// assert!(manager.tagged_session("ada", &handle).await?.is_some());
    /// assert!(manager.tagged_session("mallory", &handle).await?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn tagged_session(
        &self,
        tag: &str,
        handle: &StorageKey,
    ) -> Result<Option<TaggedSession>, Error> {
        let index = self.index("read a tagged session")?;
        let now = self.clock().now_ms();
        Ok(self
            .call(index.read(handle))
            .await?
            .filter(|record| record.tag() == Some(tag) && !record.is_expired_at(now))
            .map(|record| TaggedSession::new(handle.clone(), record)))
    }

    /// Destroys the session `handle` names if it is tagged `tag` ("log out this device"):
    /// `true` when it was destroyed, `false` when there was none of that tag. Its next request
    /// starts a fresh session; a request of it being handled meanwhile loses its changes (the
    /// commit finds the record gone and never writes it back).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let login = manager.start_request(std::iter::empty()).session().await?;
    /// login.tag("ada")?;
    /// login.commit().await?;
    /// let cookie = login.id_cookie().expect("an id cookie");
    ///
    /// assert!(!manager.destroy_tagged_session("mallory", &login.handle()).await?);
    /// assert!(manager.destroy_tagged_session("ada", &login.handle()).await?);
    /// let next = manager.start_request([cookie.as_str()]).session().await?;
    /// assert!(next.is_fresh());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn destroy_tagged_session(
        &self,
        tag: &str,
        handle: &StorageKey,
    ) -> Result<bool, Error> {
        let index = self.index("destroy one session")?;
        self.destroy_if_tagged(index, tag, handle, None).await
    }

    /// Destroys every session tagged `tag` but `except` ("log out everywhere else", after a
    /// password change say; `None` logs out everywhere). Returns how many were destroyed.
    ///
    /// On the cookie driver with a tag store, the sessions cannot be reached: the tag store
    /// records that sessions of `tag` tagged before now are invalid (`except` stays valid, and
    /// is re-tagged on its next request), and `None` is returned, as the count is unknown.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let mut handles = Vec::new();
    /// for _ in 0..3 {
    ///     let login = manager.start_request(std::iter::empty()).session().await?;
    ///     login.tag("ada")?;
    ///     login.commit().await?;
    ///     handles.push(login.handle());
    /// }
    /// assert_eq!(manager.destroy_tagged_sessions("ada", Some(&handles[0])).await?, Some(2));
    /// let left = manager.tagged_sessions("ada").await?;
    /// assert_eq!(left.len(), 1);
    /// assert_eq!(left[0].handle, handles[0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn destroy_tagged_sessions(
        &self,
        tag: &str,
        except: Option<&StorageKey>,
    ) -> Result<Option<usize>, Error> {
        if let (Driver::Client(_), Some(marks)) = (&self.inner().driver, &self.inner().tag_store) {
            self.mark(&**marks, tag, except).await?;
            return Ok(None);
        }
        let index = self.index("log a tag out")?;
        let mut destroyed = 0;
        for (key, record) in self.call(index.tagged(tag)).await? {
            if Some(&key) != except
                && self
                    .destroy_if_tagged(index, tag, &key, Some(record))
                    .await?
            {
                destroyed += 1;
            }
        }
        Ok(Some(destroyed))
    }

    /// Destroys the record under `key` if it carries `tag`, starting from `known` (a record
    /// just listed) or a read; a conflict with a concurrent commit re-reads.
    async fn destroy_if_tagged(
        &self,
        store: &dyn TaggedStore,
        tag: &str,
        key: &StorageKey,
        mut known: Option<Record>,
    ) -> Result<bool, Error> {
        let attempts = self.commit_attempts();
        for _ in 0..attempts {
            let record = match known.take() {
                Some(record) => Some(record),
                None => self.call(store.read(key)).await?,
            };
            let Some(record) = record.filter(|r| r.tag() == Some(tag)) else {
                return Ok(false);
            };
            match self.call(store.destroy(key, record.version)).await? {
                WriteOutcome::Written => return Ok(true),
                WriteOutcome::Gone => return Ok(false),
                WriteOutcome::Conflict => {}
            }
        }
        Err(Error::Conflict { attempts })
    }

    /// Records in the tag store that the sessions of `tag` tagged before now are invalid, but
    /// `keep`. The record lasts an idle age: by then every session it invalidates has expired,
    /// since none of them could be used (and so refreshed) after it was written.
    async fn mark(
        &self,
        marks: &dyn SessionStore,
        tag: &str,
        keep: Option<&StorageKey>,
    ) -> Result<(), Error> {
        let key = StorageKey::for_tag(tag);
        let now = self.clock().now_ms();
        let mut data = Map::new();
        data.insert(VALID_FROM.into(), now.into());
        if let Some(keep) = keep {
            data.insert(KEEP.into(), keep.as_str().into());
        }
        let idle = u64::try_from(self.lifetimes().idle().as_millis()).unwrap_or(u64::MAX);
        let record = Record::new(data, now, now.saturating_add(idle));
        let attempts = self.commit_attempts();
        for _ in 0..attempts {
            let current = self.call(marks.read(&key)).await?.map(|r| r.version);
            let record = Record {
                version: current.map_or(1, |v| v.wrapping_add(1)),
                ..record.clone()
            };
            if self.call(marks.write(&key, &record, current)).await? == WriteOutcome::Written {
                return Ok(());
            }
        }
        Err(Error::Conflict { attempts })
    }

    /// Whether a client-side session's record (read under `key`) is still valid for its tag.
    /// Always [`Mark::Valid`] for a server-side driver, without a tag store, or untagged: then
    /// nothing is awaited, and the tag store's read (boxed) is not part of the caller's future,
    /// which every request carries.
    pub(crate) async fn check_mark(
        &self,
        key: &StorageKey,
        record: &Record,
    ) -> Result<Mark, Error> {
        let inner = self.inner();
        if !matches!(inner.driver, Driver::Client(_))
            || inner.tag_store.is_none()
            || record.tag().is_none()
        {
            return Ok(Mark::Valid);
        }
        Box::pin(self.read_mark(key, record)).await
    }

    async fn read_mark(&self, key: &StorageKey, record: &Record) -> Result<Mark, Error> {
        let (Driver::Client(_), Some(marks), Some(tag)) =
            (&self.inner().driver, &self.inner().tag_store, record.tag())
        else {
            return Ok(Mark::Valid);
        };
        let Some(mark) = self.call(marks.read(&StorageKey::for_tag(tag))).await? else {
            return Ok(Mark::Valid);
        };
        let valid_from = mark.data.get(VALID_FROM).and_then(Value::as_u64);
        let tagged_at = record.tagged_at().unwrap_or(record.created_at);
        Ok(match valid_from {
            // The same millisecond counts as before: a login racing the log-out is logged out.
            Some(from) if tagged_at <= from => {
                if mark.data.get(KEEP).and_then(Value::as_str) == Some(key.as_str()) {
                    Mark::Kept
                } else {
                    Mark::Revoked
                }
            }
            _ => Mark::Valid,
        })
    }
}
