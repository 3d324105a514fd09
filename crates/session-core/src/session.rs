//! The per-request session handle: the values store, flash messages, lifecycle and commit.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::context::SessionContext;
use crate::driver::Record;
use crate::error::Error;
use crate::flash::{FlashMessages, Outgoing};
use crate::id::{SessionId, StorageKey};
use crate::limits::Limits;
use crate::manager::SessionManager;
use crate::path::{is_plain, KeyPath};
use crate::store::{self, Op};
use crate::{FLASH_KEY, TAG_KEY};

/// How a request uses its session: the argument of [`RequestSession::initiate`](crate::RequestSession::initiate).
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

/// The session of one request, opened for reading and writing: what handlers use.
///
/// The adapters' extractors hand it out already read from the driver, so every method works on
/// the data; none can fail because the session was not read yet. It is `Send + Sync` and cheap
/// to clone; the store methods are synchronous, so they can be called from anywhere, including
/// across `.await` points. The adapter commits the changes after the handler (see
/// [`RequestSession::commit`](crate::RequestSession::commit)); a change made after that is refused with [`Error::Committed`],
/// never silently dropped.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
///
/// let request = manager.start_request(std::iter::empty());
/// let session = request.session().await?; // what an extractor does
/// let total: i64 = session.get_or("cart_total", 0)?;
/// session.put("cart_total", total + 10)?;
/// session.increment("page_views")?;
/// session.flash("message", "Hello world")?;
/// request.commit().await?; // what the layer does after the handler
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) manager: SessionManager,
    pub(crate) cx: SessionContext,
    /// Serializes `initiate`, which awaits the driver.
    pub(crate) init: tokio::sync::Mutex<()>,
    pub(crate) state: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) initiated: bool,
    pub(crate) readonly: bool,
    pub(crate) fresh: bool,
    pub(crate) regenerated: bool,
    pub(crate) committed: bool,
    /// `initiate` failed on a backend error: the request is answered with that error, and the
    /// commit then does nothing (no driver call, no cookie).
    pub(crate) failed: bool,
    /// Set by `initiate`.
    pub(crate) id: Option<SessionId>,
    /// The id came in with a cookie of the empty kind and was adopted: data written in this
    /// request is stored under a new id, so an id once handed out as empty never holds a
    /// session (its cookie could be replayed after that session ended).
    pub(crate) adopted_empty: bool,
    /// For the id this request keeps from its cookie: when that cookie was set (ms) and whether
    /// its MAC is the current key's. `None` for a new id. It decides whether an unchanged
    /// session's expiry and cookie are refreshed (see `refresh`).
    pub(crate) cookie: Option<(u64, bool)>,
    /// The record as read: the base that the change log is replayed on.
    pub(crate) loaded: Option<Loaded>,
    pub(crate) created_at: u64,
    pub(crate) values: Map<String, Value>,
    pub(crate) incoming: FlashMessages,
    /// The incoming messages this request consumes (non-readonly initiate with messages).
    pub(crate) consumed: Option<Map<String, Value>>,
    pub(crate) outgoing: Outgoing,
    pub(crate) ops: Vec<Op>,
    /// The key of the record that existed before `regenerate`, destroyed after the new write.
    pub(crate) old_key: Option<StorageKey>,
}

#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) key: StorageKey,
    pub(crate) record: Record,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Session")
            .field("fresh", &state.fresh)
            .field("regenerated", &state.regenerated)
            .field("key", &state.id.as_ref().map(|id| id.storage_key()))
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state()
    }

    fn limits(&self) -> &Limits {
        self.inner.manager.config().limits()
    }

    /// Parses a path of the user-facing store within the configured limits.
    fn user_path(&self, path: &str) -> Result<KeyPath, Error> {
        KeyPath::parse_user(path, self.limits())
    }

    /// Runs `f` on the state.
    fn read_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state())
    }

    /// Runs `f` on the state, unless the request was committed: a change made after the commit
    /// would never be stored.
    fn write_state<R>(&self, f: impl FnOnce(&mut State) -> Result<R, Error>) -> Result<R, Error> {
        let mut state = self.state();
        if state.committed {
            return Err(Error::Committed);
        }
        f(&mut state)
    }

    /// The request context (cookies in and out).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let session = manager.start_request(["id=abc; theme=dark"]).session().await?;
    /// assert_eq!(session.context().request_cookie("id"), Some("abc"));
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
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.put("cart_total", 1900)?;
    /// assert_eq!(first.id_cookie(), None); // not committed yet
    /// first.commit().await?;
    /// let cookie = first.id_cookie().expect("set by the commit");
    /// assert!(cookie.starts_with("id="));
    ///
    /// let second = manager.start_request([cookie.as_str()]).session().await?;
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

    /// Whether the id was generated during this request (no valid cookie, or `regenerate`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Session, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// # let cookie_of = |s: &Session| s.id_cookie().expect("an id cookie");
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// assert!(first.is_fresh());
    /// first.put("a", 1)?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// let second = manager.start_request([cookie.as_str()]).session().await?;
    /// assert!(!second.is_fresh());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_fresh(&self) -> bool {
        self.state().fresh
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
    /// let session = manager.start_request(std::iter::empty()).session().await?;
    /// let id = session.session_id();
    /// assert_eq!(id.expose().len(), 43);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn session_id(&self) -> SessionId {
        // `initiate` sets the id before any `Session` is handed out.
        self.state().id.clone().unwrap_or_else(SessionId::generate)
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
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.put("cart_total", 1900)?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // Login: same data, new id.
    /// let login = manager.start_request([cookie.as_str()]).session().await?;
    /// let before = login.session_id();
    /// login.regenerate()?;
    /// assert_ne!(login.session_id(), before);
    /// login.put("user_id", 7)?;
    /// login.commit().await?;
    /// let new_cookie = cookie_of(&login);
    ///
    /// // The old id no longer opens the session; the new one has the data.
    /// let old = manager.start_request([cookie.as_str()]).session().await?;
    /// assert!(old.is_fresh());
    /// let new = manager.start_request([new_cookie.as_str()]).session().await?;
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
    /// let login = manager.start_request(std::iter::empty()).session().await?;
    /// login.put("user_id", 7)?;
    /// login.commit().await?;
    /// let cookie = login.id_cookie().expect("an id cookie");
    ///
    /// let logout = manager.start_request([cookie.as_str()]).session().await?;
    /// let before = logout.session_id();
    /// logout.flush()?;
    /// logout.flash("notice", "Signed out")?;
    /// logout.commit().await?;
    /// assert_ne!(logout.session_id(), before);
    ///
    /// // The old cookie opens nothing.
    /// let replay = manager.start_request([cookie.as_str()]).session().await?;
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
        if path != FLASH_KEY
            && path != TAG_KEY
            && is_plain(path)
            && path.len() <= self.limits().max_segment_length()
        {
            return Ok(self.read_state(|s| f(s.values.get(path).filter(|v| !v.is_null()))));
        }
        let path = self.user_path(path)?;
        Ok(self.read_state(|s| f(store::get(&s.values, &path))))
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
    /// assert_eq!(serde_json::Value::Object(session.all()), serde_json::json!({"a": 1}));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn all(&self) -> Map<String, Value> {
        self.read_state(|s| {
            let mut values = s.values.clone();
            values.shift_remove(TAG_KEY);
            values
        })
    }

    /// Tags the session, usually with the id of the user who logs in, so that the sessions of
    /// a user can be found later. The tag is stored with the session: it survives
    /// [`regenerate`](Self::regenerate) (login usually tags and regenerates in one request) and
    /// goes with [`clear`](Self::clear) and [`flush`](Self::flush) (logout). Tagging again
    /// replaces it. A tag is 1 to [`MAX_TAG_LEN`](crate::MAX_TAG_LEN) bytes
    /// ([`Error::InvalidTag`] otherwise).
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.regenerate()?;
    /// session.tag(42)?;
    /// assert_eq!(session.current_tag().as_deref(), Some("42"));
    /// assert!(session.all().is_empty()); // the tag is not one of the values
    /// session.flush()?; // logout
    /// assert_eq!(session.current_tag(), None);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn tag(&self, tag: impl std::fmt::Display) -> Result<(), Error> {
        let tag = tag.to_string();
        if tag.is_empty() || tag.len() > crate::MAX_TAG_LEN {
            return Err(Error::InvalidTag { length: tag.len() });
        }
        let manager = &self.inner.manager;
        if !manager.supports_tagging() {
            return Err(Error::TaggingNotSupported {
                driver: manager.driver().name(),
                operation: "tag sessions",
            });
        }
        self.set_tag(tag, manager.clock().now_ms())
    }

    /// Stores the tag with the time it was set.
    pub(crate) fn set_tag(&self, tag: String, now: u64) -> Result<(), Error> {
        let path = KeyPath::tag();
        let value = serde_json::json!({ "value": tag, "at": now });
        self.write_state(|s| {
            if store::put(&mut s.values, &path, value.clone())? {
                s.ops.push(Op::Put(path, value));
            }
            Ok(())
        })
    }

    /// Removes the session's tag, keeping its values.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.tag("ada")?;
    /// session.untag()?;
    /// assert_eq!(session.current_tag(), None);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn untag(&self) -> Result<(), Error> {
        self.write_state(|s| {
            if s.values.shift_remove(TAG_KEY).is_some() {
                s.ops.push(Op::Forget(KeyPath::tag()));
            }
            Ok(())
        })
    }

    /// The session's tag, if it has one.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert_eq!(session.current_tag(), None);
    /// session.tag("user-7")?;
    /// assert_eq!(session.current_tag().as_deref(), Some("user-7"));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn current_tag(&self) -> Option<String> {
        self.read_state(|s| {
            s.values
                .get(TAG_KEY)
                .and_then(|tag| tag.get("value"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    }

    /// The handle under which this session appears in the listings of its tag
    /// ([`SessionManager::tagged_sessions`]): its storage key, a hash of its id that does not
    /// open the session. An account page compares it with each listed handle to mark the
    /// current session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let session = manager.start_request(std::iter::empty()).session().await?;
    /// session.tag("ada")?;
    /// session.commit().await?;
    /// let listed = manager.tagged_sessions("ada").await?;
    /// assert_eq!(listed[0].handle, session.handle());
    /// assert_eq!(session.handle(), session.session_id().storage_key());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn handle(&self) -> StorageKey {
        self.session_id().storage_key()
    }

    /// Logs out every other session of this session's tag ("log out everywhere else"), keeping
    /// this one: [`SessionManager::destroy_tagged_sessions`] with this session's tag and
    /// handle. Returns how many were destroyed (`None` on the cookie driver, which cannot
    /// count them); `Some(0)` for an untagged session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let phone = manager.start_request(std::iter::empty()).session().await?;
    /// phone.tag("ada")?;
    /// phone.commit().await?;
    ///
    /// let laptop = manager.start_request(std::iter::empty()).session().await?;
    /// laptop.tag("ada")?;
    /// assert_eq!(laptop.destroy_other_sessions().await?, Some(1));
    /// laptop.commit().await?;
    /// assert_eq!(manager.tagged_sessions("ada").await?[0].handle, laptop.handle());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn destroy_other_sessions(&self) -> Result<Option<usize>, Error> {
        let Some(tag) = self.current_tag() else {
            return Ok(Some(0));
        };
        let manager = &self.inner.manager;
        let destroyed = manager
            .destroy_tagged_sessions(&tag, Some(&self.handle()))
            .await?;
        // On a client-side driver this session was tagged before the new "valid from" time;
        // tagged again past it, it stays valid by its time, whatever id it has next.
        if destroyed.is_none() {
            self.retag(tag)?;
        }
        Ok(destroyed)
    }

    /// Tags the session again one millisecond from now, past a log-out of its tag that kept it
    /// (a log-out counts the tags of its own millisecond as before it).
    pub(crate) fn retag(&self, tag: String) -> Result<(), Error> {
        let now = self.inner.manager.clock().now_ms();
        self.set_tag(tag, now.saturating_add(1))
    }

    /// Whether a value is present and not `null` at `path`. Unlike AdonisJS, `0`, `""` and
    /// `false` count as present. A path that cannot be parsed, or goes past the
    /// [`Limits`](crate::Limits), holds nothing (no write can store there), so it is `false`, as
    /// on [`FlashMessages::has`].
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("zero", 0)?;
    /// assert!(session.has("zero"));
    /// assert!(!session.has("nothing"));
    /// assert!(!session.has("user..name")); // nothing can be stored at a malformed path
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn has(&self, path: &str) -> bool {
        self.with_value(path, |v| v.is_some()).unwrap_or(false)
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
    /// assert!(session.all().is_empty());
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
    /// let post = manager.start_request(std::iter::empty()).session().await?;
    /// let input = json!({ "title": "Hi", "body": "Text", "password": "secret" });
    /// post.flash_only(&input, &["title", "body"])?;
    /// post.commit().await?;
    /// let cookie = cookie_of(&post);
    ///
    /// let form = manager.start_request([cookie.as_str()]).session().await?;
    /// let old = form.flash_messages();
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
    /// let post = manager.start_request(std::iter::empty()).session().await?;
    /// post.flash_except(json!({ "email": "ada@example.com", "password": "secret" }), &["password"])?;
    /// post.commit().await?;
    /// let cookie = cookie_of(&post);
    ///
    /// let form = manager.start_request([cookie.as_str()]).session().await?;
    /// let old = form.flash_messages();
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
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]).session().await?;
    /// hop.reflash()?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]).session().await?;
    /// let messages = page.flash_messages();
    /// assert!(messages.has("notice"));
    /// assert!(messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash(&self) -> Result<(), Error> {
        self.write_state(|s| {
            s.outgoing.reflashed = Some(s.incoming.all());
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
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]).session().await?;
    /// hop.reflash_only(&["notice"])?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]).session().await?;
    /// let messages = page.flash_messages();
    /// assert!(messages.has("notice"));
    /// assert!(!messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash_only(&self, keys: &[&str]) -> Result<(), Error> {
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.reflashed = Some(store::pick(s.incoming.map(), &paths));
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
    /// let first = manager.start_request(std::iter::empty()).session().await?;
    /// first.flash("notice", "Saved")?;
    /// first.flash("warning", "Quota almost reached")?;
    /// first.commit().await?;
    /// let cookie = cookie_of(&first);
    ///
    /// // A redirect hop that shows nothing carries messages on.
    /// let hop = manager.start_request([cookie.as_str()]).session().await?;
    /// hop.reflash_except(&["warning"])?;
    /// hop.commit().await?;
    ///
    /// let page = manager.start_request([cookie.as_str()]).session().await?;
    /// let messages = page.flash_messages();
    /// assert!(messages.has("notice"));
    /// assert!(!messages.has("warning"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reflash_except(&self, keys: &[&str]) -> Result<(), Error> {
        let paths = self.paths(keys)?;
        self.write_state(|s| {
            s.outgoing.reflashed = Some(store::omit(s.incoming.map(), &paths));
            Ok(())
        })
    }

    /// The messages flashed by the previous request.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// assert!(session.flash_messages().is_empty());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn flash_messages(&self) -> FlashMessages {
        self.read_state(|s| s.incoming.clone())
    }

    /// A session for documentation examples: memory driver, initiated, writable.
    ///
    /// ```
    /// let session = session_core::Session::for_tests();
    /// assert!(session.is_fresh());
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
        let session = Session::new(manager.clone(), manager.context(std::iter::empty()));
        {
            let mut state = session.state();
            state.initiated = true;
            state.fresh = true;
            state.id = Some(SessionId::generate());
        }
        session
    }
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
