//! The file driver for session-core (in progress).
#![forbid(unsafe_code)]
