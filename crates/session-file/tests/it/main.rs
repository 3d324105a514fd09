//! Integration tests of the file driver, on real files in temporary folders.

mod conformance;
