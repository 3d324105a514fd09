//! Conformance suites for session drivers, run against every bundled driver and meant for
//! third-party ones too.
//!
//! - [`Conformance`]: the driver suite, through the public [`session_core`] API.
//! - [`Browser`]: a cookie-keeping client that runs "requests" through a
//!   [`SessionManager`](session_core::SessionManager) without HTTP.
//! - [`proxy::TcpProxy`]: a TCP forwarder a test can cut, to take a backend "down".
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use session_core::SessionManager;
//! use session_testkit::Conformance;
//!
//! let report = Conformance::new("memory", Arc::new(|config, clock| {
//!     SessionManager::builder(config.with_driver("memory"))
//!         .with_clock(Arc::new(clock))
//!         .build()
//!         .unwrap()
//! }))
//! .run(session_testkit::Mode::Atomic)
//! .await;
//! println!("{report}");
//! # });
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod browser;
mod conformance;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod pages;
pub mod proxy;
pub mod readback;
pub mod redis_server;

pub use crate::browser::Browser;
pub use crate::conformance::{
    Conformance, MakeManager, Mode, Report, ATOMIC_CASES, CASES, SERVER_CASES, TAG_CASES,
};

/// The `Cookie` header a browser sends after a response that applied `changes` (what a
/// [`ClientStore`](session_core::ClientStore) answered): the cookies set, removals left out.
/// For testing client-side stores.
///
/// ```
/// use session_core::CookieChange;
///
/// let changes = [
///     CookieChange::Set { name: "id.d".into(), value: "2.abc".into() },
///     CookieChange::Set { name: "id.d.1".into(), value: "def".into() },
///     CookieChange::Remove { name: "id.d.2".into() },
/// ];
/// assert_eq!(session_testkit::cookie_header(&changes), "id.d=2.abc; id.d.1=def");
/// ```
pub fn cookie_header(changes: &[session_core::CookieChange]) -> String {
    changes
        .iter()
        .filter_map(|c| match c {
            session_core::CookieChange::Set { name, value } => Some(format!("{name}={value}")),
            session_core::CookieChange::Remove { .. } => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}
