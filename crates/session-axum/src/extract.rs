//! Extractors and their rejection.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;
use session_core::adapter::ErrorAnswer;
use session_core::Error;

/// The request's session, initiated for reading and writing.
///
/// Extracting it reads the session from the driver once per request; extracting it again (or a
/// [`FlashMessages`]) in the same request reads nothing more. It derefs to
/// [`session_core::Session`], so every store, flash and lifecycle method is there. It is
/// `Send + Sync` and cheap to clone; holding it across `.await` is fine.
///
/// ```
/// use session_axum::{Session, SessionRejection};
///
/// async fn login(session: Session) -> Result<&'static str, SessionRejection> {
///     session.regenerate()?; // new id at login: fixation defence
///     session.put("user_id", 42)?;
///     session.flash("message", "Welcome back")?;
///     Ok("logged in")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Session(pub session_core::Session);

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The request's session initiated readonly, for websockets, server-sent events and long
/// polling: values and flash messages are visible, flash messages are not consumed, and the
/// response gets no cookie. It dereferences to a [`SessionReader`](session_core::SessionReader),
/// which has the reads of the session and no method that writes, so a write does not compile:
///
/// ```compile_fail,E0599
/// use session_axum::ReadonlySession;
///
/// async fn events(session: ReadonlySession) {
///     session.put("seen", true); // no such method on a read-only session
/// }
/// ```
///
/// ```
/// use session_axum::{ReadonlySession, SessionRejection};
///
/// async fn events(session: ReadonlySession) -> Result<String, SessionRejection> {
///     Ok(format!("user {:?}", session.get::<u64>("user_id")?))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ReadonlySession(session_core::SessionReader);

impl Deref for ReadonlySession {
    type Target = session_core::SessionReader;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The flash messages set by the previous request (the session is initiated, and so the
/// messages are consumed, unless it was already initiated readonly).
///
/// ```
/// use session_axum::FlashMessages;
///
/// async fn show(flash: FlashMessages) -> String {
///     flash.get::<String>("message").ok().flatten().unwrap_or_default()
/// }
/// ```
#[derive(Debug, Clone)]
pub struct FlashMessages(pub session_core::FlashMessages);

impl Deref for FlashMessages {
    type Target = session_core::FlashMessages;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// Why a session could not be extracted or used; answers with the status of
/// [`ErrorAnswer`] (503 when the storage is down).
///
/// ```
/// use session_axum::SessionRejection;
/// use axum::response::IntoResponse;
///
/// let r = SessionRejection::from(session_core::Error::NotInitiated);
/// assert_eq!(r.into_response().status(), 500);
/// ```
#[derive(Debug)]
pub struct SessionRejection(pub Error);

impl From<Error> for SessionRejection {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        if self.0.kind() != session_core::ErrorKind::Data {
            tracing::error!(target: "session", error = %self.0, "session error");
        }
        let answer = ErrorAnswer::for_error(&self.0);
        let status =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, answer.body).into_response()
    }
}

fn session_of(parts: &Parts) -> Result<session_core::Session, SessionRejection> {
    parts
        .extensions
        .get::<session_core::Session>()
        .cloned()
        .ok_or(SessionRejection(Error::MissingLayer {
            layer: "session_axum::SessionLayer",
        }))
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        session.initiate(session_core::Access::ReadWrite).await?;
        Ok(Self(session))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReadonlySession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        session.initiate(session_core::Access::ReadOnly).await?;
        Ok(Self(session_core::SessionReader::new(session)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FlashMessages {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let session = session_of(parts)?;
        session.initiate(session_core::Access::ReadWrite).await?;
        Ok(Self(session.flash_messages()?))
    }
}
