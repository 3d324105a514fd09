//! Reaching the session from a request, a guard or a response.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::guard::GuardContext;
use actix_web::{HttpMessage, HttpRequest};
use session_core::{RequestSession, Session, SessionReader};

/// The request's session from anything that carries the request: [`HttpRequest`],
/// [`ServiceRequest`] (a middleware before the handler), [`ServiceResponse`] (a middleware after
/// the handler, before the commit) and [`GuardContext`] (a guard).
///
/// Code that cannot await (a guard) sees only a session that is already open: one that an
/// extractor opened, or that [`InitiateSession`](crate::InitiateSession) opened for the scope.
/// Code that can await opens it through [`request_session`](Self::request_session). Each method
/// is `None` when [`SessionMiddleware`](crate::SessionMiddleware) is not installed.
///
/// ```
/// use actix_web::guard::GuardContext;
/// use session_actix::SessionExt;
///
/// // Matches when the session holds a user (the scope is wrapped in `InitiateSession`).
/// fn signed_in(ctx: &GuardContext<'_>) -> bool {
///     ctx.session_reader().is_some_and(|s| s.has("user"))
/// }
/// ```
pub trait SessionExt {
    /// The request's session handle, opened or not: [`RequestSession::session`] and
    /// [`RequestSession::reader`] open it (one driver read per request).
    fn request_session(&self) -> Option<RequestSession>;

    /// The session, if the request opened it for reading and writing.
    fn session(&self) -> Option<Session> {
        self.request_session()?.opened()
    }

    /// The session as a reader, if the request opened it (in either mode).
    fn session_reader(&self) -> Option<SessionReader> {
        self.request_session()?.opened_reader()
    }
}

impl SessionExt for HttpRequest {
    fn request_session(&self) -> Option<RequestSession> {
        self.extensions().get::<RequestSession>().cloned()
    }
}

impl SessionExt for ServiceRequest {
    fn request_session(&self) -> Option<RequestSession> {
        self.extensions().get::<RequestSession>().cloned()
    }
}

impl<B> SessionExt for ServiceResponse<B> {
    fn request_session(&self) -> Option<RequestSession> {
        self.request().request_session()
    }
}

impl SessionExt for GuardContext<'_> {
    fn request_session(&self) -> Option<RequestSession> {
        self.req_data().get::<RequestSession>().cloned()
    }
}
