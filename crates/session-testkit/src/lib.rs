//! Conformance suites for session drivers, run against every bundled driver and meant for
//! third-party ones too.
//!
//! - [`Conformance`]: the driver suite, through the public [`session_core`] API.
//! - [`Browser`]: a cookie-keeping client that runs "requests" through a
//!   [`SessionManager`](session_core::SessionManager) without HTTP.
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

mod browser;
mod conformance;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod pages;
pub mod readback;
pub mod redis_server;

pub use crate::browser::Browser;
pub use crate::conformance::{
    Conformance, MakeManager, Mode, Report, ATOMIC_CASES, CASES, SERVER_CASES,
};
