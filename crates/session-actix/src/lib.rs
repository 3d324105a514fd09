//! actix-web integration for `session-core`: one [`SessionMiddleware`] and extractors for the
//! session, a readonly session and the previous request's flash messages.
//!
//! ```
//! use actix_web::{web, App};
//! use session_actix::{Session, SessionError, SessionMiddleware};
//! use session_core::{SessionConfig, SessionManager};
//!
//! async fn cart(session: Session) -> Result<String, SessionError> {
//!     let total: i64 = session.get_or("cart_total", 0)?;
//!     session.put("cart_total", total + 10)?;
//!     Ok(format!("cart total: {}", total + 10))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = SessionManager::builder(
//!     SessionConfig::new().with_driver("memory").with_key("a secret of at least thirty-two bytes!!"),
//! )
//! .build()?;
//! // In `HttpServer::new(move || …)`, build the app from a clone of the manager.
//! let app = App::new()
//!     .route("/", web::get().to(cart))
//!     .wrap(SessionMiddleware::new(manager.clone()));
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! # How a request goes
//!
//! 1. The middleware reads the `Cookie` headers into a per-request [`session_core::Session`] and
//!    puts it in the request extensions. Nothing is read from the driver yet.
//! 2. The first extractor that asks for the session initiates it (one driver read); extracting
//!    it again in the same request reads nothing more. A handler that never extracts it costs no
//!    read.
//! 3. When the handler has returned its response, the middleware commits (write, refresh or
//!    destroy, per the commit table of `session-core`) and appends the `Set-Cookie` headers. A
//!    failed commit replaces the response with an error answer (503 when the storage is down) so
//!    the client is never told that a write succeeded when it did not.
//!
//! Streaming responses work: the commit happens when the handler returns the response, before
//! the body is polled, so the cookie is in the headers. Changes made to the session while the
//! body streams are not saved; make them in the handler.
//!
//! # Guards, middleware and responses
//!
//! [`SessionExt::session`] reaches the session from an [`HttpRequest`](actix_web::HttpRequest),
//! a [`ServiceRequest`](actix_web::dev::ServiceRequest), a
//! [`ServiceResponse`](actix_web::dev::ServiceResponse) and a
//! [`GuardContext`](actix_web::guard::GuardContext); [`session_of`] is the same for a request.
//! Guards are synchronous and cannot read the driver, so wrap the scope whose guards look at the
//! session in [`InitiateSession`]. A middleware inside [`SessionMiddleware`] sees, in the
//! `ServiceResponse`, the session as the handler left it, before the commit.
//!
//! # Errors
//!
//! Store methods return [`session_core::Error`]; `?` turns it into a [`SessionError`], an
//! actix-web [`ResponseError`](actix_web::ResponseError) with the status of
//! [`session_core::adapter::ErrorAnswer`] (422 for data errors such as incrementing a string, 503
//! for storage failures). The commit's error answer can be replaced with
//! [`SessionMiddleware::with_error_handler`], for a JSON body for example.
//!
//! # Coming from actix-session
//!
//! The repository's `docs/actix.md` maps actix-session's methods and builder options to these.
//! The main differences: values are JSON addressed by dot paths, the session is read lazily, the
//! handle is `Send + Sync`, flash messages are built in, and concurrent requests of one user lose
//! no update with the memory, file and Redis drivers.
//!
//! # Supported versions
//!
//! actix-web 4; the minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]

mod error;
mod extract;
mod initiate;
mod service;
mod transform;

pub use crate::error::SessionError;
pub use crate::extract::{session_of, FlashMessages, ReadonlySession, Session, SessionExt};
pub use crate::initiate::{InitiateService, InitiateSession};
pub use crate::service::SessionService;
pub use crate::transform::{ErrorHandler, SessionMiddleware};
