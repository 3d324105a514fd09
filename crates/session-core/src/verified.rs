//! Id cookies this manager verified lately.
//!
//! Verifying an id cookie costs its MAC (HMAC-SHA256) and the storage key's hash (SHA-256),
//! together about 0.4 µs, on every request that brings one. A browser sends the same value on
//! every request of its session, so the manager keeps the values it verified in a fixed table: a
//! value equal, byte for byte, to one that verified before is the same signed id, and its id and
//! storage key are taken from the table.
//!
//! - Only values whose MAC verified are ever stored, and the keys of a manager do not change, so
//!   a value found in the table would verify again. A forged or tampered value is never stored;
//!   it can only match a stored value by being equal to it, that is, by being a genuine cookie.
//! - The comparison looks at every byte whatever the first difference, so its time does not tell
//!   how much of a stored cookie a guess matched.
//! - The slot comes from characters of the MAC, which are uniformly distributed for genuine
//!   cookies. A client can choose the slot its value lands in; that gains it nothing but the same
//!   comparison, and evicting another session's entry only costs that session one verification.
//! - The table is fixed in size ([`SLOTS`] entries of about 140 bytes, allocated with the
//!   manager); a value landing in an occupied slot replaces the entry. It never grows.

use std::fmt;
use std::sync::Mutex;

use crate::id::{IdSigner, SessionId, SignedId, StorageKey, ENCODED_LEN, KEY_LEN, SIGNED_LEN};

/// Entries in the table.
pub(crate) const SLOTS: usize = 1024;

#[derive(Clone, Copy)]
struct Entry {
    /// The whole cookie value: the id, a dot, the MAC. All zero while the slot is empty, which
    /// no value of [`SIGNED_LEN`] characters of the cookie alphabet can equal.
    value: [u8; SIGNED_LEN],
    /// The storage key derived from the id.
    key: [u8; KEY_LEN],
    /// Whether the current (first) key made the MAC: the value is then what signing the id
    /// gives, and can be sent back as it is.
    current: bool,
}

const EMPTY: Entry = Entry {
    value: [0; SIGNED_LEN],
    key: [0; KEY_LEN],
    current: false,
};

/// The table of verified id cookie values of one manager.
pub(crate) struct VerifiedIds {
    slots: Box<[Mutex<Entry>]>,
}

impl fmt::Debug for VerifiedIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The entries are live ids: only the size is ever printed.
        f.debug_struct("VerifiedIds")
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Default for VerifiedIds {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| Mutex::new(EMPTY)).collect(),
        }
    }
}

/// The slot of a value of [`SIGNED_LEN`] bytes: eight characters of its MAC, Fibonacci-hashed.
fn slot_of(value: &[u8]) -> usize {
    let mut word = [0u8; 8];
    // The MAC is the value's last 43 characters.
    word.copy_from_slice(&value[SIGNED_LEN - ENCODED_LEN..SIGNED_LEN - ENCODED_LEN + 8]);
    let bits = SLOTS.trailing_zeros();
    (u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// Whether `a` and `b` are equal, looking at every byte whatever the first difference: the time
/// it takes depends on their lengths only, not on how long a prefix they share (`subtle`'s
/// `ConstantTimeEq`, which keeps the optimizer from ending the loop early). For comparing a value
/// a client sent with a secret or with another client's value.
///
/// ```
/// use session_core::constant_time_eq;
///
/// assert!(constant_time_eq(b"a stored token", b"a stored token"));
/// assert!(!constant_time_eq(b"a stored token", b"a stored tokeN"));
/// assert!(!constant_time_eq(b"a stored token", b"a stored"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;

    a.ct_eq(b).into()
}

impl VerifiedIds {
    /// The id and storage key of a signed id cookie value: from the table when this exact value
    /// verified before, otherwise by verifying its MAC with `signer` (and then remembered).
    pub(crate) fn verify(&self, signer: &IdSigner, value: &str) -> Option<(SignedId, StorageKey)> {
        let bytes = value.as_bytes();
        if bytes.len() == SIGNED_LEN {
            let entry = self.slots[slot_of(bytes)]
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if constant_time_eq(&entry.value, bytes) {
                // Equal to a verified value: ASCII, with the id in its first 43 characters.
                let signed = SignedId {
                    id: SessionId::verified(value.get(..ENCODED_LEN)?),
                    kind: IdSigner::kind_of(value),
                    stamp: IdSigner::stamp_of(value),
                    current: entry.current,
                };
                let key = StorageKey::derived(std::str::from_utf8(&entry.key).ok()?);
                return Some((signed, key));
            }
        }
        let signed = signer.verify_signed(value)?;
        let key = signed.id.storage_key();
        if bytes.len() == SIGNED_LEN {
            self.store(bytes, &key, signed.current);
        }
        Some((signed, key))
    }

    /// Records `value`, which this manager's signer just made for the id whose storage key is
    /// `key`: the request that brings it back is answered from the table. The caller vouches
    /// for both; a value or key of another length is ignored.
    pub(crate) fn remember(&self, value: &str, key: &StorageKey) {
        if value.len() == SIGNED_LEN && key.as_str().len() == KEY_LEN {
            self.store(value.as_bytes(), key, true);
        }
    }

    fn store(&self, value: &[u8], key: &StorageKey, current: bool) {
        let mut entry = self.slots[slot_of(value)]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        entry.value.copy_from_slice(value);
        entry.key.copy_from_slice(key.as_str().as_bytes());
        entry.current = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{KeyRing, SecretKey};

    fn signer(key: u8) -> IdSigner {
        KeyRing::new(vec![SecretKey::new([key; 32]).expect("key")])
            .expect("ring")
            .id_signer("id")
    }

    #[test]
    fn a_value_verified_once_is_answered_from_the_table_with_the_same_id_and_key() {
        let table = VerifiedIds::default();
        let signer = signer(1);
        let id = SessionId::generate();
        let value = signer.sign(&id);
        let first = table.verify(&signer, &value).expect("verifies");
        assert_eq!(
            (first.0.id.clone(), first.1.clone()),
            (id.clone(), id.storage_key())
        );
        // Now in the table: a signer with another key would reject it, the table does not ask.
        let other = self::signer(2);
        assert!(other.verify(&value).is_none());
        assert_eq!(table.verify(&other, &value), Some(first));
    }

    #[test]
    fn a_value_remembered_when_signed_is_answered_from_the_table() {
        let table = VerifiedIds::default();
        let signer = signer(1);
        let other = self::signer(2);
        let id = SessionId::generate();
        let value = signer.sign(&id);
        assert!(
            table.verify(&other, &value).is_none(),
            "not in the table yet"
        );
        table.remember(&value, &id.storage_key());
        assert_eq!(
            table.verify(&other, &value).map(|(s, k)| (s.id, k)),
            Some((id.clone(), id.storage_key()))
        );
        // What cannot be a signed value and a storage key is not stored.
        let empty = VerifiedIds::default();
        empty.remember("short", &id.storage_key());
        empty.remember(&value, &StorageKey::derived("short"));
        assert!(empty.slots.iter().all(|s| {
            let e = s.lock().expect("lock");
            e.value == EMPTY.value && e.key == EMPTY.key
        }));
    }

    #[test]
    fn the_table_tells_which_values_carry_the_current_keys_mac() {
        let old = SecretKey::new([1; 32]).expect("key");
        let new = SecretKey::new([2; 32]).expect("key");
        let before = KeyRing::new(vec![old.clone()])
            .expect("ring")
            .id_signer("id");
        let rotated = KeyRing::new(vec![new, old]).expect("ring").id_signer("id");
        let table = VerifiedIds::default();

        let by_old = before.sign(&SessionId::generate());
        let by_new = rotated.sign(&SessionId::generate());
        let current = |value: &str, signer: &IdSigner| {
            table
                .verify(signer, value)
                .map(|(signed, _)| signed.current)
        };
        assert_eq!(current(&by_old, &rotated), Some(false), "signed again");
        assert_eq!(current(&by_new, &rotated), Some(true));
        // Now answered from the table, which kept the flag: `before` knows neither key's MAC
        // for `by_new`.
        assert_eq!(current(&by_new, &before), Some(true));
        assert_eq!(current(&by_old, &before), Some(false));

        let id = SessionId::generate();
        let signed_here = rotated.sign(&id);
        table.remember(&signed_here, &id.storage_key());
        assert_eq!(current(&signed_here, &before), Some(true));
    }

    #[test]
    fn a_value_that_differs_from_a_stored_one_anywhere_is_verified_and_rejected() {
        let table = VerifiedIds::default();
        let signer = signer(1);
        let value = signer.sign(&SessionId::generate());
        assert!(table.verify(&signer, &value).is_some());
        for i in 0..value.len() {
            let mut tampered = value.clone().into_bytes();
            tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).expect("ascii");
            assert!(table.verify(&signer, &tampered).is_none(), "position {i}");
            // A rejected value is not stored: the genuine one is still answered.
            assert!(
                table.verify(&self::signer(2), &value).is_some(),
                "position {i}"
            );
        }
    }

    #[test]
    fn forged_values_are_never_stored() {
        let table = VerifiedIds::default();
        let signer = signer(1);
        let forged = format!("{}.{}", SessionId::generate().expose(), "A".repeat(43));
        assert!(table.verify(&signer, &forged).is_none());
        assert!(table.slots.iter().all(|s| {
            let e = s.lock().expect("lock");
            e.value == EMPTY.value && e.key == EMPTY.key
        }));
        assert!(table.verify(&signer, "short").is_none());
    }

    #[test]
    fn a_value_landing_in_an_occupied_slot_replaces_it() {
        let table = VerifiedIds::default();
        let signer = signer(1);
        let first = signer.sign(&SessionId::generate());
        let slot = slot_of(first.as_bytes());
        let second = loop {
            let v = signer.sign(&SessionId::generate());
            if slot_of(v.as_bytes()) == slot {
                break v;
            }
        };
        assert!(table.verify(&signer, &first).is_some());
        assert!(table.verify(&signer, &second).is_some());
        // The first was replaced: without its key it no longer verifies.
        assert!(table.verify(&self::signer(2), &first).is_none());
        assert!(table.verify(&self::signer(2), &second).is_some());
    }

    #[test]
    fn the_comparison_needs_every_byte_and_the_length() {
        let a = [b'x'; SIGNED_LEN];
        assert!(constant_time_eq(&a, &a));
        for i in 0..SIGNED_LEN {
            let mut b = a;
            b[i] = b'y';
            assert!(!constant_time_eq(&a, &b), "position {i}");
        }
        assert!(!constant_time_eq(&a, &a[..SIGNED_LEN - 1]));
        assert!(!constant_time_eq(&EMPTY.value, &a));
    }

    #[test]
    fn slots_spread_over_the_table() {
        let signer = signer(3);
        let mut used = vec![false; SLOTS];
        for _ in 0..4 * SLOTS {
            used[slot_of(signer.sign(&SessionId::generate()).as_bytes())] = true;
        }
        // 4096 draws over 1024 slots leave about 2% empty.
        assert!(used.iter().filter(|u| **u).count() > SLOTS * 9 / 10);
    }
}
