//! `record_decode_*`: the decoders of stored records, one target per layout.
//!
//! - `record_decode_json`: `Record::decode`, the JSON envelope the memory and file drivers store
//!   (the file driver reads a file's bytes and hands them to it as they are).
//! - `record_decode_redis`: the Redis driver's stored value, a header of four fixed-width hex
//!   numbers followed by the values as JSON, read as the driver reads it.
//! - `record_decode_cookie`: the plaintext sealed in the cookie driver's data cookies, a binary
//!   frame followed by the values as JSON (anything else, the JSON envelope included, is no
//!   record).
//!
//! Checked: nothing panics; a record that decodes encodes to bytes that decode to the same
//! record, and encoding that record again gives the same bytes.

use session_cookie::fuzzing as cookie;
use session_core::Record;
use session_redis::fuzzing as redis;

/// `record_decode_json`: runs one input.
pub fn json(data: &[u8]) {
    let Some(record) = Record::decode(data) else {
        return;
    };
    round_trip(&record, Record::encode, Record::decode);
}

/// `record_decode_redis`: runs one input.
pub fn redis(data: &[u8]) {
    let Some(record) = redis::read(data) else {
        return;
    };
    assert!(data.starts_with(b"s3"), "only the s3 layout is read");
    let header = [
        record.version,
        record.last_active,
        record.expires_at,
        record.created_at,
    ]
    .iter()
    .map(|n| format!("{n:012x}"))
    .collect::<String>();
    assert_eq!(
        &data[2..50],
        header.as_bytes(),
        "the header holds each number once, in 12 lowercase hex digits"
    );
    round_trip(&record, redis::value, redis::read);
}

/// `record_decode_cookie`: runs one input.
pub fn cookie(data: &[u8]) {
    let decoded = cookie::decode_plaintext(data);
    if data.first() != Some(&1) {
        assert_eq!(decoded, None, "only the binary frame opens");
    }
    if data.first() == Some(&1) {
        if let Some(record) = &decoded {
            let word = |i: usize| {
                let bytes: [u8; 8] = data[1 + 8 * i..9 + 8 * i].try_into().unwrap_or_default();
                u64::from_le_bytes(bytes)
            };
            assert_eq!(
                [
                    record.version,
                    record.created_at,
                    record.last_active,
                    record.expires_at
                ],
                [word(0), word(1), word(2), word(3)],
                "the frame's numbers, little-endian"
            );
        }
    }
    let Some(record) = decoded else {
        return;
    };
    round_trip(&record, cookie::encode_plaintext, cookie::decode_plaintext);
}

/// A decoded record encodes to bytes that decode to it again, and encoding is stable.
fn round_trip(
    record: &Record,
    encode: impl Fn(&Record) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<Record>,
) {
    let bytes = encode(record);
    let again = decode(&bytes)
        .unwrap_or_else(|| panic!("the encoding of a decoded record does not decode: {record:?}"));
    assert_eq!(
        &again, record,
        "the record changed on its way through its encoding"
    );
    assert_eq!(encode(&again), bytes, "encoding is not stable");
}
