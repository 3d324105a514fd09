//! The middleware factory: [`SessionMiddleware`], what `App::wrap` takes.

use std::fmt;
use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use session_core::{Error, SessionManager};

use crate::service::SessionService;

/// Builds the response for a failed commit.
pub type ErrorHandler = Arc<dyn Fn(&Error) -> HttpResponse + Send + Sync>;

/// The session middleware: wrap an `App` (or a scope) with it and every request gets a lazy
/// session.
///
/// After the handler it commits the session (write, touch or destroy, per the commit table of
/// `session-core`) and appends the `Set-Cookie` headers, with `Cache-Control: private, no-store`
/// when a cookie is set and the response has no cache policy of its own. A failed commit replaces
/// the response with the error handler's answer (by default [`ErrorAnswer`](session_core::adapter::ErrorAnswer)
/// as plain text: 503 when the storage is down, 413 when the cookie would be too large), so the
/// client is never told that a write succeeded when it did not.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use session_actix::SessionMiddleware;
/// use session_core::{adapter::ErrorAnswer, SessionConfig, SessionManager};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
/// // Answer commit failures with JSON instead of plain text.
/// let middleware = SessionMiddleware::new(manager).with_error_handler(|err| {
///     let answer = ErrorAnswer::for_error(err);
///     HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap())
///         .json(serde_json::json!({ "error": answer.body }))
/// });
/// let app = App::new()
///     .route("/", web::get().to(|| async { "hello" }))
///     .wrap(middleware);
/// # let _ = app;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: SessionManager,
    on_error: ErrorHandler,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionMiddleware {
    /// A middleware for the sessions of `manager`, answering commit failures with
    /// [`ErrorAnswer`](session_core::adapter::ErrorAnswer) as plain text.
    pub fn new(manager: SessionManager) -> Self {
        Self {
            manager,
            on_error: Arc::new(default_error_response),
        }
    }

    /// Replaces the response given when the commit fails (the storage is down, the cookie would
    /// be too large, …). The error has already been logged.
    #[must_use]
    pub fn with_error_handler(
        mut self,
        handler: impl Fn(&Error) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(handler);
        self
    }

    /// The manager.
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService::new(
            service,
            self.manager.clone(),
            self.on_error.clone(),
        )))
    }
}

/// The commit's default answer: [`ErrorAnswer`](session_core::adapter::ErrorAnswer) as plain
/// text. The commit already logged the error.
fn default_error_response(error: &Error) -> HttpResponse {
    let answer = session_core::adapter::ErrorAnswer::for_error(error);
    HttpResponse::build(
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .content_type("text/plain; charset=utf-8")
    .body(answer.body)
}
