//! The tower layer and service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, StatusCode};
use session_core::adapter::{self, ErrorAnswer};
use session_core::{Error, SessionManager};
use tower_layer::Layer;
use tower_service::Service;

/// Builds the response for a failed commit.
///
/// ```
/// use std::sync::Arc;
/// use axum::{http::StatusCode, response::IntoResponse};
/// use session_axum::ErrorHandler;
/// use session_core::Error;
///
/// let handler: ErrorHandler = Arc::new(|err: &Error| {
///     (StatusCode::SERVICE_UNAVAILABLE, format!("try again later ({:?})", err.kind())).into_response()
/// });
/// let response = handler(&Error::Conflict { attempts: 64 });
/// assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
/// ```
pub type ErrorHandler = Arc<dyn Fn(&Error) -> Response + Send + Sync>;

/// The session layer: wrap a router with it and every request gets a lazy session.
///
/// ```
/// use axum::{Json, Router, http::StatusCode, response::IntoResponse};
/// use session_axum::SessionLayer;
/// use session_core::{adapter::ErrorAnswer, SessionConfig, SessionManager};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// ).build()?;
/// // Answer commit failures with JSON instead of plain text.
/// let layer = SessionLayer::new(manager).with_error_handler(|err| {
///     let answer = ErrorAnswer::for_error(err);
///     let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
///     (status, Json(serde_json::json!({ "error": answer.body }))).into_response()
/// });
/// let app: Router = Router::new().layer(layer);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SessionLayer {
    manager: SessionManager,
    on_error: ErrorHandler,
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer for the sessions of `manager`, answering commit failures with
    /// [`ErrorAnswer`] as plain text.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use axum::{body::Body, http::Request, routing::get, Router};
    /// use session_axum::{Error, Session, SessionLayer};
    /// use session_core::{SessionConfig, SessionManager};
    /// use tower_service::Service;
    ///
    /// async fn visits(session: Session) -> Result<String, Error> {
    ///     Ok(session.increment("visits")?.to_string())
    /// }
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let mut app: Router = Router::new().route("/", get(visits)).layer(SessionLayer::new(manager));
    /// let response = app.call(Request::get("/").body(Body::empty())?).await?;
    /// assert_eq!(response.status(), 200);
    /// assert!(response.headers()["set-cookie"].to_str()?.starts_with("id="));
    /// assert_eq!(response.headers()["cache-control"], "private, no-store");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn new(manager: SessionManager) -> Self {
        Self {
            manager,
            on_error: Arc::new(default_error_response),
        }
    }

    /// Replaces the response given when the commit fails (the storage is down, the cookie would
    /// be too large, …).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use async_trait::async_trait;
    /// # use session_core::{DriverError, Record, SessionStore, StorageKey, WriteOutcome};
    /// # #[derive(Debug)]
    /// # struct Down;
    /// # #[async_trait]
    /// # impl SessionStore for Down {
    /// #     async fn read(&self, _: &StorageKey) -> Result<Option<Record>, DriverError> { Ok(None) }
    /// #     async fn write(&self, _: &StorageKey, _: &Record, _: Option<u64>) -> Result<WriteOutcome, DriverError> {
    /// #         Err(DriverError::unavailable("down", "connection refused"))
    /// #     }
    /// #     async fn destroy(&self, _: &StorageKey, _: u64) -> Result<WriteOutcome, DriverError> { Ok(WriteOutcome::Gone) }
    /// #     async fn refresh(&self, _: &StorageKey, _: u64, _: u64) -> Result<(), DriverError> { Ok(()) }
    /// # }
    /// use axum::{body::Body, http::{Request, StatusCode}, response::IntoResponse, routing::post, Json, Router};
    /// use session_axum::{Error, Session, SessionLayer};
    /// use session_core::{SessionConfig, SessionManager};
    /// use tower_service::Service;
    ///
    /// // `Down` is a driver whose writes fail, as when the storage is unreachable.
    /// let manager = SessionManager::builder(SessionConfig::new().with_key("a secret of at least thirty-two bytes!!"))
    ///     .driver(Down)
    ///     .build()?;
    /// let layer = SessionLayer::new(manager).with_error_handler(|err| {
    ///     (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": err.to_string() }))).into_response()
    /// });
    /// let mut app: Router = Router::new()
    ///     .route("/cart", post(|s: Session| async move { s.put("cart_total", 10) }))
    ///     .layer(layer);
    ///
    /// let response = app.call(Request::post("/cart").body(Body::empty())?).await?;
    /// assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert!(response.headers().get("set-cookie").is_none()); // nothing was stored
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_error_handler(
        mut self,
        handler: impl Fn(&Error) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(handler);
        self
    }

    /// The manager.
    ///
    /// ```
    /// use session_axum::SessionLayer;
    /// use session_core::{SessionConfig, SessionManager};
    ///
    /// let manager = SessionManager::builder(
    ///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
    /// )
    /// .build()?;
    /// let layer = SessionLayer::new(manager);
    /// assert_eq!(layer.manager().config().cookie_name(), "id");
    /// # Ok::<(), session_core::ConfigError>(())
    /// ```
    pub fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

pub(crate) fn default_error_response(error: &Error) -> Response {
    let answer = ErrorAnswer::for_error(error);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, answer.body).into_response()
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`SessionLayer`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use axum::{body::Body, http::Request, routing::get, Router};
/// use session_axum::{Error, Session, SessionLayer, SessionService};
/// use session_core::{SessionConfig, SessionManager};
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// let manager = SessionManager::builder(
///     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
/// )
/// .build()?;
/// let router: Router = Router::new().route(
///     "/",
///     get(|s: Session| async move { s.get_or("visits", 0).map(|n: u32| n.to_string()) }),
/// );
/// let mut service: SessionService<Router> = SessionLayer::new(manager).layer(router);
/// let response = service.call(Request::get("/").body(Body::empty())?).await?;
/// let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
/// assert_eq!(&body[..], b"0");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    layer: SessionLayer,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for SessionService<S>
where
    S: Service<Request<B>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        if !self.layer.manager.config().enabled() {
            return Box::pin(self.inner.call(req));
        }
        let session = self.layer.manager.start_request_bytes(
            req.headers()
                .get_all(COOKIE)
                .iter()
                .map(HeaderValue::as_bytes),
        );
        req.extensions_mut().insert(session.clone());
        // The inner service is called now, while it is the one that was polled ready: its
        // future runs the handler when polled, after the session is in the request. No clone
        // of the inner service is needed for that (axum clones a route's services for every
        // request already).
        let response = self.inner.call(req);
        let on_error = self.layer.on_error.clone();
        Box::pin(async move {
            let mut response = response.await?;
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
                }
                Err(error) => response = on_error(&error),
            }
            Ok(response)
        })
    }
}
