//! The plaintext sealed in the data cookies: the record in a compact binary envelope.
//!
//! Every byte of the plaintext is sent on every request, in base64 (four characters for three
//! bytes), and encrypted, encoded, decoded and decrypted again on each write and read. The
//! record's JSON envelope (`{"format":1,"data":…,"version":…,"created_at":…,"last_active":…,"expires_at":…}`)
//! spends about 100 bytes on its frame; this one spends 33:
//!
//! | bytes | holds |
//! |---|---|
//! | 1 | `1`, this layout's tag |
//! | 8 | `version`, little-endian |
//! | 8 | `created_at` (ms since the Unix epoch), little-endian |
//! | 8 | `last_active` (ms), little-endian |
//! | 8 | `expires_at` (ms), little-endian |
//! | rest | `data`, as a JSON object |
//!
//! Only this layout opens: the JSON envelope that development versions of this driver sealed
//! was never released, and a cookie holding it reads as no session.

use serde_json::{Map, Value};
use session_core::Record;

/// The tag of the layout above; a plaintext with another first byte is no record.
const COMPACT: u8 = 1;
const HEAD: usize = 1 + 4 * 8;
/// Room for a small session's plaintext: the frame and 64 bytes of JSON.
pub(crate) const TYPICAL_LEN: usize = HEAD + 64;

/// Appends the plaintext for `record` to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, record: &Record) {
    out.push(COMPACT);
    out.extend_from_slice(&record.version.to_le_bytes());
    out.extend_from_slice(&record.created_at.to_le_bytes());
    out.extend_from_slice(&record.last_active.to_le_bytes());
    out.extend_from_slice(&record.expires_at.to_le_bytes());
    // Serializing a map of JSON values into a vector cannot fail.
    let _ = serde_json::to_writer(out, &record.data);
}

/// The record in a plaintext written by [`encode_into`]. Anything else (another tag, a truncated
/// head, data that is not a JSON object) is `None`.
pub(crate) fn decode(plain: &[u8]) -> Option<Record> {
    match *plain.first()? {
        COMPACT => {
            let word = |i: usize| -> Option<u64> {
                let bytes = plain.get(1 + 8 * i..1 + 8 * (i + 1))?;
                Some(u64::from_le_bytes(bytes.try_into().ok()?))
            };
            let data: Map<String, Value> = serde_json::from_slice(plain.get(HEAD..)?).ok()?;
            let mut record = Record::new(data, word(1)?, word(3)?);
            record.version = word(0)?;
            record.last_active = word(2)?;
            Some(record)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn encode(record: &Record) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, record);
        out
    }

    #[test]
    fn encoding_appends_after_what_the_buffer_holds() {
        let mut out = b"head".to_vec();
        encode_into(&mut out, &record());
        assert_eq!(&out[..4], b"head");
        assert_eq!(decode(&out[4..]), Some(record()));
    }

    fn record() -> Record {
        let Value::Object(data) = json!({"cart": [1, 2], "user": {"name": "ada"}, "__flash__": {}})
        else {
            unreachable!()
        };
        let mut record = Record::new(data, 1_764_000_000_000, 1_764_007_200_000);
        record.version = 7;
        record.last_active = 1_764_000_123_456;
        record
    }

    #[test]
    fn a_record_round_trips_and_its_frame_is_33_bytes() {
        let record = record();
        let plain = encode(&record);
        assert_eq!(decode(&plain), Some(record.clone()));
        let data = serde_json::to_vec(&record.data).expect("json");
        assert_eq!(plain.len(), 33 + data.len());
        assert!(
            plain.len() + 55 < record.encode().len(),
            "smaller than the JSON envelope"
        );
    }

    #[test]
    fn the_record_json_envelope_is_no_plaintext() {
        assert_eq!(decode(&record().encode()), None);
    }

    #[test]
    fn anything_else_is_no_record() {
        let plain = encode(&record());
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&plain[..32]), None, "truncated head");
        assert_eq!(decode(&plain[..plain.len() - 1]), None, "truncated data");
        let mut other = plain.clone();
        other[0] = 2;
        assert_eq!(decode(&other), None, "unknown tag");
        let mut list = plain[..33].to_vec();
        list.extend_from_slice(b"[1,2]");
        assert_eq!(decode(&list), None, "data that is not an object");
    }

    /// Found by the `record_decode_cookie` fuzz target (the crashing input, as it was): the
    /// float `-1.5e86` decoded one ulp off, and the record then changed on every re-seal.
    #[test]
    fn a_decoded_record_seals_back_unchanged() {
        let mut plain = vec![1];
        plain.extend_from_slice(&u64::MAX.to_le_bytes());
        plain.extend_from_slice(&1_764_000_000_000u64.to_le_bytes());
        plain.extend_from_slice(&u64::MAX.to_le_bytes());
        plain.extend_from_slice(&1_764_007_200_000u64.to_le_bytes());
        plain.extend_from_slice(
            br#"{"n":-1.5e86,"s":"\u00fcn\u00efc\u00f8d\u00001","deep":{"a":[[],{},null,true]}}"#,
        );
        let record = decode(&plain).expect("a valid plaintext");
        assert_eq!(record.data["n"].as_f64(), Some(-1.5e86));
        let again = decode(&encode(&record)).expect("its encoding decodes");
        assert_eq!(again, record);
        assert_eq!(encode(&again), encode(&record));
    }

    proptest! {
        #[test]
        fn any_record_round_trips(
            version: u64,
            created_at: u64,
            last_active: u64,
            expires_at: u64,
            entries in proptest::collection::btree_map("[a-z_.]{0,8}", any::<i64>(), 0..6),
        ) {
            let data: Map<String, Value> =
                entries.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            let mut record = Record::new(data, created_at, expires_at);
            record.version = version;
            record.last_active = last_active;
            prop_assert_eq!(decode(&encode(&record)), Some(record));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
