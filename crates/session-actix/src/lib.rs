//! actix-web integration for `session-core`: one [`SessionMiddleware`], and the session types as
//! extractors: [`Session`] (read and write), [`SessionReader`] (read only) and
//! [`FlashMessages`] (the previous request's messages).
//!
//! ```
//! use actix_web::{web, App};
//! use session_actix::{Error, Session, SessionMiddleware};
//! use session_core::{SessionConfig, SessionManager};
//!
//! async fn cart(session: Session) -> Result<String, Error> {
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
//! 1. The middleware reads the `Cookie` headers into a per-request
//!    [`RequestSession`](session_core::RequestSession) and puts it in the request extensions.
//!    Nothing is read from the driver yet.
//! 2. The first extractor that asks for the session opens it (one driver read); extracting it
//!    again in the same request reads nothing more. A handler that never extracts it costs no
//!    read.
//! 3. When the handler has returned its response, the middleware commits (write, refresh or
//!    destroy, per the commit table of `session-core`) and appends the `Set-Cookie` headers. A
//!    failed commit replaces the response with an error answer (503 when the storage is down) so
//!    the client is never told that a write succeeded when it did not.
//!
//! Streaming responses work: the commit happens when the handler returns the response, before
//! the body is polled, so the cookie is in the headers. A change made to the session while the
//! body streams would not be saved, so it is refused with `Error::Committed`; make it in the
//! handler.
//!
//! # Guards, middleware and responses
//!
//! [`SessionExt`] reaches the session from an [`HttpRequest`](actix_web::HttpRequest),
//! a [`ServiceRequest`](actix_web::dev::ServiceRequest), a
//! [`ServiceResponse`](actix_web::dev::ServiceResponse) and a
//! [`GuardContext`](actix_web::guard::GuardContext).
//! Guards are synchronous and cannot read the driver, so wrap the scope whose guards look at the
//! session in [`InitiateSession`]. A middleware inside [`SessionMiddleware`] sees, in the
//! `ServiceResponse`, the session as the handler left it, before the commit.
//!
//! # Errors
//!
//! Store methods return [`Error`], which is also the extractors' error and an actix-web
//! [`ResponseError`](actix_web::ResponseError): a handler returns `Result<_, Error>` and uses
//! `?`. It answers with the status of [`session_core::adapter::ErrorAnswer`] (422 for data errors
//! such as incrementing a string, 503 for storage failures, 500 naming the middleware when a
//! route is not wrapped in it). The commit's error answer can be replaced with
//! [`SessionMiddleware::with_error_handler`], for a JSON body for example.
//!
//! # The read-only session
//!
//! [`SessionReader`] is for websockets, server-sent events and long polling: values and flash
//! messages are visible, flash messages are not consumed, the response gets no cookie, and a
//! write does not compile:
//!
//! ```compile_fail,E0599
//! use session_actix::SessionReader;
//!
//! async fn events(session: SessionReader) {
//!     session.put("seen", true); // no such method on a read-only session
//! }
//! ```
//!
//! ```
//! use session_actix::{Error, SessionReader};
//!
//! async fn events(session: SessionReader) -> Result<String, Error> {
//!     Ok(format!("user {:?}", session.get::<u64>("user_id")?))
//! }
//! ```
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
#![cfg_attr(docsrs, feature(doc_cfg))]

mod extract;
mod initiate;
mod service;
mod transform;

pub use crate::extract::SessionExt;
pub use crate::initiate::{InitiateService, InitiateSession};
pub use crate::service::SessionService;
pub use crate::transform::{ErrorHandler, SessionMiddleware};
/// The session types, which are the extractors (re-exported from `session-core`).
pub use session_core::{Error, FlashMessages, Session, SessionReader};
