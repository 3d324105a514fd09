//! The `record_decode_json` target: see `session_fuzz::records::json`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::records::json(data));
