//! What every HTTP adapter needs, written once: reading the `Cookie` headers, committing after
//! the handler, turning the response cookies into `Set-Cookie` values, and the error answers.

use crate::error::{Error, ErrorKind};
use crate::request::RequestSession;

/// The answer an adapter gives when a session operation fails, before any user customization.
///
/// | kind | status | body |
/// |---|---|---|
/// | backend (driver down, timeout, contention) | 503 | `Session storage is unavailable. Please try again shortly.` |
/// | too large (cookie over the cap) | 413 | `Session data is too large to be stored: …` |
/// | data (not a number, wrong shape, a bad path, past a [`Limits`](crate::Limits) option) | 422 | the error message |
/// | usage (a change after the commit, no layer, read-only then read-write) | 500 | `Session error: …` |
///
/// ```
/// use session_core::{adapter::ErrorAnswer, DriverError, Error};
///
/// let answer = ErrorAnswer::for_error(&Error::Driver(DriverError::unavailable("kv", "refused")));
/// assert_eq!(answer.status, 503);
/// assert_eq!(answer.body, "Session storage is unavailable. Please try again shortly.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// A short plain-text body.
    pub body: String,
}

impl ErrorAnswer {
    /// The default answer for an error.
    ///
    /// ```
    /// use session_core::{adapter::ErrorAnswer, Error};
    ///
    /// let answer = ErrorAnswer::for_error(&Error::Committed);
    /// assert_eq!(answer.status, 500);
    /// assert!(answer.body.starts_with("Session error: The session was already committed"));
    ///
    /// let data = Error::NotANumber { operation: "increment", path: "name".into() };
    /// assert_eq!(ErrorAnswer::for_error(&data).status, 422);
    /// ```
    pub fn for_error(error: &Error) -> Self {
        let (status, body) = match error.kind() {
            ErrorKind::Backend => (
                503,
                "Session storage is unavailable. Please try again shortly.".to_owned(),
            ),
            ErrorKind::TooLarge => (
                413,
                format!("Session data is too large to be stored: {error}"),
            ),
            ErrorKind::Data => (422, error.to_string()),
            _ => (500, format!("Session error: {error}")),
        };
        Self { status, body }
    }
}

/// Logs an error worth a line in the server log: everything but data errors, which are the
/// client's (a value of the wrong shape, a bad path). Ids never appear in errors.
#[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
pub(crate) fn log_error(error: &Error) {
    if error.kind() != ErrorKind::Data {
        tracing::error!(target: "session", kind = ?error.kind(), error = %error, "session error");
    }
}

/// Commits the session after the handler and returns the `Set-Cookie` header values to send,
/// taking the cookies out of the session's context (its response cookies are empty afterwards).
/// On failure the error is logged (without ids) and returned; the response cookies are dropped,
/// so a failed commit never sends a cookie for data that was not stored.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use session_core::{adapter, SessionConfig, SessionManager};
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build().unwrap();
/// let request = manager.start_request(["theme=dark"]);
/// let set_cookie = adapter::finish(&request).await.unwrap();
/// assert!(set_cookie[0].starts_with("id="));
/// # });
/// ```
pub async fn finish(session: &RequestSession) -> Result<Vec<String>, Error> {
    match session.commit().await {
        Ok(()) => Ok(session.context().take_set_cookie_headers()),
        Err(error) => {
            session.context().clear_response_cookies();
            tracing::error!(target: "session", kind = ?error.kind(), error = %error, "session commit failed");
            Err(error)
        }
    }
}
