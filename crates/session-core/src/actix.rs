//! actix-web extractors for the session types (feature `actix`, enabled by `session-actix`).
//!
//! They live here rather than in the adapter so that axum and actix-web handlers use the same
//! [`Session`], [`SessionReader`], [`FlashMessages`] and [`Error`] types (the trait and the type
//! must share a crate). `session_actix::SessionMiddleware` puts a [`RequestSession`] in the
//! request's extensions; the extractors open it.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::adapter::ErrorAnswer;
use crate::{Error, FlashMessages, RequestSession, Session, SessionReader};

const MIDDLEWARE: &str = "session_actix::SessionMiddleware";

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, Error>>>>;

fn request_of(req: &HttpRequest) -> Result<RequestSession, Error> {
    req.extensions()
        .get::<RequestSession>()
        .cloned()
        .ok_or(Error::MissingLayer { layer: MIDDLEWARE })
}

impl FromRequest for Session {
    type Error = Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request_of(req);
        Box::pin(async move { request?.session().await })
    }
}

impl FromRequest for SessionReader {
    type Error = Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request_of(req);
        Box::pin(async move { request?.reader().await })
    }
}

impl FromRequest for FlashMessages {
    type Error = Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request_of(req);
        Box::pin(async move { Ok(request?.session().await?.flash_messages()) })
    }
}

/// The answer of [`ErrorAnswer::for_error`], as plain text; an error that is not the client's
/// (a driver failure, a misuse) is logged.
impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(ErrorAnswer::for_error(self).status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        crate::adapter::log_error(self);
        let answer = ErrorAnswer::for_error(self);
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(answer.body)
    }
}
