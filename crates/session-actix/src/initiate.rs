//! [`InitiateSession`]: initiate the session before routing, for guards.

use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::ResponseError;

use crate::extract::SessionExt;

/// Initiates the session before the wrapped scope routes the request, so that its guards can read
/// the session synchronously through [`SessionExt`].
///
/// Guards in actix-web are synchronous, and a lazy session is read from the driver only when
/// something asks for it; this middleware does the asking for one scope. Install it inside
/// [`SessionMiddleware`](crate::SessionMiddleware) (call `.wrap(InitiateSession::…)` on the scope,
/// or on the app *before* `.wrap(SessionMiddleware::new(…))`, since the last `wrap` is the
/// outermost). Requests outside the scope stay lazy. A driver failure while reading answers with
/// [`Error`](session_core::Error)'s response (503) without running the scope.
///
/// ```
/// use actix_web::{guard, web, App, HttpResponse};
/// use session_actix::{InitiateSession, SessionExt, SessionMiddleware};
/// use session_core::{SessionConfig, SessionManager};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
/// let app = App::new()
///     .service(
///         web::scope("/admin")
///             .wrap(InitiateSession::read_write())
///             .route(
///                 "",
///                 web::get()
///                     .guard(guard::fn_guard(|ctx| {
///                         ctx.session_reader().is_some_and(|s| s.has("user"))
///                     }))
///                     .to(|| async { "the admin page" }),
///             )
///             .default_service(web::to(|| async { HttpResponse::Forbidden().finish() })),
///     )
///     .wrap(SessionMiddleware::new(manager));
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct InitiateSession {
    readonly: bool,
}

impl InitiateSession {
    /// Initiates the session for reading and writing (the previous request's flash messages are
    /// consumed), as the [`Session`](crate::Session) extractor does.
    pub fn read_write() -> Self {
        Self { readonly: false }
    }

    /// Initiates the session readonly, as the [`SessionReader`](crate::SessionReader)
    /// extractor does: handlers in the scope can read but not write, and the response gets no
    /// cookie.
    pub fn readonly() -> Self {
        Self { readonly: true }
    }
}

impl<S, B> Transform<S, ServiceRequest> for InitiateSession
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = InitiateService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(InitiateService {
            inner: std::rc::Rc::new(service),
            readonly: self.readonly,
        }))
    }
}

/// The service made by [`InitiateSession`].
pub struct InitiateService<S> {
    // Shared with the call's future, which calls the inner service after the driver read.
    inner: std::rc::Rc<S>,
    readonly: bool,
}

impl<S> fmt::Debug for InitiateService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitiateService")
            .field("readonly", &self.readonly)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for InitiateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(inner);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let inner = self.inner.clone();
        let readonly = self.readonly;
        Box::pin(async move {
            if let Some(session) = req.request_session() {
                let access = if readonly {
                    session_core::Access::ReadOnly
                } else {
                    session_core::Access::ReadWrite
                };
                if let Err(error) = session.initiate(access).await {
                    let response = error.error_response();
                    return Ok(req.into_response(response).map_into_right_body());
                }
            }
            Ok(inner.call(req).await?.map_into_left_body())
        })
    }
}
