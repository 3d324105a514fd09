//! The `record_decode_cookie` target: see `session_fuzz::records::cookie`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::records::cookie(data));
