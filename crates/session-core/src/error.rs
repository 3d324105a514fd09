//! Error types. Each error says whose fault it is through [`ErrorKind`].

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed error from a storage backend, kept as the source of a [`DriverError`].
///
/// ```
/// use session_core::{BoxError, DriverError};
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let boxed: BoxError = io.into();
/// let err = DriverError::unavailable("kv", boxed);
/// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "connection refused");
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything a session operation can fail with.
///
/// Client input never produces an error: a tampered, expired or malformed cookie becomes a fresh
/// session. What is left is misuse by the application, data of an unexpected shape, and backend
/// failures; [`Error::kind`] tells them apart so an adapter can choose the status code.
///
/// ```
/// use session_core::{Error, ErrorKind};
///
/// let err = Error::Committed;
/// assert_eq!(err.kind(), ErrorKind::Usage);
/// assert_eq!(
///     err.to_string(),
///     "The session was already committed for this response; a change made now would not be stored"
/// );
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// A change was made to a session whose request was already committed (a task that outlived
    /// its handler, or a change after [`Session::commit`](crate::Session::commit)): it would never
    /// be stored, so it is refused.
    Committed,
    /// A handler asked for the session of a request that has none: the route is not wrapped in
    /// the adapter's layer or middleware (named here), or sessions are disabled.
    ///
    /// ```
    /// use session_core::{Error, ErrorKind};
    ///
    /// let err = Error::MissingLayer { layer: "session_axum::SessionLayer" };
    /// assert_eq!(err.kind(), ErrorKind::Usage);
    /// assert!(err.to_string().contains("session_axum::SessionLayer"));
    /// ```
    MissingLayer {
        /// The layer or middleware that installs sessions, by its path.
        layer: &'static str,
    },
    /// A handler asked for a read-write [`Session`](crate::Session) in a request that had already
    /// opened its session read-only (a read-only extractor, or actix-web's
    /// `InitiateSession::readonly`).
    Readonly,
    /// The key path could not be parsed.
    InvalidPath {
        /// The path as given, cut to its first 64 characters.
        path: String,
    },
    /// User code tried to read or write a reserved key (the flash messages' or the tag's)
    /// through the store API.
    ReservedKey {
        /// The reserved key.
        key: String,
    },
    /// A write would have to go through a value that is not an object, or through an array that
    /// does not hold the index named.
    PathConflict {
        /// The path as given.
        path: String,
    },
    /// `increment` or `decrement` found a value that is not a number.
    NotANumber {
        /// `"increment"` or `"decrement"`.
        operation: &'static str,
        /// The path as given.
        path: String,
    },
    /// A stored value did not deserialize into the requested type.
    Deserialize {
        /// The path as given.
        path: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A value given to the store could not be turned into JSON.
    Serialize {
        /// The path as given.
        path: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The storage driver failed.
    Driver(DriverError),
    /// The atomic commit kept conflicting with concurrent requests and gave up.
    Conflict {
        /// How many attempts were made.
        attempts: u32,
    },
    /// A key path or a value goes past one of the configured [`Limits`](crate::Limits); nothing
    /// was stored.
    LimitExceeded {
        /// The option that was exceeded, such as `limits.max_depth`.
        option: &'static str,
        /// Its value.
        limit: usize,
        /// The path as given, cut to its first 64 characters.
        path: String,
    },
    /// A tag given to [`Session::tag`](crate::Session::tag) is empty or longer than
    /// [`MAX_TAG_LEN`](crate::MAX_TAG_LEN) bytes.
    InvalidTag {
        /// Its length in bytes.
        length: usize,
    },
    /// The driver cannot do what was asked with tags: tagging itself on a driver without the
    /// capability (a client-side driver without a tag store, a store that does not implement
    /// [`TaggedStore`](crate::TaggedStore)), or listing and destroying one session on the
    /// cookie driver, which only supports logging a tag out everywhere.
    ///
    /// ```
    /// use session_core::{Error, ErrorKind};
    ///
    /// let err = Error::TaggingNotSupported { driver: "cookie", operation: "list sessions" };
    /// assert_eq!(err.kind(), ErrorKind::Usage);
    /// assert!(err.to_string().starts_with("the cookie session driver cannot list sessions"));
    /// ```
    TaggingNotSupported {
        /// The driver's name.
        driver: &'static str,
        /// What was asked: `tag sessions`, `list sessions`, `read a tagged session`,
        /// `destroy one session`.
        operation: &'static str,
    },
    /// A value that must be a JSON object (flashed messages or input) is of another type.
    NotAnObject {
        /// What the value was given as: `messages`, `input` or `errors`.
        what: &'static str,
    },
}

/// Whose fault an [`Error`] is, and so how an adapter should answer.
///
/// ```
/// use session_core::{DriverError, Error, ErrorKind};
///
/// let down = Error::Driver(DriverError::unavailable("kv", "connection refused"));
/// assert_eq!(down.kind(), ErrorKind::Backend);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The application used the API wrongly (not initiated, readonly, a value that cannot be
    /// JSON). A bug: 500.
    Usage,
    /// The data or the path has another shape than the operation needs (not a number, path
    /// through a string, wrong type, a malformed or reserved path, past a limit). Paths and
    /// values may come from the client, so this is never a 500: the adapters answer 422.
    Data,
    /// The storage backend failed, timed out or stayed contended. Temporary: 503.
    Backend,
    /// The session does not fit its storage (a cookie over the size cap): 413 naming the cause.
    TooLarge,
}

impl Error {
    /// Whose fault the error is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_core::{DriverError, Error, ErrorKind};
    ///
    /// assert_eq!(Error::Readonly.kind(), ErrorKind::Usage);
    /// assert_eq!(Error::PathConflict { path: "user.name".into() }.kind(), ErrorKind::Data);
    /// assert_eq!(Error::Conflict { attempts: 64 }.kind(), ErrorKind::Backend);
    /// let slow = DriverError::Timeout { driver: "disk", after: Duration::from_secs(5) };
    /// assert_eq!(Error::from(slow).kind(), ErrorKind::Backend);
    /// let big = DriverError::TooLarge { driver: "cookie", size: 5000, limit: 4093 };
    /// assert_eq!(Error::Driver(big).kind(), ErrorKind::TooLarge);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Committed
            | Error::MissingLayer { .. }
            | Error::Readonly
            | Error::Serialize { .. }
            | Error::TaggingNotSupported { .. } => ErrorKind::Usage,
            // A path may come from the client (a URL, a form key): a bad one is bad input.
            Error::InvalidPath { .. }
            | Error::ReservedKey { .. }
            | Error::PathConflict { .. }
            | Error::NotANumber { .. }
            | Error::Deserialize { .. }
            | Error::LimitExceeded { .. }
            | Error::InvalidTag { .. }
            | Error::NotAnObject { .. } => ErrorKind::Data,
            Error::Driver(DriverError::TooLarge { .. }) => ErrorKind::TooLarge,
            Error::Driver(_) | Error::Conflict { .. } => ErrorKind::Backend,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Committed => f.write_str(
                "The session was already committed for this response; a change made now would not be stored",
            ),
            Error::MissingLayer { layer } => write!(
                f,
                "This request has no session: the route is not wrapped in `{layer}` (or sessions are disabled with `enabled = false`)"
            ),
            Error::Readonly => f.write_str(
                "The session was opened read-only in this request; a read-write session is not available",
            ),
            Error::InvalidPath { path } => write!(f, "Invalid session key path \"{path}\""),
            Error::ReservedKey { key } if key == crate::TAG_KEY => write!(
                f,
                "\"{key}\" is reserved for the session's tag; use tag() and untag() instead"
            ),
            Error::ReservedKey { key } => write!(
                f,
                "\"{key}\" is reserved for flash messages; use the flash methods instead"
            ),
            Error::InvalidTag { length } => write!(
                f,
                "a session tag must be 1 to {} bytes long, got {length}",
                crate::MAX_TAG_LEN
            ),
            Error::TaggingNotSupported { driver, operation } => write!(
                f,
                "the {driver} session driver cannot {operation}: tagging needs a store that implements TaggedStore, or for a client-side driver a tag store (SessionManagerBuilder::tag_store), with which it can log a tag out everywhere but not list its sessions"
            ),
            Error::PathConflict { path } => write!(
                f,
                "Cannot write \"{path}\": a value on the way is not an object (nor an array holding that index)"
            ),
            Error::NotANumber { operation, path } => write!(
                f,
                "Cannot {operation} \"{path}\". Existing value is not a number"
            ),
            Error::Deserialize { path, source } => {
                write!(f, "Session value \"{path}\" has an unexpected shape: {source}")
            }
            Error::Serialize { path, source } => {
                write!(f, "Session value for \"{path}\" cannot be stored as JSON: {source}")
            }
            Error::Driver(e) => write!(f, "Session storage failed: {e}"),
            Error::Conflict { attempts } => write!(
                f,
                "Session commit gave up after {attempts} attempts because concurrent requests kept changing it"
            ),
            Error::LimitExceeded {
                option,
                limit,
                path,
            } => write!(
                f,
                "Session key \"{path}\" goes past {option} ({limit}); nothing was stored"
            ),
            Error::NotAnObject { what } => {
                write!(f, "The flashed {what} must be a JSON object")
            }
        }
    }
}

impl Error {
    /// A [`Error::LimitExceeded`] naming `path`, cut to its first 64 characters so that a long
    /// hostile path does not fill logs and answers.
    pub(crate) fn limit(option: &'static str, limit: usize, path: &str) -> Self {
        Error::LimitExceeded {
            option,
            limit,
            path: Self::shorten(path),
        }
    }

    /// `path` cut to its first 64 characters (with `…` when cut), for messages.
    pub(crate) fn shorten(path: &str) -> String {
        const SHOWN: usize = 64;
        match path.char_indices().nth(SHOWN) {
            Some((end, _)) => format!("{}…", &path[..end]),
            None => path.to_owned(),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Deserialize { source, .. } | Error::Serialize { source, .. } => Some(source),
            Error::Driver(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DriverError> for Error {
    fn from(e: DriverError) -> Self {
        Error::Driver(e)
    }
}

/// A failure of a storage driver.
///
/// Drivers report backend trouble here; undecodable stored data is *not* an error (it reads as no
/// session, with a warning), so that a corrupt record never locks a user out.
///
/// ```
/// use std::time::Duration;
/// use session_core::DriverError;
///
/// let e = DriverError::Timeout { driver: "kv", after: Duration::from_secs(2) };
/// assert_eq!(e.to_string(), "the kv session driver did not answer within 2s");
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub enum DriverError {
    /// The backend could not be reached or refused the operation.
    Unavailable {
        /// The driver's name.
        driver: &'static str,
        /// The underlying error.
        source: BoxError,
    },
    /// The backend did not answer in time.
    Timeout {
        /// The driver's name.
        driver: &'static str,
        /// The time limit that passed.
        after: Duration,
    },
    /// The encoded session is larger than the driver can store.
    TooLarge {
        /// The driver's name.
        driver: &'static str,
        /// The encoded size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },
}

impl DriverError {
    /// Shorthand for [`DriverError::Unavailable`].
    ///
    /// ```
    /// use session_core::DriverError;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
    /// let err = DriverError::unavailable("disk", io);
    /// assert_eq!(err.to_string(), "the disk session driver is unavailable: permission denied");
    /// ```
    pub fn unavailable(driver: &'static str, source: impl Into<BoxError>) -> Self {
        DriverError::Unavailable {
            driver,
            source: source.into(),
        }
    }
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Unavailable { driver, source } => {
                write!(f, "the {driver} session driver is unavailable: {source}")
            }
            DriverError::Timeout { driver, after } => {
                write!(f, "the {driver} session driver did not answer within {after:?}")
            }
            DriverError::TooLarge {
                driver,
                size,
                limit,
            } => write!(
                f,
                "the session is too large for the {driver} driver: {size} bytes, limit {limit} bytes"
            ),
        }
    }
}

impl StdError for DriverError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            DriverError::Unavailable { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// A configuration value was rejected at start-up. The message names the option.
///
/// ```
/// use session_core::ConfigError;
///
/// let e = ConfigError::new("age", "Invalid duration expression \"soon\"");
/// assert_eq!(e.option(), "age");
/// assert_eq!(
///     e.to_string(),
///     "invalid session option `age`: Invalid duration expression \"soon\""
/// );
/// ```
///
/// Its `Debug` form is the same sentence (with the underlying error, if any), so a `main` that
/// returns `Result<(), Box<dyn Error>>` prints a readable line when start-up fails:
///
/// ```
/// use session_core::ConfigError;
///
/// let e = ConfigError::new("keys", "at least one secret key is required");
/// assert_eq!(format!("{e:?}"), "invalid session option `keys`: at least one secret key is required");
/// ```
pub struct ConfigError {
    option: String,
    message: String,
    source: Option<BoxError>,
}

impl ConfigError {
    /// A rejected option with a message.
    ///
    /// ```
    /// use session_core::ConfigError;
    ///
    /// let err = ConfigError::new("file.location", "must be an absolute path");
    /// assert_eq!(err.option(), "file.location");
    /// assert_eq!(err.to_string(), "invalid session option `file.location`: must be an absolute path");
    /// ```
    pub fn new(option: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            option: option.into(),
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    ///
    /// ```
    /// use std::error::Error as _;
    /// use session_core::ConfigError;
    ///
    /// let parse = "ten".parse::<u32>().unwrap_err();
    /// let err = ConfigError::new("kv.pool_size", "not a number").with_source(parse);
    /// assert_eq!(err.source().unwrap().to_string(), "invalid digit found in string");
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The option that was rejected, such as `age` or `file.location`.
    ///
    /// ```
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let err = SessionManager::builder(SessionConfig::new().with_driver("memory").with_age("soon"))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.option(), "age");
    /// ```
    pub fn option(&self) -> &str {
        &self.option
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid session option `{}`: {}",
            self.option, self.message
        )
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl StdError for ConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
