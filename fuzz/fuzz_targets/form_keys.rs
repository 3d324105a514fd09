//! The `form_keys` target: see `session_fuzz::form_keys`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| session_fuzz::form_keys::run(data));
