//! The read half of a session, for handlers that must not write.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::flash::FlashMessages;
use crate::id::SessionId;
use crate::session::Session;

/// A session that can only be read: what the adapters' read-only extractors hand out
/// (websockets, server-sent events, long polling). It exposes the reads of [`Session`] and
/// nothing that writes, so a write does not compile:
///
/// ```compile_fail,E0599
/// fn handler(session: &session_core::SessionReader) {
///     session.put("user_id", 7); // no such method: the reader cannot write
/// }
/// ```
///
/// Built from a session initiated readonly, it also keeps the incoming flash messages for the
/// next request (they are visible, not consumed), and the response gets no cookie.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{SessionConfig, SessionManager, SessionReader};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()?;
/// let reader: SessionReader = manager.start_request(std::iter::empty()).reader().await?;
/// assert_eq!(reader.get::<u64>("user_id")?, None);
///
/// // A read-only view of a writable session, for code that must not write.
/// let session = manager.start_request(std::iter::empty()).session().await?;
/// session.put("user_id", 7)?;
/// assert_eq!(SessionReader::new(session).get::<u64>("user_id")?, Some(7));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SessionReader(Session);

impl SessionReader {
    /// A read-only view of `session`. The adapters' read-only extractors get theirs from
    /// [`RequestSession::reader`](crate::RequestSession::reader).
    ///
    /// ```
    /// use session_core::{Session, SessionReader};
    ///
    /// let reader = SessionReader::new(Session::for_tests());
    /// assert!(reader.all().is_empty());
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    /// [`Session::get`]: the value at `path` deserialized as `T`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("cart_total", 1900)?;
    /// let reader = session_core::SessionReader::new(session);
    /// assert_eq!(reader.get::<u32>("cart_total")?, Some(1900));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, Error> {
        self.0.get(path)
    }

    /// [`Session::get_value`]: the value at `path` as raw JSON.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("user.name", "ada")?;
    /// let reader = session_core::SessionReader::new(session);
    /// assert_eq!(reader.get_value("user.name")?, Some(serde_json::json!("ada")));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_value(&self, path: &str) -> Result<Option<Value>, Error> {
        self.0.get_value(path)
    }

    /// [`Session::get_or`]: the value at `path` as `T`, or `default`.
    ///
    /// ```
    /// let reader = session_core::SessionReader::new(session_core::Session::for_tests());
    /// assert_eq!(reader.get_or("page_views", 0)?, 0);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn get_or<T: DeserializeOwned>(&self, path: &str, default: T) -> Result<T, Error> {
        self.0.get_or(path, default)
    }

    /// [`Session::has`]: whether a value is present and not `null` at `path`.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("zero", 0)?;
    /// let reader = session_core::SessionReader::new(session);
    /// assert!(reader.has("zero"));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn has(&self, path: &str) -> bool {
        self.0.has(path)
    }

    /// [`Session::all`]: a copy of the whole store.
    ///
    /// ```
    /// # let session = session_core::Session::for_tests();
    /// session.put("a", 1)?;
    /// let reader = session_core::SessionReader::new(session);
    /// assert_eq!(reader.all().len(), 1);
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn all(&self) -> Map<String, Value> {
        self.0.all()
    }

    /// [`Session::current_tag`]: the session's tag, if it has one.
    ///
    /// ```
    /// let session = session_core::Session::for_tests();
    /// session.tag("user-7")?;
    /// let reader = session_core::SessionReader::new(session);
    /// assert_eq!(reader.current_tag().as_deref(), Some("user-7"));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    pub fn current_tag(&self) -> Option<String> {
        self.0.current_tag()
    }

    /// [`Session::flash_messages`]: the messages flashed by the previous request (not consumed
    /// by a readonly session).
    ///
    /// ```
    /// let reader = session_core::SessionReader::new(session_core::Session::for_tests());
    /// assert!(reader.flash_messages().is_empty());
    /// ```
    pub fn flash_messages(&self) -> FlashMessages {
        self.0.flash_messages()
    }

    /// [`Session::session_id`]: the session's id.
    ///
    /// ```
    /// let reader = session_core::SessionReader::new(session_core::Session::for_tests());
    /// assert_eq!(reader.session_id().expose().len(), 43);
    /// ```
    pub fn session_id(&self) -> SessionId {
        self.0.session_id()
    }

    /// [`Session::is_fresh`]: whether the id was generated during this request.
    ///
    /// ```
    /// let reader = session_core::SessionReader::new(session_core::Session::for_tests());
    /// assert!(reader.is_fresh());
    /// ```
    pub fn is_fresh(&self) -> bool {
        self.0.is_fresh()
    }
}
