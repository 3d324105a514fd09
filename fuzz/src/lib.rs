//! Coverage-guided fuzz targets for every function that sees client bytes, run with libFuzzer by
//! `cargo xtask fuzz` (see `docs/fuzzing.md`).
//!
//! Each target's logic is a module here; the binaries in `fuzz_targets/` only hand libFuzzer's
//! input to it. [`fixture`] holds what the targets share (keys, the known session, the managers)
//! and [`seeds`] writes the seed corpus.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

#[cfg(not(fuzzing))]
compile_error!("the fuzz targets need `--cfg fuzzing`: build and run them with `cargo xtask fuzz`");

pub mod cookie_header;
pub mod fixture;
pub mod form_keys;
pub mod key_path;
pub mod records;
pub mod sealed_cookie;
pub mod seeds;
