//! axum extractors for the session types (feature `axum`, enabled by `session-axum`).
//!
//! They live here rather than in the adapter so that axum and actix-web handlers use the same
//! [`Session`], [`SessionReader`], [`FlashMessages`] and [`Error`] types (the trait and the type
//! must share a crate). `session_axum::SessionLayer` puts a [`RequestSession`] in the request's
//! extensions; the extractors open it.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::adapter::ErrorAnswer;
use crate::{Error, FlashMessages, RequestSession, Session, SessionReader};

const LAYER: &str = "session_axum::SessionLayer";

fn request_of(parts: &Parts) -> Result<&RequestSession, Error> {
    parts
        .extensions
        .get::<RequestSession>()
        .ok_or(Error::MissingLayer { layer: LAYER })
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        request_of(parts)?.session().await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionReader {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        request_of(parts)?.reader().await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FlashMessages {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(request_of(parts)?.session().await?.flash_messages())
    }
}

/// The answer of [`ErrorAnswer::for_error`]; an error that is not the client's (a driver
/// failure, a misuse) is logged.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        crate::adapter::log_error(&self);
        let answer = ErrorAnswer::for_error(&self);
        let status =
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, answer.body).into_response()
    }
}
