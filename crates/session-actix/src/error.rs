//! The error type of the extractors and handlers, answered with [`ErrorAnswer`].

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use session_core::adapter::ErrorAnswer;
use session_core::{Error, ErrorKind};

/// A session error as an actix-web error: the extractors fail with it, and `?` turns a
/// [`session_core::Error`] into it inside a handler that returns `Result<_, SessionError>`.
///
/// It answers with the status and plain-text body of [`ErrorAnswer`]: 422 for data errors (such as
/// incrementing a string), 503 when the storage is down, 500 for misuse (the middleware is
/// missing, a readonly session was mutated).
///
/// ```
/// use actix_web::ResponseError;
/// use session_actix::SessionError;
///
/// let error = SessionError::from(session_core::Error::NotInitiated);
/// assert_eq!(error.status_code(), 500);
/// assert_eq!(error.error_response().status(), 500);
/// ```
#[derive(Debug)]
pub struct SessionError(pub Error);

impl From<Error> for SessionError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        status_of(&ErrorAnswer::for_error(&self.0))
    }

    fn error_response(&self) -> HttpResponse {
        // Data errors are the client's (a value of the wrong shape); everything else is worth a
        // line in the server log.
        if self.0.kind() != ErrorKind::Data {
            tracing::error!(target: "session", kind = ?self.0.kind(), error = %self.0, "session error");
        }
        answer(&self.0)
    }
}

/// The default answer for an error: [`ErrorAnswer`] as a plain-text response.
pub(crate) fn answer(error: &Error) -> HttpResponse {
    let answer = ErrorAnswer::for_error(error);
    HttpResponse::build(status_of(&answer))
        .content_type("text/plain; charset=utf-8")
        .body(answer.body)
}

fn status_of(answer: &ErrorAnswer) -> StatusCode {
    StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
