//! Integration tests of the cookie driver, through the public session-core API.

mod chunking;
mod common;
mod conformance;
mod fuzz;
mod lifecycle;
mod readback;
mod tags;
mod tamper;
