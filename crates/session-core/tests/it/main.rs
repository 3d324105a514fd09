//! Integration tests of session-core through its public API.

mod adonis;
mod commit_table;
mod common;
mod conformance;
mod flash;
mod limits;
mod model;
mod readback;
mod tags;
