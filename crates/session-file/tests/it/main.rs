//! Integration tests of the file driver, on real files in temporary folders.

mod bad_files;
mod common;
mod conformance;
mod processes;
mod readback;
mod startup;
mod sweeper;
mod tags;
mod traversal;
