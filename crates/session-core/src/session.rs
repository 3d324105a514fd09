//! The per-request session handle: the values store, flash messages, lifecycle and commit.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::context::SessionContext;
use crate::driver::{ClientStore, Driver, Record, SessionStore, WriteOutcome};
use crate::error::Error;
use crate::flash::{FlashMessages, Outgoing};
use crate::id::{IdKind, SessionId, StorageKey};
use crate::limits::Limits;
use crate::manager::SessionManager;
use crate::path::{is_plain, KeyPath};
use crate::store::{self, Op};
use crate::FLASH_KEY;

/// How a request uses its session: the argument of [`Session::initiate`].
///
/// ```
/// use session_core::Access;
///
/// assert_ne!(Access::ReadWrite, Access::ReadOnly);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads and writes; the previous request's flash messages are consumed.
    ReadWrite,
    /// Reads only (websockets, server-sent events, long polling): flash messages are visible
    /// and not consumed, every mutation is refused, and the response gets no cookie.
    ReadOnly,
}

/// The session of one request.
///
/// Adapters create it per request (lazily: nothing is read until [`Session::initiate`]), hand it
/// to handlers through extractors, and call [`Session::commit`] after the handler. The handle is
/// `Send + Sync` and cheap to clone; store methods are synchronous, so they can be called from
/// anywhere, including across `.await` points.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
///
/// let session = manager.start_request(std::iter::empty());
/// session.initiate(session_core::Access::ReadWrite).await?;
/// let total: i64 = session.get_or("cart_total", 0)?;
/// session.put("cart_total", total + 10)?;
/// session.increment("page_views")?;
/// session.flash("message", "Hello world")?;
/// session.commit().await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    manager: SessionManager,
    cx: SessionContext,
    /// Serializes `initiate`, which awaits the driver.
    init: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    initiated: bool,
    readonly: bool,
    fresh: bool,
    regenerated: bool,
    committed: bool,
    /// `initiate` failed on a backend error: the request is answered with that error, and the
    /// commit then does nothing (no driver call, no cookie).
    failed: bool,
    id: Option<SessionId>,
    /// The id came in with a cookie of the empty kind and was adopted: data written in this
    /// request is stored under a new id, so an id once handed out as empty never holds a
    /// session (its cookie could be replayed after that session ended).
    adopted_empty: bool,
    /// The record as read: the base that the change log is replayed on.
    loaded: Option<Loaded>,
    created_at: u64,
    values: Map<String, Value>,
    incoming: FlashMessages,
    /// The incoming messages this request consumes (non-readonly initiate with messages).
    consumed: Option<Map<String, Value>>,
    outgoing: Outgoing,
    ops: Vec<Op>,
    /// The key of the record that existed before `regenerate`, destroyed after the new write.
    old_key: Option<StorageKey>,
}

#[derive(Clone)]
struct Loaded {
    key: StorageKey,
    record: Record,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Session")
            .field("initiated", &state.initiated)
            .field("readonly", &state.readonly)
            .field("fresh", &state.fresh)
            .field("regenerated", &state.regenerated)
            .field("key", &state.id.as_ref().map(|id| id.storage_key()))
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(manager: SessionManager, cx: SessionContext) -> Self {
        Self {
            inner: Arc::new(Inner {
                manager,
                cx,
                init: tokio::sync::Mutex::new(()),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limits(&self) -> &Limits {
        self.inner.manager.config().limits()
    }

    /// Parses a path of the user-facing store within the configured limits.
    fn user_path(&self, path: &str) -> Result<KeyPath, Error> {
        KeyPath::parse_user(path, self.limits())
    }

    /// Runs `f` on the state of an initiated session.
    fn read_state<R>(&self, f: impl FnOnce(&State) -> R) -> Result<R, Error> {
        let state = self.state();
        if !state.initiated {
            return Err(Error::NotInitiated);
        }
        Ok(f(&state))
    }

    /// Runs `f` on the state of an initiated, writable session.
    fn write_state<R>(&self, f: impl FnOnce(&mut State) -> Result<R, Error>) -> Result<R, Error> {
        let mut state = self.state();
        if !state.initiated {
            return Err(Error::NotInitiated);
        }
        if state.readonly {
            return Err(Error::Readonly);
        }
        f(&mut state)
    }

    /// The request context (cookies in and out).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(["id=abc; theme=dark"]);
    /// assert_eq!(session.context().request_cookie("id"), Some("abc"));
    /// session.initiate(session_core::Access::ReadWrite).await?;
    /// session.put("a", 1)?;
    /// session.commit().await?;
    /// assert_eq!(session.context().response_cookies()[0].name(), "id");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn context(&self) -> &SessionContext {
        &self.inner.cx
    }

    /// The id cookie the response sets, as the `name=value` pair a browser sends back in its
    /// next `Cookie` header; `None` before [`commit`](Self::commit), and after a readonly
    /// request (it sets no cookie). For tests, which otherwise search the response's cookies by
    /// name.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use session_core::{Access, SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(Access::ReadWrite).await?;
    /// first.put("cart_total", 1900)?;
    /// assert_eq!(first.id_cookie(), None); // not committed yet
    /// first.commit().await?;
    /// let cookie = first.id_cookie().expect("set by the commit");
    /// assert!(cookie.starts_with("id="));
    ///
    /// let second = manager.start_request([cookie.as_str()]);
    /// second.initiate(Access::ReadWrite).await?;
    /// assert_eq!(second.get::<u32>("cart_total")?, Some(1900));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn id_cookie(&self) -> Option<String> {
        let name = self.inner.manager.config().cookie_name();
        let cookie = self.inner.cx.response_cookie(name)?;
        (!cookie.value().is_empty()).then(|| cookie.stripped().to_string())
    }

    /// The manager this session belongs to.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.manager().config().driver(), "memory");
    /// assert_eq!(session.manager().driver().name(), "memory");
    /// ```
    pub fn manager(&self) -> &SessionManager {
        &self.inner.manager
    }

    // ----- lifecycle -------------------------------------------------------------------------

    /// Reads the session from the driver. A second call is a no-op.
    ///
    /// A missing, unverifiable, unknown or expired id gives a fresh session with a new id; that is
    /// never an error. `readonly = true` (websockets, server-sent events) shows the previous
    /// request's flash messages without consuming them, refuses every mutation, and commits
    /// nothing. Otherwise the flash messages are consumed.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// first.flash("notice", "Saved")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A websocket upgrade: shows the message without consuming it, refuses changes.
    /// let socket = manager.start_request([cookie.as_str()]);
    /// socket.initiate(session_core::Access::ReadOnly).await?;
    /// assert!(socket.flash_messages()?.has("notice"));
    /// assert!(socket.put("a", 1).is_err());
    ///
    /// // The next page still gets the message.
    /// let page = manager.start_request([cookie.as_str()]);
    /// page.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(page.flash_messages()?.has("notice"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn initiate(&self, access: Access) -> Result<(), Error> {
        let readonly = access == Access::ReadOnly;
        let _guard = self.inner.init.lock().await;
        if self.state().initiated {
            return Ok(());
        }
        let manager = &self.inner.manager;
        let inner = manager.inner();
        let now = inner.clock.now_ms();
        let mut found = None;
        let mut adopted = None;
        match manager.incoming_id(&self.inner.cx) {
            // An id that never stored anything keeps serving its visitor; nothing is read.
            Some((id, _, IdKind::Empty)) => adopted = Some(id),
            Some((id, key, IdKind::Stored)) => {
                let read = match &inner.driver {
                    Driver::Server(store) => manager.call(store.read(&key)).await,
                    Driver::Client(store) => Ok(store.read(&self.inner.cx, &key)),
                };
                if read.is_err() {
                    self.state().failed = true;
                }
                match read? {
                    Some(record) if !record.is_expired_at(now) => {
                        found = Some((id, Loaded { key, record }));
                    }
                    Some(_) => {
                        tracing::info!(target: "session", event = "expired", key = key.short(), "session expired; starting a fresh one");
                    }
                    None => {
                        tracing::debug!(target: "session", event = "unknown-id", key = key.short(), "no record for this id; starting a fresh session");
                    }
                }
            }
            None => {}
        }
        let mut state = self.state();
        match found {
            Some((id, mut loaded)) => {
                // The data moves into the store; the record keeps its version and times. A
                // commit builds its first attempt from the store, and a retry re-reads.
                let mut values = std::mem::take(&mut loaded.record.data);
                let messages = match values.shift_remove(FLASH_KEY) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                };
                state.id = Some(id);
                state.created_at = loaded.record.created_at;
                state.values = values;
                if !readonly && !messages.is_empty() {
                    state.consumed = Some(messages.clone());
                }
                state.incoming = FlashMessages::new(messages);
                state.loaded = Some(loaded);
                state.fresh = false;
            }
            None => {
                state.created_at = now;
                state.fresh = adopted.is_none();
                state.adopted_empty = adopted.is_some();
                state.id = Some(adopted.unwrap_or_else(SessionId::generate));
            }
        }
        state.readonly = readonly;
        state.initiated = true;
        Ok(())
    }

    /// Whether [`Session::initiate`] has run.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(std::iter::empty());
    /// assert!(!session.is_initiated());
    /// assert!(session.get_value("a").is_err()); // the store needs initiate first
    /// session.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(session.is_initiated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_initiated(&self) -> bool {
        self.state().initiated
    }

    /// Whether the id was generated during this request (no valid cookie, or `regenerate`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(first.is_fresh());
    /// first.put("a", 1)?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// let second = manager.start_request([cookie.as_str()]);
    /// second.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(!second.is_fresh());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_fresh(&self) -> bool {
        self.state().fresh
    }

    /// Whether the session was initiated readonly.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(std::iter::empty());
    /// session.initiate(session_core::Access::ReadOnly).await?;
    /// assert!(session.is_readonly());
    /// assert!(matches!(session.put("a", 1), Err(session_core::Error::Readonly)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_readonly(&self) -> bool {
        self.state().readonly
    }

    /// Whether [`Session::regenerate`] was called during this request.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert!(!session.is_regenerated());
    /// session.regenerate()?;
    /// assert!(session.is_regenerated());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn is_regenerated(&self) -> bool {
        self.state().regenerated
    }

    /// The session id. Treat it as a credential: never log it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(std::iter::empty());
    /// assert!(session.session_id().is_err()); // not initiated
    /// session.initiate(session_core::Access::ReadWrite).await?;
    /// let id = session.session_id()?;
    /// assert_eq!(id.expose().len(), 43);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn session_id(&self) -> Result<SessionId, Error> {
        self.read_state(|s| s.id.clone())?
            .ok_or(Error::NotInitiated)
    }

    /// Gives the session a new id and keeps its data (call it at login and at every privilege
    /// change: session fixation defence). At commit the data is written under the new id first
    /// and the old record destroyed after, so a failed write never logs the user out.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// first.put("cart_total", 1900)?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // Login: same data, new id.
    /// let login = manager.start_request([cookie.as_str()]);
    /// login.initiate(session_core::Access::ReadWrite).await?;
    /// let before = login.session_id()?;
    /// login.regenerate()?;
    /// assert_ne!(login.session_id()?, before);
    /// login.put("user_id", 7)?;
    /// login.commit().await?;
    /// let new_cookie = cookie_of(&login);
    ///
    /// // The old id no longer opens the session; the new one has the data.
    /// let old = manager.start_request([cookie.as_str()]);
    /// old.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(old.is_fresh());
    /// let new = manager.start_request([new_cookie.as_str()]);
    /// new.initiate(session_core::Access::ReadWrite).await?;
    /// assert_eq!(new.get::<u32>("cart_total")?, Some(1900));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn regenerate(&self) -> Result<(), Error> {
        self.write_state(|s| {
            if !s.regenerated {
                s.old_key = s.loaded.as_ref().map(|l| l.key.clone());
            }
            s.id = Some(SessionId::generate());
            s.fresh = true;
            s.regenerated = true;
            Ok(())
        })
    }

    /// Logs out in one call: clears the store (outgoing flash messages are kept, as with
    /// [`clear`](Self::clear)) and regenerates the id, so the old cookie opens nothing and the
    /// next request starts with an empty session under a new id. The same as calling `clear()`
    /// then `regenerate()` (AdonisJS's two-call form); tower-sessions calls it `flush`,
    /// actix-session `purge`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let login = manager.start_request(std::iter::empty());
    /// login.initiate(session_core::Access::ReadWrite).await?;
    /// login.put("user_id", 7)?;
    /// login.commit().await?;
    /// let cookie = login.id_cookie().expect("an id cookie");
    ///
    /// let logout = manager.start_request([cookie.as_str()]);
    /// logout.initiate(session_core::Access::ReadWrite).await?;
    /// let before = logout.session_id()?;
    /// logout.flush()?;
    /// logout.flash("notice", "Signed out")?;
    /// logout.commit().await?;
    /// assert_ne!(logout.session_id()?, before);
    ///
    /// // The old cookie opens nothing.
    /// let replay = manager.start_request([cookie.as_str()]);
    /// replay.initiate(session_core::Access::ReadWrite).await?;
    /// assert!(replay.is_fresh());
    /// assert_eq!(replay.get::<u64>("user_id")?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn flush(&self) -> Result<(), Error> {
        self.clear()?;
        self.regenerate()
    }

    // ----- values store ----------------------------------------------------------------------

    /// The value at `path` as raw JSON; `None` when missing or `null`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("user.name", "ada")?;
    /// assert_eq!(session.get_value("user[name]")?, Some(serde_json::json!("ada")));
    /// assert_eq!(session.get_value("user.age")?, None);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_value(&self, path: &str) -> Result<Option<Value>, Error> {
        self.with_value(path, |v| v.cloned())
    }

    /// Runs `f` on the value at `path` (`None` when missing or `null`) under the state lock, so
    /// reading needs no copy. A plain top-level key skips building a `KeyPath`.
    fn with_value<R>(&self, path: &str, f: impl FnOnce(Option<&Value>) -> R) -> Result<R, Error> {
        if path != FLASH_KEY && is_plain(path) && path.len() <= self.limits().max_segment_length() {
            return self.read_state(|s| f(s.values.get(path).filter(|v| !v.is_null())));
        }
        let path = self.user_path(path)?;
        self.read_state(|s| f(store::get(&s.values, &path)))
    }

    /// The value at `path` deserialized as `T`; `None` when missing or `null`. A value of another
    /// shape is [`Error::Deserialize`] naming the path.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("cart_total", 1900)?;
    /// assert_eq!(session.get::<u32>("cart_total")?, Some(1900));
    /// assert!(session.get::<String>("cart_total").is_err());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Error> {
        self.with_value(path, |v| v.map(T::deserialize).transpose())?
            .map_err(|source| Error::Deserialize {
                path: path.to_owned(),
                source,
            })
    }

    /// The value at `path` as `T`, or `default` when missing or `null`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.get_or("cart_total", 0)?, 0);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_or<T: DeserializeOwned>(&self, path: &str, default: T) -> Result<T, Error> {
        Ok(self.get(path)?.unwrap_or(default))
    }

    /// Writes `value` at `path`, creating intermediate objects. Marks the session modified only
    /// if the stored value changed.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("cart_total", 1900)?;
    /// session.put("user.name", "ada")?;
    /// assert!(session.put("user.name.first", "x").is_err()); // "ada" is not an object
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn put(&self, path: &str, value: impl Serialize) -> Result<(), Error> {
        let path = self.user_path(path)?;
        let value = serde_json::to_value(value).map_err(|source| Error::Serialize {
            path: path.as_str().to_owned(),
            source,
        })?;
        self.limits()
            .check_depth(path.as_str(), path.segments().len(), &value)?;
        self.write_state(|s| {
            if store::put(&mut s.values, &path, value.clone())? {
                s.ops.push(Op::Put(path, value));
            }
            Ok(())
        })
    }

    /// A copy of the whole store (flash messages excluded). Changing the copy changes nothing.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("a", 1)?;
    /// assert_eq!(serde_json::Value::Object(session.all()?), serde_json::json!({"a": 1}));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn all(&self) -> Result<Map<String, Value>, Error> {
        self.read_state(|s| s.values.clone())
    }

    /// Whether a value is present and not `null` at `path`. Unlike AdonisJS, `0`, `""` and
    /// `false` count as present.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("zero", 0)?;
    /// assert!(session.has("zero")?);
    /// assert!(!session.has("nothing")?);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn has(&self, path: &str) -> Result<bool, Error> {
        self.with_value(path, |v| v.is_some())
    }

    /// Removes the value at `path`. An emptied parent object stays; forgetting a missing key is
    /// not a modification.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("user.name", "ada")?;
    /// session.forget("user.name")?;
    /// assert_eq!(session.get_value("user")?, Some(serde_json::json!({})));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn forget(&self, path: &str) -> Result<(), Error> {
        let path = self.user_path(path)?;
        self.write_state(|s| {
            if store::forget(&mut s.values, &path) {
                s.ops.push(Op::Forget(path));
            }
            Ok(())
        })
    }

    /// Reads the value at `path` and removes it.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("notice", "saved")?;
    /// assert_eq!(session.pull("notice")?, Some(serde_json::json!("saved")));
    /// assert_eq!(session.pull("notice")?, None);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn pull(&self, path: &str) -> Result<Option<Value>, Error> {
        let path = self.user_path(path)?;
        self.write_state(|s| {
            let value = store::get(&s.values, &path).cloned();
            if store::forget(&mut s.values, &path) {
                s.ops.push(Op::Forget(path));
            }
            Ok(value)
        })
    }

    /// Adds 1 to the number at `path` (missing or `null` counts as 0) and returns the new value.
    /// Integers stay integers. At commit the step is added to the value stored *then*, so
    /// concurrent increments all count.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.increment("page_views")?, serde_json::json!(1));
    /// session.put("name", "ada")?;
    /// assert_eq!(
    ///     session.increment("name").unwrap_err().to_string(),
    ///     "Cannot increment \"name\". Existing value is not a number"
    /// );
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn increment(&self, path: &str) -> Result<Value, Error> {
        self.step(path, 1, "increment")
    }

    /// Adds `step` to the number at `path`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.increment_by("points", 5)?, serde_json::json!(5));
    /// assert_eq!(session.increment_by("points", 5)?, serde_json::json!(10));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn increment_by(&self, path: &str, step: i64) -> Result<Value, Error> {
        self.step(path, step, "increment")
    }

    /// Subtracts 1 from the number at `path` (missing or `null` counts as 0).
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.decrement("score")?, serde_json::json!(-1));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn decrement(&self, path: &str) -> Result<Value, Error> {
        self.step(path, -1, "decrement")
    }

    /// Subtracts `step` from the number at `path`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("stock", 10)?;
    /// assert_eq!(session.decrement_by("stock", 3)?, serde_json::json!(7));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn decrement_by(&self, path: &str, step: i64) -> Result<Value, Error> {
        self.step(path, step.saturating_neg(), "decrement")
    }

    fn step(&self, path: &str, step: i64, operation: &'static str) -> Result<Value, Error> {
        let path = self.user_path(path)?;
        self.write_state(|s| {
            let next = store::increment(&mut s.values, &path, step, operation)?;
            s.ops.push(Op::Increment(path, step, operation));
            Ok(next)
        })
    }

    /// Empties the store. Flash messages prepared for the next request are kept, so "clear, then
    /// flash a goodbye" works in either order.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("a", 1)?;
    /// session.clear()?;
    /// assert!(session.all()?.is_empty());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.write_state(|s| {
            if !s.values.is_empty() {
                s.values.clear();
                s.ops.push(Op::Clear);
            }
            Ok(())
        })
    }

    /// `value` as a JSON object within the depth limit, stored `levels` below the top.
    fn object(
        &self,
        what: &'static str,
        value: impl Serialize,
        levels: usize,
    ) -> Result<Map<String, Value>, Error> {
        let value = serde_json::to_value(value).map_err(|source| Error::Serialize {
            path: what.to_owned(),
            source,
        })?;
        let Value::Object(map) = value else {
            return Err(Error::NotAnObject { what });
        };
        // The object's keys are the top level, so its values sit one level below.
        for (key, value) in &map {
            self.limits().check_depth(key, levels + 1, value)?;
        }
        Ok(map)
    }

    /// The request input to flash: an object whose form keys are nested, within the limits.
    fn input(&self, input: impl Serialize) -> Result<Map<String, Value>, Error> {
        let input = nest(self.object("input", input, 0)?, self.limits())?;
        for (key, value) in &input {
            self.limits().check_depth(key, 1, value)?;
        }
        Ok(input)
    }

    fn paths(&self, keys: &[&str]) -> Result<Vec<KeyPath>, Error> {
        keys.iter()
            .map(|k| KeyPath::parse_within(k, self.limits()))
            .collect()
    }

    // ----- flash messages --------------------------------------------------------------------

    /// Flashes `value` under `key` (a path) for the next request. Any JSON value works, falsy
    /// ones included; calls accumulate.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.flash("message", "Hello world")?;
    /// session.flash("errors.title", "Post title is required")?;
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash(&self, key: &str, value: impl Serialize) -> Result<(), Error> {
        let path = KeyPath::parse_within(key, self.limits())?;
        let value = serde_json::to_value(value).map_err(|source| Error::Serialize {
            path: path.as_str().to_owned(),
            source,
        })?;
        self.limits()
            .check_depth(path.as_str(), path.segments().len(), &value)?;
        self.write_state(|s| {
            let mut one = Map::new();
            store::put(&mut one, &path, value)?;
            store::deep_merge(&mut s.outgoing.flashed, one);
            Ok(())
        })
    }

    /// Flashes every field of an object, deep-merged with earlier flashes.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.flash_object(serde_json::json!({
    ///     "errors": { "title": "Post title is required" }
    /// }))?;
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash_object(&self, messages: impl Serialize) -> Result<(), Error> {
        let messages = self.object("messages", messages, 0)?;
        self.write_state(|s| {
            store::deep_merge(&mut s.outgoing.flashed, messages);
            Ok(())
        })
    }

    /// Flashes the request input (a form or JSON body, as an object) so the next request can
    /// pre-fill a form: `flash_messages().get_value("title")` returns the old input. The last of
    /// `flash_all`, `flash_only` and `flash_except` wins.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// let input = serde_json::json!({"title": "Hi", "password": "secret"});
    /// session.flash_except(&input, &["password"])?;
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash_all(&self, input: impl Serialize) -> Result<(), Error> {
        let input = self.input(input)?;
        self.write_state(|s| {
            s.outgoing.input = Some(input);
            Ok(())
        })
    }

    /// Flashes only the given fields (paths) of the request input.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// use serde_json::json;
    ///
    /// let post = manager.start_request(std::iter::empty());
    /// post.initiate(session_core::Access::ReadWrite).await?;
    /// let input = json!({ "title": "Hi", "body": "Text", "password": "secret" });
    /// post.flash_only(&input, &["title", "body"])?;
    /// post.commit().await?;
    /// let cookie = cookie_of(&post);
    ///
    /// let form = manager.start_request([cookie.as_str()]);
    /// form.initiate(session_core::Access::ReadWrite).await?;
    /// let old = form.flash_messages()?;
    /// assert_eq!(old.get_value("title")?, Some(json!("Hi")));
    /// assert!(!old.has("password"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn flash_only(&self, input: impl Serialize, keys: &[&str]) -> Result<(), Error> {
        let input = self.input(input)?;
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.input = Some(store::pick(&input, &paths));
            Ok(())
        })
    }

    /// Flashes the request input without the given fields (paths).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// use serde_json::json;
    ///
    /// let post = manager.start_request(std::iter::empty());
    /// post.initiate(session_core::Access::ReadWrite).await?;
    /// post.flash_except(json!({ "email": "ada@example.com", "password": "secret" }), &["password"])?;
    /// post.commit().await?;
    /// let cookie = cookie_of(&post);
    ///
    /// let form = manager.start_request([cookie.as_str()]);
    /// form.initiate(session_core::Access::ReadWrite).await?;
    /// let old = form.flash_messages()?;
    /// assert_eq!(old.get_value("email")?, Some(json!("ada@example.com")));
    /// assert!(!old.has("password"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn flash_except(&self, input: impl Serialize, keys: &[&str]) -> Result<(), Error> {
        let input = self.input(input)?;
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.input = Some(store::omit(&input, &paths));
            Ok(())
        })
    }

    /// Flashes validation errors keyed by field, merged under `errors` (AdonisJS 6's errors bag).
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.flash_errors(serde_json::json!({"email": ["Email is required"]}))?;
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash_errors(&self, errors: impl Serialize) -> Result<(), Error> {
        // The bag sits under `errors`: one level more.
        let errors = self.object("errors", errors, 1)?;
        let mut wrapped = Map::new();
        wrapped.insert("errors".to_owned(), Value::Object(errors));
        self.write_state(|s| {
            store::deep_merge(&mut s.outgoing.flashed, wrapped);
            Ok(())
        })
    }

    /// Carries every message of this request over to the next one. The last reflash call wins.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]);
    /// hop.initiate(session_core::Access::ReadWrite).await?;
    /// hop.reflash()?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]);
    /// page.initiate(session_core::Access::ReadWrite).await?;
    /// let messages = page.flash_messages()?;
    /// assert!(messages.has("notice"));
    /// assert!(messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash(&self) -> Result<(), Error> {
        self.write_state(|s| {
            s.outgoing.reflashed = Some(s.incoming.all().clone());
            Ok(())
        })
    }

    /// Carries only the given messages (paths) over to the next request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]);
    /// hop.initiate(session_core::Access::ReadWrite).await?;
    /// hop.reflash_only(&["notice"])?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]);
    /// page.initiate(session_core::Access::ReadWrite).await?;
    /// let messages = page.flash_messages()?;
    /// assert!(messages.has("notice"));
    /// assert!(!messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash_only(&self, keys: &[&str]) -> Result<(), Error> {
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.reflashed = Some(store::pick(s.incoming.all(), &paths));
            Ok(())
        })
    }

    /// Carries every message but the given ones (paths) over to the next request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty());
    /// first.initiate(session_core::Access::ReadWrite).await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]);
    /// hop.initiate(session_core::Access::ReadWrite).await?;
    /// hop.reflash_except(&["warning"])?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]);
    /// page.initiate(session_core::Access::ReadWrite).await?;
    /// let messages = page.flash_messages()?;
    /// assert!(messages.has("notice"));
    /// assert!(!messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash_except(&self, keys: &[&str]) -> Result<(), Error> {
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.reflashed = Some(store::omit(s.incoming.all(), &paths));
            Ok(())
        })
    }

    /// The messages flashed by the previous request.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert!(session.flash_messages()?.is_empty());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash_messages(&self) -> Result<FlashMessages, Error> {
        self.read_state(|s| s.incoming.clone())
    }

    // ----- commit ----------------------------------------------------------------------------

    /// Persists the request's changes and sets the id cookie; adapters call it after the handler.
    /// A second call is a no-op.
    ///
    /// | situation | driver calls |
    /// |---|---|
    /// | readonly | none, and no cookie |
    /// | never initiated | `touch` when a valid id cookie came in |
    /// | store empty | `destroy` if a record existed |
    /// | not modified | `touch` (skipped when the driver's read already refreshed the expiry) |
    /// | modified | `write_if` at the version read; on conflict re-read, replay, retry |
    /// | regenerated | `write_if` under the new id, then `destroy` the old record |
    ///
    /// The id cookie is sent on every response but readonly ones, with a refreshed Max-Age.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let session = manager.start_request(std::iter::empty());
    /// session.initiate(session_core::Access::ReadWrite).await?;
    /// session.put("cart_total", 1900)?;
    /// session.commit().await?;
    /// session.commit().await?; // no-op
    /// let cookie = cookie_of(&session);
    ///
    /// let readonly = manager.start_request([cookie.as_str()]);
    /// readonly.initiate(session_core::Access::ReadOnly).await?;
    /// assert_eq!(readonly.get::<u32>("cart_total")?, Some(1900));
    /// readonly.commit().await?;
    /// assert!(readonly.context().response_cookies().is_empty()); // no cookie for readonly
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn commit(&self) -> Result<(), Error> {
        let client = matches!(self.inner.manager.inner().driver, Driver::Client(_));
        let next = {
            let mut state = self.state();
            if state.committed {
                return Ok(());
            }
            state.committed = true;
            if state.failed {
                return Ok(());
            }
            if !state.initiated {
                Next::Lazy
            } else if state.readonly {
                return Ok(());
            } else {
                let id = state.id.clone().ok_or(Error::NotInitiated)?;
                let outgoing = state.outgoing.assemble();
                let modified = !state.ops.is_empty()
                    || state.consumed.is_some()
                    || !outgoing.is_empty()
                    || state.regenerated;
                if !modified {
                    let mut loaded = state.loaded.take();
                    if let (true, Some(loaded)) = (client, loaded.as_mut()) {
                        // A client-side store sends the whole record again to slide its expiry.
                        loaded.record.data = state.values.clone();
                    }
                    Next::Unmodified { id, loaded }
                } else {
                    let first = Some(first_data(&state, &outgoing));
                    let id = if state.adopted_empty && !state.regenerated {
                        let moved = SessionId::generate();
                        state.id = Some(moved.clone());
                        state.adopted_empty = false;
                        moved
                    } else {
                        id
                    };
                    Next::Write(Box::new(Plan {
                        id,
                        first,
                        created_at: state.created_at,
                        // Taken, not cloned: nothing reads it after the commit, and a large
                        // session's record is costly to copy.
                        loaded: state.loaded.take(),
                        ops: std::mem::take(&mut state.ops),
                        consumed: state.consumed.take(),
                        outgoing,
                        old_key: state.old_key.take(),
                        regenerated: state.regenerated,
                    }))
                }
            }
        };
        let now = self.inner.manager.inner().clock.now_ms();
        match next {
            Next::Lazy => self.commit_lazy(now).await,
            Next::Unmodified { id, loaded } => {
                let created_at = loaded.as_ref().map_or(now, |l| l.record.created_at);
                let mut key = None;
                if let Some(loaded) = loaded {
                    self.refresh(&loaded.key, loaded.record, now).await?;
                    key = Some(loaded.key);
                }
                let cx = &self.inner.cx;
                self.inner
                    .manager
                    .set_id_cookie(cx, &id, key.as_ref(), created_at, now);
                Ok(())
            }
            // The write path is boxed: its state is large, and a request that only reads
            // should not carry (and copy) it.
            Next::Write(mut plan) => {
                let (id, key) = match &self.inner.manager.inner().driver {
                    Driver::Server(store) => {
                        Box::pin(self.commit_server(&**store, &mut plan, now)).await?
                    }
                    Driver::Client(store) => self.commit_client(&**store, &mut plan, now)?,
                };
                let cx = &self.inner.cx;
                self.inner
                    .manager
                    .set_id_cookie(cx, &id, key.as_ref(), plan.created_at, now);
                Ok(())
            }
        }
    }

    /// A request that never opened the session still counts as activity: the expiry of the
    /// session the id cookie names is slid. Without an absolute lifetime the new expiry depends
    /// on nothing stored, so a server-side store gets one `refresh` and no read (the cost of the
    /// seed's `touch`); with one, the record is read first, for its creation time, which bounds
    /// the new expiry. A failure is logged, not surfaced: a route that never uses the session (a
    /// health check, a static file) must not fail because the session store is down.
    async fn commit_lazy(&self, now: u64) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let cx = &self.inner.cx;
        let (id, key) = match manager.incoming_id(cx) {
            Some((id, key, IdKind::Stored)) => (id, key),
            // An id that never stored anything: its cookie is sent again, nothing is read.
            Some((id, _, IdKind::Empty)) => {
                manager.set_id_cookie(cx, &id, None, now, now);
                return Ok(());
            }
            None => {
                // A new visitor's id is not hashed: nothing is stored for it, and a visitor who
                // never comes back would not repay the hash.
                manager.set_id_cookie(cx, &SessionId::generate(), None, now, now);
                return Ok(());
            }
        };
        let lifetimes = manager.inner().lifetimes;
        if let (Driver::Server(store), None) = (&manager.inner().driver, lifetimes.absolute()) {
            let expires_at = lifetimes.expires_at(now, now);
            if let Err(e) = manager.call(store.refresh(&key, now, expires_at)).await {
                tracing::warn!(target: "session", key = key.short(), error = %e, "refreshing the session's expiry failed");
            }
            manager.set_id_cookie(cx, &id, Some(&key), now, now);
            return Ok(());
        }
        let read = match &manager.inner().driver {
            Driver::Server(store) => manager.call(store.read(&key)).await,
            Driver::Client(store) => Ok(store.read(cx, &key)),
        };
        let mut created_at = now;
        match read {
            Ok(Some(record)) if !record.is_expired_at(now) => {
                created_at = record.created_at;
                if let Err(e) = self.refresh(&key, record, now).await {
                    tracing::warn!(target: "session", key = key.short(), error = %e, "refreshing the session's expiry failed");
                }
            }
            // The session ended (destroyed or expired): its id is not sent again.
            Ok(_) => {
                manager.set_id_cookie(cx, &SessionId::generate(), None, now, now);
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(target: "session", key = key.short(), error = %e, "reading the session to refresh its expiry failed");
            }
        }
        manager.set_id_cookie(cx, &id, Some(&key), created_at, now);
        Ok(())
    }

    /// Slides the expiry of an unchanged session: `refresh` on a server-side store; on a
    /// client-side one, the record sent again with its new times (if the store asks for it).
    async fn refresh(&self, key: &StorageKey, mut record: Record, now: u64) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let expires_at = manager.inner().lifetimes.expires_at(record.created_at, now);
        match &manager.inner().driver {
            Driver::Server(store) => manager.call(store.refresh(key, now, expires_at)).await,
            Driver::Client(store) => {
                (record.last_active, record.expires_at) = (now, expires_at);
                let changes = store.refresh(&self.inner.cx, key, &record)?;
                manager.apply_cookie_changes(&self.inner.cx, changes, expires_at, now);
                Ok(())
            }
        }
    }

    /// Writes a changed session to a client-side store: no versions to compare, the browser
    /// holding the only copy. Returns the id the cookie carries and its storage key.
    fn commit_client(
        &self,
        store: &dyn ClientStore,
        plan: &mut Plan,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        let manager = &self.inner.manager;
        let cx = &self.inner.cx;
        let base = plan.loaded.take();
        let key = match &base {
            Some(loaded) if !plan.regenerated => loaded.key.clone(),
            _ => plan.id.storage_key(),
        };
        let data = plan.data(base.as_ref().map(|l| &l.record.data))?;
        let expires_at = manager.inner().lifetimes.expires_at(plan.created_at, now);
        if data.is_empty() {
            manager.apply_cookie_changes(cx, store.clear(cx), expires_at, now);
            return Ok(self.emptied(plan, base.is_some()));
        }
        let changes = {
            let record = Record {
                data,
                version: base
                    .as_ref()
                    .map_or(1, |l| l.record.version.wrapping_add(1)),
                created_at: plan.created_at,
                last_active: now,
                expires_at,
            };
            store.write(cx, &key, &record)?
        };
        manager.apply_cookie_changes(cx, changes, expires_at, now);
        Ok((plan.id.clone(), Some(key)))
    }

    /// Writes a changed session to a server-side store, in one retry loop of small steps:
    ///
    /// 1. build the data: the store as the handler left it, or after a conflict the change log
    ///    replayed on the record as it is now;
    /// 2. put it under the id the cookie will carry (`write` at the version read, or `destroy`
    ///    when the session was emptied); after a regenerate, under the new id, which nobody
    ///    else knows yet;
    /// 3. after a regenerate, retire the old record (`destroy` at the version read);
    /// 4. on `Conflict`, re-read and go back to 1; on `Gone` (destroyed or expired meanwhile),
    ///    drop the changes and start a fresh session.
    ///
    /// Returns the id the cookie carries and, when known, its storage key.
    async fn commit_server(
        &self,
        store: &dyn SessionStore,
        plan: &mut Plan,
        now: u64,
    ) -> Result<(SessionId, Option<StorageKey>), Error> {
        let manager = &self.inner.manager;
        let lifetimes = manager.inner().lifetimes;
        let (loaded_key, mut base) = match plan.loaded.take() {
            Some(Loaded { key, record }) => (Some(key), Some(record)),
            None => (None, None),
        };
        // Where the data goes, and where the record it builds on is read from.
        let target = match loaded_key {
            Some(key) if !plan.regenerated => key,
            _ => plan.id.storage_key(),
        };
        let source = if plan.regenerated {
            plan.old_key.clone()
        } else {
            Some(target.clone())
        };
        // The version this commit stored under a regenerated id, if any.
        let mut written: Option<u64> = None;
        let attempts = manager.commit_attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let data = plan.data(base.as_ref().map(|r| &r.data))?;
            let emptied = data.is_empty();
            let created_at = base.as_ref().map_or(plan.created_at, |r| r.created_at);
            let record = Record {
                data,
                version: 0,
                created_at,
                last_active: now,
                expires_at: lifetimes.expires_at(created_at, now),
            };
            let outcome = if plan.regenerated {
                self.put_new(store, &target, record, &mut written, attempt)
                    .await?;
                match (&plan.old_key, &base) {
                    (Some(old), Some(current)) => self.retire(store, old, current.version).await,
                    _ => WriteOutcome::Written,
                }
            } else {
                self.put_same(store, &target, record, base.as_ref()).await?
            };
            match outcome {
                WriteOutcome::Written if emptied => {
                    return Ok(self.emptied(plan, base.is_some()));
                }
                WriteOutcome::Written => return Ok((plan.id.clone(), Some(target))),
                // A session being emptied that is already gone needs nothing more.
                WriteOutcome::Gone if emptied && !plan.regenerated => {
                    return Ok(self.emptied(plan, true));
                }
                WriteOutcome::Gone => return Ok(self.restart(store, &target, written).await),
                WriteOutcome::Conflict if attempt >= attempts => {
                    return Err(Error::Conflict { attempts })
                }
                WriteOutcome::Conflict => {
                    backoff(attempt).await;
                    let fresh = match &source {
                        Some(key) => manager.call(store.read(key)).await?,
                        None => None,
                    };
                    match fresh {
                        Some(fresh) if !fresh.is_expired_at(now) => base = Some(fresh),
                        _ if emptied && !plan.regenerated => return Ok(self.emptied(plan, true)),
                        _ => return Ok(self.restart(store, &target, written).await),
                    }
                }
            }
        }
    }

    /// The id the cookie carries after a commit left nothing stored, and no storage key (a
    /// cookie of the empty kind). When a session was destroyed under the id, the id is retired
    /// with it: a new one serves the visitor, so the old cookie never opens anything again.
    fn emptied(&self, plan: &Plan, destroyed: bool) -> (SessionId, Option<StorageKey>) {
        if !destroyed || plan.regenerated {
            return (plan.id.clone(), None);
        }
        (self.renew(), None)
    }

    /// A new id for the rest of the request and its cookie, the old one's session being gone.
    fn renew(&self) -> SessionId {
        let id = SessionId::generate();
        let mut state = self.state();
        state.id = Some(id.clone());
        state.fresh = true;
        id
    }

    /// Step 2 without a regenerate: `write` the record at the version read (`destroy` it when
    /// the session was emptied).
    async fn put_same(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        mut record: Record,
        base: Option<&Record>,
    ) -> Result<WriteOutcome, Error> {
        let manager = &self.inner.manager;
        let outcome = match base {
            None if record.data.is_empty() => WriteOutcome::Written,
            Some(current) if record.data.is_empty() => {
                manager.call(store.destroy(key, current.version)).await?
            }
            _ => {
                // Wrapping: a stored record at `u64::MAX` (a corrupt or foreign one) goes on at
                // 0, which still differs from the version read.
                record.version = base.map_or(1, |r| r.version.wrapping_add(1));
                let expected = base.map(|r| r.version);
                manager.call(store.write(key, &record, expected)).await?
            }
        };
        if outcome == WriteOutcome::Written {
            match (base, record.data.is_empty()) {
                (None, false) => {
                    tracing::info!(target: "session", event = "created", key = key.short(), "session created")
                }
                (Some(_), true) => {
                    tracing::info!(target: "session", event = "destroyed", key = key.short(), "session emptied and destroyed")
                }
                _ => {}
            }
        }
        Ok(outcome)
    }

    /// Step 2 after a regenerate: the data under the new id (or the copy written by an earlier
    /// attempt removed, when the session was emptied). Nobody else knows the new id, so anything
    /// but `Written` is a collision.
    async fn put_new(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        mut record: Record,
        written: &mut Option<u64>,
        attempt: u32,
    ) -> Result<(), Error> {
        let manager = &self.inner.manager;
        let outcome = if record.data.is_empty() {
            match written.take() {
                Some(version) => manager.call(store.destroy(key, version)).await?,
                None => WriteOutcome::Written,
            }
        } else {
            record.version = written.map_or(1, |v| v.wrapping_add(1));
            let outcome = manager.call(store.write(key, &record, *written)).await?;
            *written = Some(record.version);
            outcome
        };
        match outcome {
            WriteOutcome::Written => Ok(()),
            _ => Err(Error::Conflict { attempts: attempt }),
        }
    }

    /// Step 3: the old record goes if it is still the one read. A failure is logged: the new
    /// record is safely written, and the old one expires by itself.
    async fn retire(
        &self,
        store: &dyn SessionStore,
        old: &StorageKey,
        version: u64,
    ) -> WriteOutcome {
        match self.inner.manager.call(store.destroy(old, version)).await {
            Ok(outcome) => {
                if outcome == WriteOutcome::Written {
                    tracing::info!(target: "session", event = "regenerated", key = old.short(), "session id regenerated");
                }
                outcome
            }
            Err(e) => {
                tracing::warn!(target: "session", key = old.short(), error = %e, "destroying the old record after regenerate failed; it will expire");
                WriteOutcome::Written
            }
        }
    }

    /// The session was destroyed by a concurrent request (or expired) while this one changed it:
    /// the changes are dropped, a copy written under a regenerated id is removed, and the
    /// response starts a fresh session.
    async fn restart(
        &self,
        store: &dyn SessionStore,
        key: &StorageKey,
        written: Option<u64>,
    ) -> (SessionId, Option<StorageKey>) {
        if let Some(version) = written {
            if let Err(e) = self.inner.manager.call(store.destroy(key, version)).await {
                tracing::warn!(target: "session", key = key.short(), error = %e, "removing the regenerated copy of a destroyed session failed; it will expire");
            }
        }
        tracing::warn!(target: "session", event = "destroyed-meanwhile", key = key.short(), "session was destroyed by a concurrent request; this request's changes are dropped");
        (self.renew(), None)
    }

    /// A session for documentation examples: memory driver, initiated, writable.
    ///
    /// ```
    /// let session = session_core::Session::for_tests();
    /// assert!(session.is_initiated() && session.is_fresh());
    /// session.put("a", 1)?;
    /// # Ok::<(), session_core::Error>(())
    /// ```
    #[doc(hidden)]
    pub fn for_tests() -> Self {
        #[allow(clippy::expect_used)]
        let manager = SessionManager::builder(
            crate::SessionConfig::new()
                .with_driver("memory")
                .with_key("an example secret of thirty-two bytes or more"),
        )
        .build()
        .expect("the example configuration is valid");
        let session = manager.start_request(std::iter::empty());
        {
            let mut state = session.state();
            state.initiated = true;
            state.fresh = true;
            state.id = Some(SessionId::generate());
        }
        session
    }
}

/// What a commit needs, taken out of the state so no lock is held across `.await`.
/// What a commit does, decided under the state lock.
enum Next {
    /// The handler never initiated the session.
    Lazy,
    /// Initiated, nothing to write.
    Unmodified {
        id: SessionId,
        loaded: Option<Loaded>,
    },
    /// Changes to write (boxed: the plan is large and rare next to reads).
    Write(Box<Plan>),
}

struct Plan {
    id: SessionId,
    /// The data of the first attempt: the store as the handler left it, with the outgoing flash
    /// messages. `None` once the first attempt has used it.
    first: Option<Map<String, Value>>,
    created_at: u64,
    loaded: Option<Loaded>,
    ops: Vec<Op>,
    consumed: Option<Map<String, Value>>,
    outgoing: Map<String, Value>,
    old_key: Option<StorageKey>,
    regenerated: bool,
}

impl Plan {
    /// The data to write: the first attempt's, then the changes replayed onto each fresh read.
    fn data(&mut self, base: Option<&Map<String, Value>>) -> Result<Map<String, Value>, Error> {
        match self.first.take() {
            Some(first) => Ok(first),
            None => self.build(base),
        }
    }

    /// The data to store: the change log replayed on `base` (the record as it is now), the
    /// consumed messages taken out, the outgoing ones merged in.
    fn build(&self, base: Option<&Map<String, Value>>) -> Result<Map<String, Value>, Error> {
        let mut values = base.cloned().unwrap_or_default();
        let messages = match values.shift_remove(FLASH_KEY) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for op in &self.ops {
            op.apply(&mut values)?;
        }
        put_messages(
            &mut values,
            messages,
            self.consumed.as_ref(),
            &self.outgoing,
        );
        Ok(values)
    }
}

/// Stores the flash messages for the next request in `values`: the stored `messages` less those
/// this request consumed, plus the outgoing ones.
fn put_messages(
    values: &mut Map<String, Value>,
    mut messages: Map<String, Value>,
    consumed: Option<&Map<String, Value>>,
    outgoing: &Map<String, Value>,
) {
    if let Some(consumed) = consumed {
        // Only the messages this request saw go; a message flashed meanwhile by a concurrent
        // request stays for the next one.
        for (k, v) in consumed {
            if messages.get(k) == Some(v) {
                messages.shift_remove(k);
            }
        }
    }
    store::deep_merge(&mut messages, outgoing.clone());
    if !messages.is_empty() {
        values.insert(FLASH_KEY.to_owned(), Value::Object(messages));
    }
}

/// What the first commit attempt writes. The store already holds the record read with this
/// request's changes applied, so replaying them is only needed after a conflict; the messages are
/// worked out as [`Plan::build`] does, from the messages of the record read.
fn first_data(state: &State, outgoing: &Map<String, Value>) -> Map<String, Value> {
    let mut values = state.values.clone();
    put_messages(
        &mut values,
        state.incoming.all().clone(),
        state.consumed.as_ref(),
        outgoing,
    );
    values
}

/// Turns flat form keys (`user[name]`, `user.email`) into nested objects, as form body parsers
/// do, so that `flash_messages().get_value("user.name")` finds old input posted as `user[name]`. A key
/// that is not a valid path, or that collides with another, stays as it is; a key past the
/// limits is an error.
fn nest(input: Map<String, Value>, limits: &Limits) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    let mut flat = Vec::new();
    for (key, value) in input {
        match KeyPath::parse_within(&key, limits) {
            Ok(path) if path.segments().len() > 1 => {
                if store::put(&mut out, &path, value.clone()).is_err() {
                    flat.push((key, value));
                }
            }
            Err(e @ Error::LimitExceeded { .. }) => return Err(e),
            _ => flat.push((key, value)),
        }
    }
    for (key, value) in flat {
        match out.get_mut(&key) {
            Some(Value::Object(existing)) => {
                if let Value::Object(incoming) = value {
                    store::deep_merge(existing, incoming);
                }
            }
            _ => {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// A short random pause before retrying a conflicting commit: up to 2^attempt ms, capped at 64,
/// so that many requests contending for one session spread out instead of colliding again.
async fn backoff(attempt: u32) {
    let cap = 1u64 << attempt.min(6);
    let mut b = [0u8; 2];
    let jitter = match SystemRandom::new().fill(&mut b) {
        Ok(()) => u64::from(u16::from_le_bytes(b)) % (cap * 1000 + 1),
        Err(_) => cap * 500,
    };
    tokio::time::sleep(Duration::from_micros(jitter)).await;
}
