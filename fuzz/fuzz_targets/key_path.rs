//! The `key_path` target: see `session_fuzz::key_path`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::key_path::run(data));
