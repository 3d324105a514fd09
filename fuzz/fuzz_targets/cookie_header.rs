//! The `cookie_header` target: see `session_fuzz::cookie_header`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::cookie_header::run(data));
