//! The redis driver for session-core (in progress).
#![forbid(unsafe_code)]
