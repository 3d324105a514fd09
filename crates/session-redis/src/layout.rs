//! The stored value of a session: `s3<version><active><expires><created><data>`, each number in
//! 12 lowercase hex digits, the data as JSON (see `scripts.rs` for why one string, and what the
//! scripts do with it).

use serde_json::{Map, Value};
use session_core::{Record, TAG_KEY};

/// The header's tag, the first bytes of every value this driver writes. (`s1:` and `s2:` were
/// earlier development layouts, which repeated the numbers in a JSON envelope after the header;
/// such a value reads as no session, and its key expires with its TTL.)
pub(crate) const TAG: &[u8] = b"s3";

/// Hex digits of each number in the header: 48 bits. Times in ms since the Unix epoch fit until
/// the year 10889; a version counts writes and wraps at 2⁴⁸ (it is only compared for equality,
/// and the driver sends versions in the same 48 bits). Twelve digits instead of sixteen keep a
/// small session's value under 64 bytes, one allocation size class of Redis's allocator lower.
pub(crate) const DIGITS: usize = 12;

/// The numbers the header holds: their low 48 bits.
const MASK: u64 = (1 << (4 * DIGITS)) - 1;

/// Where the activity mark starts (0-based, as `SETRANGE` counts), followed by the expiry: a
/// refresh rewrites both with one `SETRANGE`. The scripts hold it as `ACTIVE_AT`, which a test
/// compares with this.
#[cfg(test)]
pub(crate) const ACTIVE_AT: usize = TAG.len() + DIGITS;

/// Where the expiry starts (0-based).
#[cfg(test)]
pub(crate) const EXPIRES_AT: usize = ACTIVE_AT + DIGITS;

/// The header's size: the tag and four numbers.
pub(crate) const HEAD: usize = TAG.len() + 4 * DIGITS;

/// `n` in the header's [`DIGITS`] zero-padded lowercase hex digits, as the header stores it and
/// the scripts take a version or a time to compare or to store (zero-padded to one width,
/// lowercase hex numbers compare as text the way they compare as numbers).
pub(crate) fn number(n: u64) -> [u8; DIGITS] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = n & MASK;
    let mut digits = [b'0'; DIGITS];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((n >> (4 * (DIGITS - 1 - i))) & 0xf) as usize];
    }
    digits
}

/// A version as the header stores it (its low 48 bits), as a tag's index scores it.
pub(crate) fn stored_version(version: u64) -> u64 {
    version & MASK
}

/// The bytes a refresh writes at the activity mark: `<active><expires>`, in the header's digits.
pub(crate) fn times(active: u64, expires: u64) -> [u8; 2 * DIGITS] {
    let mut out = [0u8; 2 * DIGITS];
    out[..DIGITS].copy_from_slice(&number(active));
    out[DIGITS..].copy_from_slice(&number(expires));
    out
}

/// The value stored for `record`: the header, then the data as JSON, in one allocation for a
/// small session. Each number is stored once, in the header.
pub(crate) fn value(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + 64);
    out.extend_from_slice(TAG);
    for n in [
        record.version,
        record.last_active,
        record.expires_at,
        record.created_at,
    ] {
        out.extend_from_slice(&number(n));
    }
    // Serializing a map of JSON values cannot fail; if it ever did, the value would hold no
    // data and read as no session (the JSON is checked on read).
    if write_data(&mut out, &record.data).is_err() {
        out.truncate(HEAD);
    }
    out
}

/// The data as a JSON object; a tagged record's tag goes first, its value first in it, so that
/// the value starts with [`tag_start`] of its tag (see `tags.rs`). Any other record's data is
/// written as it is. (With serde_json's `preserve_order`, the order of the other entries is kept;
/// the order of a map's entries never changes what it means.)
fn write_data(out: &mut Vec<u8>, data: &Map<String, Value>) -> serde_json::Result<()> {
    let tag = match data.get(TAG_KEY) {
        Some(Value::Object(tag)) if matches!(tag.get("value"), Some(Value::String(_))) => tag,
        _ => return serde_json::to_writer(out, data),
    };
    out.extend_from_slice(TAG_OPENING);
    serde_json::to_writer(&mut *out, &tag["value"])?;
    for (name, value) in tag.iter().filter(|(name, _)| *name != "value") {
        entry(out, name, value)?;
    }
    out.push(b'}');
    for (name, value) in data.iter().filter(|(name, _)| *name != TAG_KEY) {
        entry(out, name, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// `,"name":value`, as serde_json writes a map's entry after the first.
fn entry(out: &mut Vec<u8>, name: &str, value: &Value) -> serde_json::Result<()> {
    out.push(b',');
    serde_json::to_writer(&mut *out, name)?;
    out.push(b':');
    serde_json::to_writer(&mut *out, value)
}

/// How the data of a record tagged with anything starts.
const TAG_OPENING: &[u8] = b"{\"__tag__\":{\"value\":";

/// How the stored value of a record tagged `tag` goes on after the header: the JSON object's
/// first entry is the tag, whose first entry is its value. This is only ever the top-level tag (a
/// JSON object's first entry is at its very start), and the string's closing quote ends the
/// match (the quotes inside a JSON string are escaped), so a stored value continuing with this is
/// tagged `tag` and nothing else: the conditional write of a tagged record compares it, in its
/// script, to know that the record it replaces already carried the same tag.
pub(crate) fn tag_start(tag: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(TAG_OPENING.len() + tag.len() + 2);
    out.extend_from_slice(TAG_OPENING);
    // Serializing a string cannot fail.
    let _ = serde_json::to_writer(&mut out, tag);
    out
}

/// The record a stored value holds; `None` for a value this driver did not write (another tag,
/// a header that is not 48 lowercase hex digits, data that is not a JSON object). The scripts'
/// `head` checks the tag and the length.
pub(crate) fn decode(stored: &[u8]) -> Option<Record> {
    if stored.len() < HEAD || !stored.starts_with(TAG) {
        return None;
    }
    let field = |i: usize| {
        let at = TAG.len() + i * DIGITS;
        stored[at..at + DIGITS].iter().try_fold(0u64, |n, &d| {
            let digit = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                _ => return None,
            };
            Some(n << 4 | u64::from(digit))
        })
    };
    let data: Map<String, Value> = serde_json::from_slice(&stored[HEAD..]).ok()?;
    let mut record = Record::new(data, field(3)?, field(2)?);
    record.version = field(0)?;
    record.last_active = field(1)?;
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_holds_each_number_once_and_decodes_back() {
        let mut record = Record::new(Default::default(), 1_764_000_000_123, 1_764_007_200_999);
        record.version = MASK;
        record.last_active = 1_764_000_000_999;
        record.data.insert("n".into(), serde_json::json!(1));
        let stored = value(&record);
        assert_eq!(
            std::str::from_utf8(&stored).expect("ASCII"),
            "s3ffffffffffff019ab697ebe7019ab705c8e7019ab697e87b{\"n\":1}"
        );
        assert_eq!(stored.len(), HEAD + 7);
        assert_eq!(decode(&stored), Some(record.clone()));
        // A version past 48 bits wraps (it is only compared for equality).
        record.version = MASK + 2;
        assert_eq!(decode(&value(&record)).map(|r| r.version), Some(1));
        assert_eq!(
            &stored[ACTIVE_AT..ACTIVE_AT + 2 * DIGITS],
            &times(1_764_000_000_999, 1_764_007_200_999)
        );
        assert_eq!(
            &stored[EXPIRES_AT..EXPIRES_AT + DIGITS],
            &number(1_764_007_200_999)
        );
    }

    #[test]
    fn a_refresh_rewrites_the_activity_mark_and_the_expiry_in_place() {
        let mut record = Record::new(Default::default(), 5_000, 65_000);
        record.data.insert("cart".into(), serde_json::json!([1, 2]));
        let mut stored = value(&record);
        let new = times(9_000, 69_000);
        stored[ACTIVE_AT..ACTIVE_AT + new.len()].copy_from_slice(&new);
        let read = decode(&stored).expect("still our value");
        assert_eq!((read.last_active, read.expires_at), (9_000, 69_000));
        assert_eq!((read.created_at, read.data), (5_000, record.data));
    }

    #[test]
    fn a_tagged_record_starts_with_its_tag() {
        let mut record = Record::new(Default::default(), 5_000, 65_000);
        record.data.insert("cart".into(), serde_json::json!([1, 2]));
        record.data.insert(
            TAG_KEY.into(),
            serde_json::json!({ "at": 4_000, "value": "ada \"the\" \u{e9}", "x": null }),
        );
        record.data.insert("n".into(), serde_json::json!(1));
        let stored = value(&record);
        let start = tag_start("ada \"the\" \u{e9}");
        assert_eq!(
            std::str::from_utf8(&start).expect("UTF-8"),
            "{\"__tag__\":{\"value\":\"ada \\\"the\\\" \u{e9}\""
        );
        assert_eq!(
            std::str::from_utf8(&stored[HEAD..]).expect("UTF-8"),
            "{\"__tag__\":{\"value\":\"ada \\\"the\\\" \u{e9}\",\"at\":4000,\"x\":null},\
             \"cart\":[1,2],\"n\":1}"
        );
        assert_eq!(decode(&stored), Some(record.clone()), "the same record");
        assert_eq!(
            decode(&stored)
                .and_then(|r| r.tag().map(str::to_owned))
                .as_deref(),
            record.tag()
        );
        // A prefix of the tag, or a longer one, does not match: the closing quote is compared.
        assert!(!stored[HEAD..].starts_with(&tag_start("ada")));
        let longer = tag_start("ada \"the\" \u{e9}!");
        assert!(!stored[HEAD..].starts_with(&longer));

        // Untagged records, or a tag of another shape, are written as they are.
        for tag in [serde_json::json!("ada"), serde_json::json!({ "value": 7 })] {
            let mut other = Record::new(Default::default(), 5_000, 65_000);
            other.data.insert("n".into(), serde_json::json!(1));
            other.data.insert(TAG_KEY.into(), tag);
            let stored = value(&other);
            assert_eq!(
                &stored[HEAD..],
                serde_json::to_vec(&other.data).expect("JSON").as_slice()
            );
            assert!(!stored[HEAD..].starts_with(TAG_OPENING));
        }
        // A nested `__tag__` is not the record's tag.
        let mut nested = Record::new(Default::default(), 5_000, 65_000);
        nested.data.insert(
            "x".into(),
            serde_json::json!({ "__tag__": { "value": "ada" } }),
        );
        assert!(!value(&nested)[HEAD..].starts_with(&tag_start("ada")));
    }

    #[test]
    fn anything_else_is_no_record() {
        let good = value(&Record::new(Default::default(), 5, 10));
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a session".to_vec(),
            good[..HEAD - 1].to_vec(),
            [b"s2", &good[2..]].concat(),
            [&good[..HEAD], b"[1]".as_slice()].concat(),
            [&good[..HEAD], b"{".as_slice()].concat(),
        ];
        for at in [2, 13, 14, 30, 49] {
            for bad in [b'x', b'A'] {
                let mut case = good.clone();
                case[at] = bad;
                cases.push(case);
            }
        }
        for case in cases {
            assert_eq!(decode(&case), None, "{:?}", String::from_utf8_lossy(&case));
        }
        assert!(decode(&good).is_some());
    }
}
