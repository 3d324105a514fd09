//! `record_decode_*`: the decoders of stored records, one target per layout.
//!
//! - `record_decode_json`: `Record::decode`, the JSON envelope the memory and file drivers store
//!   (the file driver reads a file's bytes and hands them to it as they are).
//! - `record_decode_redis`: the Redis driver's stored value, a header of fixed-width numbers
//!   followed by the JSON envelope, read as the driver reads it.
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
    let Some(([version, active, expires], rest)) = redis::split(data) else {
        assert!(
            data.len() < 66 || !data.starts_with(b"s2:") || !header_is_canonical(data),
            "a header of the documented shape is read"
        );
        return;
    };
    assert_eq!(data.len() - rest.len(), 66, "the header is 66 bytes");
    for (i, n) in [version, active, expires].into_iter().enumerate() {
        let at = 3 + i * 21;
        assert_eq!(
            &data[at..at + 20],
            format!("{n:020}").as_bytes(),
            "the header's numbers are 20 zero-padded digits"
        );
    }
    // As the driver reads it: the record after the header, whose version must agree, with the
    // header's times (a refresh rewrites only the header).
    let read = |stored: &[u8]| {
        let ([version, active, expires], rest) = redis::split(stored)?;
        let mut record = Record::decode(rest)?;
        if record.version != version {
            return None;
        }
        (record.last_active, record.expires_at) = (active, expires);
        Some(record)
    };
    let Some(record) = read(data) else {
        return;
    };
    round_trip(&record, redis::value, |stored| {
        let record = read(stored)?;
        let ([v, a, e], _) = redis::split(stored)?;
        assert_eq!(
            [v, a, e],
            [record.version, record.last_active, record.expires_at],
            "the header written repeats the record's numbers"
        );
        Some(record)
    });
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

/// Whether `data` starts with a header of the documented shape: `s2:` then three numbers of 20
/// digits that fit in a `u64`, each followed by `:`.
fn header_is_canonical(data: &[u8]) -> bool {
    (0..3).all(|i| {
        let at = 3 + i * 21;
        data.get(at..at + 20)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
            .is_some()
            && data.get(at + 20) == Some(&b':')
    })
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
