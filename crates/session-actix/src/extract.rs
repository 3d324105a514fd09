//! Extractors, and reaching the session from a request, a guard or a response.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::guard::GuardContext;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use session_core::Error;

use crate::error::SessionError;

/// The request's session, initiated for reading and writing.
///
/// Extracting it reads the session from the driver once per request; extracting it again (or a
/// [`FlashMessages`]) in the same request reads nothing more. It derefs to
/// [`session_core::Session`], so every store, flash and lifecycle method is there. It is
/// `Send + Sync` and cheap to clone; holding it across `.await` and moving it into spawned tasks
/// is fine.
///
/// ```
/// use session_actix::{Session, SessionError};
///
/// async fn login(session: Session) -> Result<&'static str, SessionError> {
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
/// use session_actix::ReadonlySession;
///
/// async fn events(session: ReadonlySession) {
///     session.put("seen", true); // no such method on a read-only session
/// }
/// ```
///
/// ```
/// use session_actix::{ReadonlySession, SessionError};
///
/// async fn events(session: ReadonlySession) -> Result<String, SessionError> {
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
/// use session_actix::FlashMessages;
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

/// The lazy session that [`SessionMiddleware`](crate::SessionMiddleware) put in the request, or
/// `None` when the middleware is not installed (or is disabled).
///
/// Nothing is read from the driver: the session is initiated when an extractor asks for it (or
/// by [`InitiateSession`](crate::InitiateSession)). Until then every store method returns
/// [`Error::NotInitiated`].
///
/// ```
/// use actix_web::HttpRequest;
///
/// fn user_of(req: &HttpRequest) -> Option<String> {
///     let session = session_actix::session_of(req)?;
///     session.get("user").ok().flatten()
/// }
/// ```
pub fn session_of(req: &HttpRequest) -> Option<session_core::Session> {
    req.extensions().get::<session_core::Session>().cloned()
}

/// The request's session from anything that carries the request: [`HttpRequest`],
/// [`ServiceRequest`] (a middleware before the handler), [`ServiceResponse`] (a middleware after
/// the handler, before the commit) and [`GuardContext`] (a guard).
///
/// It is the lazy handle of [`session_of`]: a guard or a middleware that runs before any
/// extractor sees an uninitiated session, unless [`InitiateSession`](crate::InitiateSession)
/// wraps the scope; a middleware that runs after the handler sees what the handler changed.
///
/// ```
/// use actix_web::guard::GuardContext;
/// use session_actix::SessionExt;
///
/// // Matches when the session holds a user (the session is initiated by `InitiateSession`).
/// fn signed_in(ctx: &GuardContext<'_>) -> bool {
///     ctx.session().is_some_and(|s| s.has("user").unwrap_or(false))
/// }
/// ```
pub trait SessionExt {
    /// The request's session, or `None` when the middleware is not installed.
    fn session(&self) -> Option<session_core::Session>;
}

impl SessionExt for HttpRequest {
    fn session(&self) -> Option<session_core::Session> {
        session_of(self)
    }
}

impl SessionExt for ServiceRequest {
    fn session(&self) -> Option<session_core::Session> {
        self.extensions().get::<session_core::Session>().cloned()
    }
}

impl<B> SessionExt for ServiceResponse<B> {
    fn session(&self) -> Option<session_core::Session> {
        session_of(self.request())
    }
}

impl SessionExt for GuardContext<'_> {
    fn session(&self) -> Option<session_core::Session> {
        self.req_data().get::<session_core::Session>().cloned()
    }
}

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, SessionError>>>>;

fn installed(req: &HttpRequest) -> Result<session_core::Session, SessionError> {
    session_of(req).ok_or(SessionError(Error::MissingLayer {
        layer: "session_actix::SessionMiddleware",
    }))
}

impl FromRequest for Session {
    type Error = SessionError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = installed(req);
        Box::pin(async move {
            let session = session?;
            session.initiate(session_core::Access::ReadWrite).await?;
            Ok(Self(session))
        })
    }
}

impl FromRequest for ReadonlySession {
    type Error = SessionError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = installed(req);
        Box::pin(async move {
            let session = session?;
            session.initiate(session_core::Access::ReadOnly).await?;
            Ok(Self(session_core::SessionReader::new(session)))
        })
    }
}

impl FromRequest for FlashMessages {
    type Error = SessionError;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = installed(req);
        Box::pin(async move {
            let session = session?;
            session.initiate(session_core::Access::ReadWrite).await?;
            Ok(Self(session.flash_messages()?))
        })
    }
}
