//! The `sealed_cookie` target: see `session_fuzz::sealed_cookie`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::sealed_cookie::run(data));
