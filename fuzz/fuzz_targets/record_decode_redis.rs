//! The `record_decode_redis` target: see `session_fuzz::records::redis`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::records::redis(data));
