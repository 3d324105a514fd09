//! The stored value of a session: `s2:<version>:<active>:<expires>:<record>`, each number in 20
//! decimal digits (see `scripts.rs` for why one string, and what the scripts do with it).

use session_core::Record;

/// The header's tag, the first bytes of every value this driver writes. (`s1:` was an earlier
/// development layout whose header held the creation time instead of the expiry.)
pub(crate) const TAG: &[u8] = b"s2:";

/// Digits of each number in the header: any `u64` fits in 20.
pub(crate) const DIGITS: usize = 20;

/// Where the activity mark starts (0-based, as `SETRANGE` counts), followed by `:` and the expiry:
/// a refresh rewrites both with one `SETRANGE`. The scripts hold it as `ACTIVE_AT`, which a test
/// compares with this.
#[cfg(test)]
pub(crate) const ACTIVE_AT: usize = TAG.len() + DIGITS + 1;

/// The header's size: the tag and three numbers, each followed by `:`.
pub(crate) const HEAD: usize = TAG.len() + 3 * (DIGITS + 1);

/// What the header of a stored value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) version: u64,
    pub(crate) active: u64,
    pub(crate) expires: u64,
}

/// `n` in the header's [`DIGITS`] zero-padded decimal digits, as the header stores it and the
/// scripts take a version or a time to compare or to store.
pub(crate) fn number(mut n: u64) -> [u8; DIGITS] {
    let mut digits = [b'0'; DIGITS];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

/// The bytes a refresh writes at the activity mark: `<active>:<expires>`, in the header's digits.
pub(crate) fn times(active: u64, expires: u64) -> [u8; 2 * DIGITS + 1] {
    let mut out = [b':'; 2 * DIGITS + 1];
    out[..DIGITS].copy_from_slice(&number(active));
    out[DIGITS + 1..].copy_from_slice(&number(expires));
    out
}

/// The value stored for `record`: the header, then the record's encoding, in one allocation for
/// a small session.
pub(crate) fn value(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + 192);
    out.extend_from_slice(TAG);
    for n in [record.version, record.last_active, record.expires_at] {
        out.extend_from_slice(&number(n));
        out.push(b':');
    }
    record.encode_into(&mut out);
    out
}

/// The header of a stored value and the encoded record after it; `None` for a value this driver
/// did not write. The scripts' `head` checks the same shape (tag, 20 digits, separators); a
/// number beyond `u64` passes there but not here, where it reads as no session.
pub(crate) fn split(stored: &[u8]) -> Option<(Head, &[u8])> {
    if stored.len() < HEAD || !stored.starts_with(TAG) {
        return None;
    }
    let field = |i: usize| {
        let at = TAG.len() + i * (DIGITS + 1);
        let digits = &stored[at..at + DIGITS];
        if stored[at + DIGITS] != b':' || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    };
    let head = Head {
        version: field(0)?,
        active: field(1)?,
        expires: field(2)?,
    };
    Some((head, &stored[HEAD..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_splits_back_into_its_header_and_record() {
        let mut record = Record::new(Default::default(), 1_764_000_000_123, 1_764_007_200_999);
        record.version = u64::MAX;
        record.last_active = 1_764_000_000_999;
        record.data.insert("n".into(), serde_json::json!(7));
        let stored = value(&record);
        assert_eq!(
            std::str::from_utf8(&stored[..HEAD]).expect("ASCII"),
            "s2:18446744073709551615:00000001764000000999:00000001764007200999:"
        );
        let (head, rest) = split(&stored).expect("our own value");
        assert_eq!(
            head,
            Head {
                version: u64::MAX,
                active: 1_764_000_000_999,
                expires: 1_764_007_200_999,
            }
        );
        assert_eq!(Record::decode(rest), Some(record));
        assert_eq!(
            &stored[ACTIVE_AT..HEAD - 1],
            &times(1_764_000_000_999, 1_764_007_200_999)
        );
    }

    #[test]
    fn a_refresh_rewrites_the_activity_mark_and_the_expiry_in_place() {
        let record = Record::new(Default::default(), 5_000, 65_000);
        let mut stored = value(&record);
        let new = times(9_000, 69_000);
        stored[ACTIVE_AT..ACTIVE_AT + new.len()].copy_from_slice(&new);
        let (head, rest) = split(&stored).expect("still our value");
        assert_eq!((head.active, head.expires), (9_000, 69_000));
        assert_eq!(
            Record::decode(rest),
            Some(record),
            "the record is untouched"
        );
    }

    #[test]
    fn anything_else_has_no_header() {
        let good = value(&Record::new(Default::default(), 5, 10));
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"not a session".to_vec(),
            good[..HEAD - 1].to_vec(),
            [b"s1:", &good[3..]].concat(),
        ];
        for at in [3, 10, 22, 23, 44, 65] {
            let mut bad = good.clone();
            bad[at] = b'x';
            cases.push(bad);
        }
        // 20 digits over u64::MAX.
        let mut over = good.clone();
        over[3..23].copy_from_slice(b"99999999999999999999");
        cases.push(over);
        for case in cases {
            assert_eq!(split(&case), None, "{:?}", String::from_utf8_lossy(&case));
        }
        assert!(split(&good).is_some());
    }
}
