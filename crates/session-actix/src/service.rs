//! The middleware's service: one lazy session per request, the commit after the handler.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, CACHE_CONTROL, COOKIE, SET_COOKIE};
use actix_web::HttpMessage;
use session_core::{adapter, SessionManager};

use crate::transform::ErrorHandler;

/// The service made by [`SessionMiddleware`](crate::SessionMiddleware).
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
    on_error: ErrorHandler,
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, manager: SessionManager, on_error: ErrorHandler) -> Self {
        Self {
            inner,
            manager,
            on_error,
        }
    }
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
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
        if !self.manager.config().enabled() {
            let fut = self.inner.call(req);
            return Box::pin(async move { Ok(fut.await?.map_into_left_body()) });
        }
        let session = self
            .manager
            .start_request_bytes(req.headers().get_all(COOKIE).map(HeaderValue::as_bytes));
        req.extensions_mut().insert(session.clone());
        let fut = self.inner.call(req);
        let on_error = self.on_error.clone();
        Box::pin(async move {
            // The handler has returned its response, but a streaming body has not been polled
            // yet: the commit happens here, before the first byte is sent, so the headers can
            // still carry the cookie or be replaced by an error answer. Session changes made
            // while the body streams are not saved.
            let mut response = fut.await?;
            match adapter::finish(&session).await {
                Ok(cookies) => {
                    let headers = response.headers_mut();
                    let mut sent = false;
                    for cookie in cookies {
                        if let Ok(value) = HeaderValue::try_from(cookie) {
                            headers.append(SET_COOKIE, value);
                            sent = true;
                        }
                    }
                    // A response that sets a session cookie must not be stored by shared caches.
                    if sent && !headers.contains_key(CACHE_CONTROL) {
                        headers
                            .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
                    }
                    Ok(response.map_into_left_body())
                }
                Err(error) => {
                    let (request, _) = response.into_parts();
                    Ok(ServiceResponse::new(request, on_error(&error)).map_into_right_body())
                }
            }
        })
    }
}
