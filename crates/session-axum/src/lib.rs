//! axum integration for `session-core`: one [`SessionLayer`], and the session types as
//! extractors: [`Session`] (read and write), [`SessionReader`] (read only) and
//! [`FlashMessages`] (the previous request's messages).
//!
//! ```
//! use axum::{routing::get, Router};
//! use session_axum::{Session, SessionLayer};
//! use session_core::{SessionConfig, SessionManager};
//!
//! async fn cart(session: Session) -> Result<String, session_axum::Error> {
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
//! let app: Router = Router::new()
//!     .route("/", get(cart))
//!     .layer(SessionLayer::new(manager));
//! # Ok(()) }
//! ```
//!
//! # How a request goes
//!
//! 1. The layer reads the `Cookie` headers into a per-request
//!    [`RequestSession`](session_core::RequestSession) and puts it in the request extensions.
//!    Nothing is read from the driver yet.
//! 2. The first extractor that asks for the session opens it (one driver read); extracting it
//!    again in the same request reads nothing more. A handler that never extracts it costs no
//!    read.
//! 3. After the handler, the layer commits (write, refresh or destroy, per the commit table of
//!    `session-core`) and appends the `Set-Cookie` headers. A failed commit replaces the response
//!    with an error answer (503 when the storage is down) so the client is never told that a
//!    write succeeded when it did not.
//!
//! # Errors
//!
//! Store methods return [`Error`], which is also the extractors' rejection and implements
//! `IntoResponse`: a handler returns `Result<_, Error>` and uses `?`. It answers with the status of
//! [`session_core::adapter::ErrorAnswer`] (422 for data errors such as incrementing a string, 503
//! for storage failures, 500 naming the layer when a route is not wrapped in it). The commit's
//! error answer can be replaced with [`SessionLayer::with_error_handler`], for a JSON body for
//! example.
//!
//! # The read-only session
//!
//! [`SessionReader`] is for websockets, server-sent events and long polling: values and flash
//! messages are visible, flash messages are not consumed, the response gets no cookie, and a
//! write does not compile:
//!
//! ```compile_fail,E0599
//! use session_axum::SessionReader;
//!
//! async fn events(session: SessionReader) {
//!     session.put("seen", true); // no such method on a read-only session
//! }
//! ```
//!
//! ```
//! use session_axum::{Error, SessionReader};
//!
//! async fn events(session: SessionReader) -> Result<String, Error> {
//!     Ok(format!("user {:?}", session.get::<u64>("user_id")?))
//! }
//! ```
//!
//! # Supported versions
//!
//! axum 0.8, tower 0.5; the minimum supported Rust version is 1.89.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod layer;

pub use crate::layer::{ErrorHandler, SessionLayer, SessionService};
/// The session types, which are the extractors (re-exported from `session-core`).
pub use session_core::{Error, FlashMessages, Session, SessionReader};
