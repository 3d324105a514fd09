//! Integration tests of session-core through its public API.

mod conformance;
