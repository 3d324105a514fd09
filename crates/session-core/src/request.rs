//! The adapter's handle on a request's session: read it when asked, commit it after the handler.

use serde_json::{Map, Value};

use crate::context::SessionContext;
use crate::driver::Driver;
use crate::error::Error;
use crate::flash::FlashMessages;
use crate::id::{IdKind, SessionId, SignedId};
use crate::manager::SessionManager;
use crate::reader::SessionReader;
use crate::session::{Access, Loaded, Session};
use crate::tags::Mark;
use crate::FLASH_KEY;

/// The session of one request as the adapter holds it: created by
/// [`SessionManager::start_request`] before the handler, read from the driver only when something
/// asks for it ([`session`](Self::session), [`reader`](Self::reader)), committed after the
/// handler ([`commit`](Self::commit)). Handlers never see it: the extractors hand out the
/// [`Session`] or [`SessionReader`] it opens.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
///
/// // What an adapter does for each request:
/// let request = manager.start_request(["id=from-the-cookie-header"]);
/// let session = request.session().await?; // the extractor: one driver read
/// session.put("cart_total", 1900)?; // the handler
/// request.commit().await?; // after the handler: write, then Set-Cookie
/// assert!(request.id_cookie().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct RequestSession {
    session: Session,
}

impl RequestSession {
    pub(crate) fn new(session: Session) -> Self {
        Self { session }
    }

    /// Reads the session (once per request) and opens it for reading and writing: what the
    /// adapters' `Session` extractor does. The previous request's flash messages are consumed.
    ///
    /// A missing, unverifiable, unknown or expired id gives a fresh session with a new id; that is
    /// never an error. The errors are the driver's ([`Error::Driver`]: the storage is down, 503),
    /// and [`Error::Readonly`] when this request already opened the session with
    /// [`reader`](Self::reader).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// let session = request.session().await?;
    /// assert!(session.is_fresh());
    /// request.session().await?.put("a", 1)?; // the same session: nothing read again
    /// assert_eq!(session.get::<u8>("a")?, Some(1));
    ///
    /// let websocket = manager.start_request(std::iter::empty());
    /// websocket.reader().await?;
    /// assert!(matches!(websocket.session().await, Err(session_core::Error::Readonly)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn session(&self) -> Result<Session, Error> {
        self.initiate(Access::ReadWrite).await?;
        self.opened().ok_or(Error::Readonly)
    }

    /// Reads the session (once per request) and opens it for reading only: what the adapters'
    /// read-only extractor does (websockets, server-sent events, long polling). The previous
    /// request's flash messages are visible and not consumed, and the response gets no cookie.
    /// When the request already opened the session for writing, the reader shows that session.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let first = manager.start_request(std::iter::empty());
    /// first.session().await?.flash("notice", "Saved")?;
    /// first.commit().await?;
    /// let cookie = first.id_cookie().expect("an id cookie");
    ///
    /// // A websocket upgrade: shows the message without consuming it.
    /// let socket = manager.start_request([cookie.as_str()]);
    /// assert!(socket.reader().await?.flash_messages().has("notice"));
    /// socket.commit().await?;
    /// assert_eq!(socket.id_cookie(), None); // no cookie for a read-only request
    ///
    /// // The next page still gets the message.
    /// let page = manager.start_request([cookie.as_str()]);
    /// assert!(page.session().await?.flash_messages().has("notice"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn reader(&self) -> Result<SessionReader, Error> {
        self.initiate(Access::ReadOnly).await?;
        Ok(SessionReader::new(self.session.clone()))
    }

    /// Reads the session from the driver, for reading and writing or read-only; a second call
    /// is a no-op (the first access wins). [`session`](Self::session) and
    /// [`reader`](Self::reader) call it and hand out the opened session; an adapter calls it
    /// directly to read the session before routing (actix-web's `InitiateSession`).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{Access, SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// assert!(!request.is_initiated());
    /// request.initiate(Access::ReadWrite).await?;
    /// assert!(request.is_initiated() && request.opened().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn initiate(&self, access: Access) -> Result<(), Error> {
        let readonly = access == Access::ReadOnly;
        let _guard = self.session.inner.init.lock().await;
        if self.session.inner.state().initiated {
            return Ok(());
        }
        let manager = &self.session.inner.manager;
        let inner = manager.inner();
        let now = inner.clock.now_ms();
        let mut found = None;
        let mut adopted = None;
        let mut kept = None;
        let incoming = manager.incoming_id(&self.session.inner.cx);
        let cookie = incoming
            .as_ref()
            .map(|(signed, _)| (signed.stamp.saturating_mul(1000), signed.current));
        match incoming {
            // An id that never stored anything keeps serving its visitor; nothing is read.
            Some((signed, _)) if signed.kind == IdKind::Empty => adopted = Some(signed.id),
            Some((SignedId { id, .. }, key)) => {
                let read = match &inner.driver {
                    Driver::Server(store) => manager.call(store.read(&key)).await,
                    Driver::Client(store) => Ok(store.read(&self.session.inner.cx, &key)),
                };
                if read.is_err() {
                    self.session.inner.state().failed = true;
                }
                match read? {
                    Some(record) if !record.is_expired_at(now) => {
                        // A client-side session of a tag logged out everywhere since.
                        let mark = manager.check_mark(&key, &record).await;
                        if mark.is_err() {
                            self.session.inner.state().failed = true;
                        }
                        match mark? {
                            Mark::Revoked => {
                                tracing::info!(target: "session", event = "logged-out", key = key.short(), "the session's tag was logged out everywhere; starting a fresh session");
                            }
                            mark => {
                                kept = (mark == Mark::Kept)
                                    .then(|| record.tag().map(str::to_owned))
                                    .flatten();
                                found = Some((id, Loaded { key, record }));
                            }
                        }
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
        let mut state = self.session.inner.state();
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
                state.cookie = cookie;
            }
            None => {
                state.created_at = now;
                state.fresh = adopted.is_none();
                state.adopted_empty = adopted.is_some();
                if adopted.is_some() {
                    state.cookie = cookie;
                }
                state.id = Some(adopted.unwrap_or_else(SessionId::generate));
            }
        }
        state.readonly = readonly;
        state.initiated = true;
        drop(state);
        // The session kept by a log-out of its tag is tagged again, past the log-out, so that
        // it passes by its time from this commit on, whatever id it has next (see `tags.rs`).
        if let (Some(tag), false) = (kept, readonly) {
            self.session.retag(tag)?;
        }
        Ok(())
    }

    /// The session opened for reading and writing, without reading anything: `None` before the
    /// request opened it, and when it was opened read-only. For code that cannot await (actix-web
    /// guards) and for middleware after the handler.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// assert!(request.opened().is_none()); // nothing asked for it yet
    /// request.session().await?.put("user", "ada")?;
    /// assert!(request.opened().is_some_and(|s| s.has("user")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn opened(&self) -> Option<Session> {
        let state = self.session.inner.state();
        (state.initiated && !state.readonly).then(|| self.session.clone())
    }

    /// The session opened in either mode, as a reader; `None` before the request opened it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// assert!(request.opened_reader().is_none());
    /// request.reader().await?;
    /// assert!(request.opened_reader().is_some() && request.opened().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn opened_reader(&self) -> Option<SessionReader> {
        self.is_initiated()
            .then(|| SessionReader::new(self.session.clone()))
    }

    /// Whether the request opened the session (in either mode).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// assert!(!request.is_initiated());
    /// request.reader().await?;
    /// assert!(request.is_initiated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn is_initiated(&self) -> bool {
        self.session.inner.state().initiated
    }

    /// Persists the request's changes and sets the id cookie: [`Session::commit`], which also
    /// covers a request that never opened its session. Adapters call it after the handler; a
    /// second call is a no-op.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// request.session().await?.put("a", 1)?;
    /// request.commit().await?;
    /// assert!(request.id_cookie().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn commit(&self) -> Result<(), Error> {
        self.session.commit().await
    }

    /// [`Session::context`]: the request's cookies in and out.
    ///
    /// ```
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(["id=abc; theme=dark"]);
    /// assert_eq!(request.context().request_cookie("id"), Some("abc")); // the session's cookies only
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn context(&self) -> &SessionContext {
        self.session.context()
    }

    /// [`Session::id_cookie`]: the id cookie the response sets, for tests.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// request.session().await?.put("a", 1)?;
    /// assert_eq!(request.id_cookie(), None); // not committed yet
    /// request.commit().await?;
    /// assert!(request.id_cookie().is_some_and(|c| c.starts_with("id=")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn id_cookie(&self) -> Option<String> {
        self.session.id_cookie()
    }

    /// The manager the request belongs to.
    ///
    /// ```
    /// # use session_core::{SessionConfig, SessionManager};
    /// # let manager = SessionManager::builder(
    /// #     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// # ).build()?;
    /// let request = manager.start_request(std::iter::empty());
    /// assert_eq!(request.manager().driver().name(), "memory");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn manager(&self) -> &SessionManager {
        self.session.manager()
    }
}
